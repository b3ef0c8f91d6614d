"""Dashboard sessions live in the database: signing out, `livebuy admin sessions revoke`, the
idle timeout and the maximum life end them for every route; wrong tokens are throttled per
client; short admin tokens are refused; the cookie is Secure behind https. Both databases."""

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.app_settings import admin_token
from commerce.adapters.dashboard_sessions import digest
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.fakes import FakeClock, FakePaymentGateway
from webhooks.app import create_app
from webhooks.dashboard.auth import COOKIE

TOKEN = "sessions-admin-token-0123456789"
JSON = {"Accept": "application/json"}
LIVEBUY = Path(sys.executable).parent / "livebuy"
Client = TestClient  # type: ignore[type-arg]


@pytest.fixture
def clock() -> FakeClock:
    # Real time: the CLI, which has no fake clock, looks at the same sessions.
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


def make_client(
    database_url: str, engine: AsyncEngine, clock: FakeClock, **settings: object
) -> TestClient:  # type: ignore[type-arg]
    app = create_app(
        test_settings(database_url, livebuy_admin_token=TOKEN, **settings),
        engine=engine,
        clock=clock,
        payments=FakePaymentGateway(),
        webhook_secret="whsec_test",
        sweep_every=3600,
    )
    return TestClient(TestServer(app))


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    async with make_client(database_url, engine, clock) as client:
        yield client


async def sign_in(client: Client) -> tuple[str, str]:
    """Signs in; returns the session cookie and the page's CSRF token."""
    response = await client.post(
        "/dashboard/login", data={"token": TOKEN}, headers={"User-Agent": "pytest-browser/1.0"}
    )
    assert response.status == 200 and str(response.url).endswith("/dashboard")
    match = re.search(r'data-csrf="([0-9a-f]+)"', await response.text())
    assert match is not None
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/dashboard"))[COOKIE]
    return cookie.value, match.group(1)


async def refused_everywhere(client: Client, cookie: str) -> None:
    """With this cookie (and no other), every dashboard route sends the browser to sign in."""
    client.session.cookie_jar.clear()
    sent = {"Cookie": f"{COOKIE}={cookie}"}
    page = await client.get("/dashboard", headers=sent, allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/dashboard/login"
    for path in ("/dashboard/state", "/dashboard/events", "/dashboard/orders.csv"):
        response = await client.get(path, headers=sent | JSON, allow_redirects=False)
        assert response.status == 401, path
    shows = await client.get("/dashboard/shows", headers=sent, allow_redirects=False)
    assert shows.status == 303


async def test_signing_out_ends_the_session_for_every_route(
    client: Client, engine: AsyncEngine
) -> None:
    cookie, csrf = await sign_in(client)
    async with engine.connect() as conn:
        stored = [h for (h,) in await conn.execute(text("SELECT id_hash FROM dashboard_session"))]
    assert stored == [digest(cookie)]  # only the hash: a dump of the table signs nobody in
    assert cookie not in stored
    assert (await client.get("/dashboard/state", headers=JSON)).status == 200

    out = await client.post("/dashboard/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/dashboard/login"
    await refused_everywhere(client, cookie)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT COUNT(*) FROM dashboard_session"))).scalar() == 0


async def test_signing_out_ends_an_open_live_stream(client: Client) -> None:
    _, csrf = await sign_in(client)
    stream = await client.get("/dashboard/events")
    assert stream.status == 200
    await stream.content.readuntil(b"\n\n")  # the first state
    out = await client.post("/dashboard/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    async with asyncio.timeout(10):
        while await stream.content.readany():  # the server ends the stream
            pass
    stream.release()


async def test_revoking_from_the_cli_ends_the_session(
    client: Client, cli: Callable[..., str]
) -> None:
    cookie, _ = await sign_in(client)
    client.session.cookie_jar.clear()  # another browser
    other, _ = await sign_in(client)

    listed = await asyncio.to_thread(cli, "admin", "sessions", "list")
    ids = re.findall(r"^([0-9a-f]{12})\s", listed, re.MULTILINE)
    assert listed.splitlines()[0].split() == ["id", "created", "last_seen", "ip", "user_agent"]
    assert sorted(ids) == sorted([digest(cookie)[:12], digest(other)[:12]])
    assert "127.0.0.1" in listed and "pytest-browser/1.0" in listed

    done = await asyncio.to_thread(cli, "admin", "sessions", "revoke", digest(cookie)[:12])
    assert f"Ended session {digest(cookie)[:12]}" in done
    await refused_everywhere(client, cookie)
    sent = {"Cookie": f"{COOKIE}={other}"}
    assert (await client.get("/dashboard/state", headers=sent | JSON)).status == 200

    # A bad or unknown id: one line, no traceback, a failing exit code.
    for bad in ("not-an-id!", "abcdef0123", digest(cookie)[:12]):
        error = await asyncio.to_thread(cli, "admin", "sessions", "revoke", bad, ok=False)
        assert error.startswith("error: ") and len(error.strip().splitlines()) == 1, error
    assert await asyncio.to_thread(cli, "admin", "sessions", "revoke", ok=False)

    done = await asyncio.to_thread(cli, "admin", "sessions", "revoke", "--all")
    assert "Ended 1 session(s)." in done
    await refused_everywhere(client, other)
    assert "(none)" in await asyncio.to_thread(cli, "admin", "sessions", "list")


async def test_an_idle_session_times_out_and_none_outlives_seven_days(
    client: Client, clock: FakeClock
) -> None:
    cookie, _ = await sign_in(client)
    for _ in range(3):  # activity keeps it alive, whatever the total
        clock.advance(hours=11, minutes=59)
        assert (await client.get("/dashboard/state", headers=JSON)).status == 200
    clock.advance(hours=12, seconds=1)
    await refused_everywhere(client, cookie)

    cookie, _ = await sign_in(client)
    for _ in range(14):  # 6 days 23 hours 46 minutes of steady use
        clock.advance(hours=11, minutes=59)
        assert (await client.get("/dashboard/state", headers=JSON)).status == 200
    clock.advance(hours=1)
    await refused_everywhere(client, cookie)


async def test_the_idle_time_is_a_setting(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    async with make_client(database_url, engine, clock, livebuy_session_idle="30m") as client:
        cookie, _ = await sign_in(client)
        clock.advance(minutes=29)
        assert (await client.get("/dashboard/state", headers=JSON)).status == 200
        clock.advance(minutes=31)
        await refused_everywhere(client, cookie)


async def test_wrong_tokens_are_throttled_per_client(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    # The test client is a trusted proxy here, so X-Forwarded-For names two clients.
    async with make_client(
        database_url, engine, clock, livebuy_trusted_proxies="127.0.0.1"
    ) as client:
        mallory = {"X-Forwarded-For": "203.0.113.9"}
        for _ in range(10):
            wrong = await client.post(
                "/dashboard/login", data={"token": "guess" * 6}, headers=mallory
            )
            assert wrong.status == 403
        for token in ("guess" * 6, TOKEN):  # even the right token waits now
            late = await client.post("/dashboard/login", data={"token": token}, headers=mallory)
            assert late.status == 429, await late.text()
            assert 1 <= int(late.headers["Retry-After"]) <= 60
            assert "Too many wrong tokens" in await late.text()
        spoofed = {"X-Forwarded-For": "198.51.100.7, 203.0.113.9"}  # the left is the client's
        late = await client.post("/dashboard/login", data={"token": TOKEN}, headers=spoofed)
        assert late.status == 429
        # Another client is not held up by Mallory.
        alice = {"X-Forwarded-For": "198.51.100.20"}
        ok = await client.post("/dashboard/login", data={"token": TOKEN}, headers=alice)
        assert ok.status == 200 and str(ok.url).endswith("/dashboard")


async def test_x_forwarded_for_is_ignored_without_trusted_proxies(client: Client) -> None:
    for n in range(10):  # a new made-up address every time: still one client
        forged = {"X-Forwarded-For": f"203.0.113.{n}"}
        wrong = await client.post("/dashboard/login", data={"token": "x" * 30}, headers=forged)
        assert wrong.status == 403
    late = await client.post("/dashboard/login", data={"token": TOKEN})
    assert late.status == 429 and late.headers["Retry-After"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_cookie_is_secure_behind_https(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    for base, secure in (("https://shop.example", True), ("http://127.0.0.1:8080", False)):
        async with make_client(database_url, engine, clock, public_base_url=base) as client:
            response = await client.post(
                "/dashboard/login", data={"token": TOKEN}, allow_redirects=False
            )
            assert response.status == 303
            cookie = response.headers["Set-Cookie"]
            assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
            assert ("Secure" in cookie) is secure, cookie


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_generated_admin_token_is_long_enough(engine: AsyncEngine) -> None:
    assert len(await admin_token(engine, None, datetime.now(UTC))) >= 24


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_server_refuses_a_short_admin_token(database_url: str, tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STRIPE_", "TELEGRAM_", "DISCORD_", "LIVEBUY_", "DATABASE_"))
    }
    env |= {"DATABASE_URL": database_url, "LIVEBUY_ADMIN_TOKEN": "a" * 23}
    process = subprocess.Popen(
        [str(LIVEBUY), "run", "--port", str(free_port())],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the server started with a 23-character admin token")
    assert process.returncode != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "LIVEBUY_ADMIN_TOKEN" in err and "24 characters" in err
