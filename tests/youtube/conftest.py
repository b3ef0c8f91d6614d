"""The whole application with its YouTube adapter, talking to the fake YouTube on loopback."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import test_settings
from tests.stream_shops import StreamShop, serving, until
from tests.youtube.fake_youtube import (
    CLIENT_ID,
    CLIENT_SECRET,
    LIVE_CHAT_ID,
    REFRESH_TOKEN,
    FakeYouTube,
)
from webhooks.youtube import YOUTUBE, YouTube

CHAT = f"youtube:{LIVE_CHAT_ID}"


@dataclass
class Shop(StreamShop):
    fake: FakeYouTube

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
        settings = lambda: youtube_settings(database_url, fake, **overrides)  # noqa: E731
        async with serving(fake, settings, engine) as served:
            shop = Shop(fake, served.client, served.payments)
            shop.youtube.outbox.board_every = timedelta(seconds=board_every)
            if wait_ready:  # the first read (history, not answered) has happened
                reads = len(fake.reads)
                await until(lambda: len(fake.reads) > reads + 1, what="the first reads")
            yield shop

    return opened
