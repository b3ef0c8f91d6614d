"""Security headers on the HTML pages (no inline script anywhere, frames only for the web chat
room), and /metrics only with its bearer token or from this machine."""

import re
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from webhooks.app import create_app

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
TOKEN = "headers-admin-token-0123456789"
METRICS_TOKEN = "metrics-token-0123456789"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def make_app(database_url: str, engine: AsyncEngine, clock: FakeClock, **settings: object):  # type: ignore[no-untyped-def]
    return create_app(
        test_settings(database_url, livebuy_admin_token=TOKEN, **settings),
        engine=engine,
        clock=clock,
        payments=FakePaymentGateway(),
        webhook_secret="whsec_test",
        sweep_every=3600,
    )


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with TestClient(TestServer(make_app(database_url, engine, clock))) as client:
        yield client


def policy(response: aiohttp.ClientResponse) -> dict[str, str]:
    csp = response.headers["Content-Security-Policy"]
    return {d.split()[0]: " ".join(d.split()[1:]) for d in csp.split(";") if d.strip()}


async def test_html_pages_carry_the_security_headers(client: TestClient) -> None:  # type: ignore[type-arg]
    signed_in = await client.post("/dashboard/login", data={"token": TOKEN})
    assert signed_in.status == 200
    pages = [signed_in]
    for path in ("/dashboard/login", "/dashboard/shows", "/checkout/cancelled", "/chat/demo"):
        response = await client.get(path)
        assert response.status == 200, path
        pages.append(response)
    for response in pages:
        where = response.url.path
        assert response.content_type == "text/html", where
        assert response.headers["X-Content-Type-Options"] == "nosniff", where
        assert response.headers["Referrer-Policy"] == "same-origin", where
        directives = policy(response)
        assert directives["script-src"] == "'self'", where
        assert "unsafe-inline" not in directives.get("default-src", ""), where
        body = await response.text()
        assert not INLINE_SCRIPT.search(body), f"{where} has an inline script"
        assert not INLINE_HANDLER.search(body), f"{where} has an inline event handler"
        if where.startswith("/chat/"):  # shops embed the room in their own pages
            assert directives["frame-ancestors"] == "*"
            assert "X-Frame-Options" not in response.headers
        else:
            assert directives["frame-ancestors"] == "'none'", where
            assert response.headers["X-Frame-Options"] == "DENY", where

    # The scripts those pages load are served from here, as JavaScript that is not sniffed.
    for path in ("/chat/chat.js", "/dashboard/static/dashboard.js"):
        script = await client.get(path)
        assert script.status == 200 and "javascript" in script.content_type, path
        assert script.headers["X-Content-Type-Options"] == "nosniff"
    assert "document.body.dataset.room" in await (await client.get("/chat/chat.js")).text()


async def test_redirects_and_errors_carry_them_too(client: TestClient) -> None:  # type: ignore[type-arg]
    redirect = await client.get("/dashboard", allow_redirects=False)
    assert redirect.status == 303
    assert redirect.headers["X-Content-Type-Options"] == "nosniff"
    assert redirect.headers["Referrer-Policy"] == "same-origin"
    wrong = await client.post("/dashboard/login", data={"token": "x" * 30})
    assert wrong.status == 403 and policy(wrong)["frame-ancestors"] == "'none'"


async def test_metrics_are_refused_to_a_client_behind_a_proxy(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    """A reverse proxy on this machine connects from loopback on behalf of someone else."""
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    app = make_app(database_url, engine, clock)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/metrics")).status == 200  # this machine
        assert (await client.get("/metrics", headers=forwarded)).status == 403
        assert (
            await client.get("/metrics", headers={"Forwarded": "for=203.0.113.9"})
        ).status == 403

    app = make_app(database_url, engine, clock, livebuy_metrics_token=METRICS_TOKEN)
    async with TestClient(TestServer(app)) as client:
        refused = await client.get("/metrics", headers=forwarded)
        assert refused.status == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
        wrong = forwarded | {"Authorization": "Bearer " + METRICS_TOKEN[:-1] + "x"}
        assert (await client.get("/metrics", headers=wrong)).status == 401
        right = forwarded | {"Authorization": f"Bearer {METRICS_TOKEN}"}
        allowed = await client.get("/metrics", headers=right)
        assert allowed.status == 200 and "livebuy_claims" in await allowed.text()


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address  # noqa: S104


async def test_metrics_over_a_non_loopback_interface_need_the_token(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    app = make_app(database_url, engine, clock, livebuy_metrics_token=METRICS_TOKEN)
    server = TestServer(app, host="0.0.0.0")  # noqa: S104 (the point of the test)
    async with server, aiohttp.ClientSession() as http:
        url = f"http://{address}:{server.port}/metrics"
        async with http.get(url) as refused:
            assert refused.status == 401
        async with http.get(url, headers={"Authorization": "Bearer wrong"}) as wrong:
            assert wrong.status == 401
        async with http.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}) as ok:
            assert ok.status == 200 and "livebuy_orders" in await ok.text()
        # Over loopback, this machine reads them without the token.
        async with http.get(f"http://127.0.0.1:{server.port}/metrics") as local:
            assert local.status == 200
