"""Shared by the end-to-end tests: a free port, the `livebuy` command in-process (typer's
runner) on the test database (`cli`), the whole app on a test server with a fake payment
gateway (`web_shop`), and the built-in Stripe emulator on its own server with the real gateway
pointed at it and a receiver verifying its webhooks (`stripe`)."""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from commerce.adapters.app_settings import emulator_key
from commerce.adapters.stripe_events import verify
from commerce.adapters.stripe_gateway import StripePaymentGateway
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from webhooks.app import create_app
from webhooks.cli import app
from webhooks.devtools.emulator import create_emulator

runner = CliRunner()


SECRET = "whsec_emulator_test"
KEY = "sk_test_gateway"


async def emulator_auth(engine: AsyncEngine) -> dict[str, str]:
    """The header the local emulator of an app on this database takes: the key the server
    generated for it, kept in the database (as the `livebuy` commands read it)."""
    return {"Authorization": f"Bearer {await emulator_key(engine, datetime.now(UTC))}"}


async def checkout_page(http: ClientSession, pay_link: str) -> str:
    """Opens a buyer's pay link as a browser does: the Checkout page it leads to."""
    async with http.get(pay_link, allow_redirects=False) as response:
        assert response.status == 303, f"{pay_link}: {response.status} {await response.text()}"
        return response.headers["Location"]


WebShop = Callable[..., contextlib.AbstractAsyncContextManager[TestServer]]


@pytest.fixture
def web_shop(database_url: str, engine: AsyncEngine, clock: FakeClock) -> WebShop:
    """The whole app on a test server, its payments faked: `async with web_shop(**settings)`,
    the settings over the tests' defaults (e.g. livebuy_web_claims="first-paid")."""

    @contextlib.asynccontextmanager
    async def serve(**settings: Any) -> AsyncIterator[TestServer]:
        app = create_app(
            test_settings(database_url, **settings),
            engine=engine,
            clock=clock,
            payments=FakePaymentGateway(),
            webhook_secret="whsec_test",
            sweep_every=3600,
        )
        async with TestServer(app) as server:
            yield server

    return serve


def base_of(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


def free_port() -> int:
    """A port nothing listens on (until a test serves on it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)  # no developer .env is read
    env = {
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}",  # no emulator is running
        "LIVEBUY_MEDIA_DIR": str(tmp_path / "media"),  # product pictures
    }

    def run(*args: str, ok: bool = True, input: str | None = None, **extra: str) -> str:
        result = runner.invoke(app, list(args), env=env | extra, input=input)
        output = result.output
        assert "Traceback" not in output
        assert (result.exit_code == 0) is ok, output
        return output

    return run


@dataclass
class Receiver:
    """Our side of the webhooks: verifies each delivery like /webhooks/stripe does."""

    events: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    calls: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if self.fail_first:
            self.fail_first -= 1
            return web.Response(status=503)
        body = await request.read()
        self.events.append(verify(body, request.headers.get("Stripe-Signature"), SECRET))
        return web.json_response({"received": True})

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        for _ in range(200):
            if len(self.events) >= count:
                break
            await asyncio.sleep(0.025)
        return self.events


@dataclass
class Stripe:
    base: str
    gateway: StripePaymentGateway
    receiver: Receiver
    http: ClientSession


@pytest.fixture
async def stripe() -> AsyncIterator[Stripe]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/stripe", receiver.handle)
    app.add_subapp(
        "/stripe-emulator",
        create_emulator(
            public_base_url=base,
            webhook_url=f"{base}/webhooks/stripe",
            webhook_secret=SECRET,
            api_key=KEY,
        ),
    )
    async with TestServer(app, host="127.0.0.1", port=port), ClientSession() as http:
        gateway = StripePaymentGateway(KEY, f"{base}/stripe-emulator", base, network_retries=0)
        yield Stripe(base, gateway, receiver, http)
        await gateway.close()
