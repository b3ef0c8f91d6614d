"""The whole application with its Twitch adapter, talking to the fake Twitch on loopback."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.e2e.stripe_signing import SECRET
from tests.fakes import FakePaymentGateway
from tests.twitch.fake_twitch import (
    BOT_ID,
    CHANNEL_ID,
    CHANNEL_LOGIN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeTwitch,
)
from webhooks.app import create_app
from webhooks.keys import BUS
from webhooks.twitch import TWITCH, Twitch

TIMEOUT = 30.0  # generous: a loaded CI machine; a passing run waits far less
CHAT = f"twitch:{CHANNEL_ID}"


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


@dataclass
class Shop:
    fake: FakeTwitch
    client: TestClient  # type: ignore[type-arg]
    payments: FakePaymentGateway

    @property
    def bus(self) -> MessageBus:
        return self.client.server.app[BUS]

    @property
    def twitch(self) -> Twitch:
        return self.client.server.app[TWITCH]


ShopFactory = Callable[..., Any]


def twitch_settings(database_url: str, fake: FakeTwitch, **overrides: Any) -> Any:
    return test_settings(
        database_url,
        **(
            {
                "twitch_client_id": CLIENT_ID,
                "twitch_client_secret": CLIENT_SECRET,
                "twitch_bot_user_id": BOT_ID,
                "twitch_bot_refresh_token": REFRESH_TOKEN,
                "twitch_channels": CHANNEL_LOGIN,  # a login: looked up through GET /users
                "twitch_api_base_url": fake.api_url,
                "twitch_oauth_base_url": fake.oauth_url,
                "twitch_eventsub_ws_url": fake.ws_url,
            }
            | overrides
        ),
    )


@pytest.fixture
def open_shop(database_url: str, engine: AsyncEngine) -> ShopFactory:
    """`async with open_shop(fake) as shop:` the app, reading the fake's channel chat."""

    @asynccontextmanager
    async def opened(
        fake: FakeTwitch | None = None,
        board_every: float = 0.2,  # the product merges a board's updates for 10 s
        wait_subscribed: bool = True,
        **overrides: Any,
    ) -> AsyncIterator[Shop]:
        fake = fake or FakeTwitch()
        own_fake = fake.runner is None  # a fake the test started is the test's to stop
        if own_fake:
            await fake.start()
        settings = twitch_settings(database_url, fake, **overrides)
        payments = FakePaymentGateway()
        app = create_app(
            settings, engine=engine, payments=payments, webhook_secret=SECRET, sweep_every=3600
        )
        try:
            async with TestClient(TestServer(app)) as client:
                shop = Shop(fake, client, payments)
                shop.twitch.outbox.board_every = timedelta(seconds=board_every)
                # The sender paces as the fake counts (a short window keeps tests quick).
                shop.twitch.sender.gap = fake.window / fake.per_window * 1.01
                if wait_subscribed:
                    await until(lambda: fake.live(), what="the chat subscription")
                yield shop
        finally:
            if own_fake:
                await fake.stop()

    return opened
