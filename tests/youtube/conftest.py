"""The whole application with its YouTube adapter, talking to the fake YouTube on loopback."""

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
from tests.youtube.fake_youtube import (
    CLIENT_ID,
    CLIENT_SECRET,
    LIVE_CHAT_ID,
    REFRESH_TOKEN,
    FakeYouTube,
)
from webhooks.app import create_app
from webhooks.keys import BUS
from webhooks.youtube import YOUTUBE, YouTube

TIMEOUT = 30.0  # generous: a loaded CI machine; a passing run waits far less
CHAT = f"youtube:{LIVE_CHAT_ID}"


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
    fake: FakeYouTube
    client: TestClient  # type: ignore[type-arg]
    payments: FakePaymentGateway

    @property
    def bus(self) -> MessageBus:
        return self.client.server.app[BUS]

    @property
    def youtube(self) -> YouTube:
        return self.client.server.app[YOUTUBE]


ShopFactory = Callable[..., Any]


def youtube_settings(database_url: str, fake: FakeYouTube, **overrides: Any) -> Any:
    return test_settings(
        database_url,
        **(
            {
                "youtube_client_id": CLIENT_ID,
                "youtube_client_secret": CLIENT_SECRET,
                "youtube_refresh_token": REFRESH_TOKEN,
                "youtube_live_chat_id": LIVE_CHAT_ID,
                "youtube_api_base_url": fake.api_url,
                "youtube_oauth_token_url": fake.token_url,
                "youtube_min_poll_seconds": 0,
            }
            | overrides
        ),
    )


@pytest.fixture
def open_shop(database_url: str, engine: AsyncEngine) -> ShopFactory:
    """`async with open_shop(**settings) as shop:` the app, reading the fake's live chat."""

    @asynccontextmanager
    async def opened(
        fake: FakeYouTube | None = None,
        wait_ready: bool = True,
        board_every: float = 0.2,  # the product merges a board's updates for 15 s
        **overrides: Any,
    ) -> AsyncIterator[Shop]:
        fake = fake or FakeYouTube()
        own_fake = fake.runner is None  # a fake the test started is the test's to stop
        if own_fake:
            await fake.start()
        settings = youtube_settings(database_url, fake, **overrides)
        payments = FakePaymentGateway()
        app = create_app(
            settings, engine=engine, payments=payments, webhook_secret=SECRET, sweep_every=3600
        )
        try:
            async with TestClient(TestServer(app)) as client:
                shop = Shop(fake, client, payments)
                shop.youtube.outbox.board_every = timedelta(seconds=board_every)
                if wait_ready:  # the first read (history, not answered) has happened
                    reads = len(fake.reads)
                    await until(lambda: len(fake.reads) > reads + 1, what="the first reads")
                yield shop
        finally:
            if own_fake:
                await fake.stop()

    return opened
