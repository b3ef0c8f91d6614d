"""What the Twitch and YouTube tests share (tests/twitch/conftest.py, tests/youtube/conftest.py):
the whole application on a test server with a fake payment gateway, talking to a platform's
fake on loopback, and a poll for what happens in the background."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.config import Settings
from commerce.service_layer.messagebus import MessageBus
from tests.e2e.stripe_signing import SECRET
from tests.fakes import FakePaymentGateway
from webhooks.app import create_app
from webhooks.keys import BUS

TIMEOUT = 30.0  # generous: a loaded CI machine; a passing run waits far less


async def until(
    condition: Callable[[], Any], within: float = TIMEOUT, what: str = "condition"
) -> Any:
    """Polls `condition` (a function, or a coroutine function) until it is truthy."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class Fake(Protocol):
    runner: Any  # None until started

    async def start(self) -> None: ...
    async def stop(self) -> None: ...


@dataclass
class StreamShop:
    fake: Any  # the platform's fake (each platform's Shop names its type)
    client: TestClient  # type: ignore[type-arg]
    payments: FakePaymentGateway

    @property
    def bus(self) -> MessageBus:
        return self.client.server.app[BUS]


@asynccontextmanager
async def serving(
    fake: Fake, settings: Callable[[], Settings], engine: AsyncEngine
) -> AsyncIterator[StreamShop]:
    """The app on a test server, the fake running meanwhile (started and stopped here unless
    the test started it: a test that restarts the app keeps its fake). `settings` are made
    once the fake runs (they name its addresses)."""
    own_fake = fake.runner is None
    if own_fake:
        await fake.start()
    payments = FakePaymentGateway()
    try:
        app = create_app(
            settings(), engine=engine, payments=payments, webhook_secret=SECRET, sweep_every=3600
        )
        async with TestClient(TestServer(app)) as client:
            yield StreamShop(fake, client, payments)
    finally:
        if own_fake:
            await fake.stop()
