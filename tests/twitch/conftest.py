"""The whole application with its Twitch adapter, talking to the fake Twitch on loopback."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import test_settings
from tests.stream_shops import StreamShop, serving, until
from tests.twitch.fake_twitch import (
    BOT_ID,
    CHANNEL_ID,
    CHANNEL_LOGIN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeTwitch,
)
from webhooks.twitch import TWITCH, Twitch

CHAT = f"twitch:{CHANNEL_ID}"


@dataclass
class Shop(StreamShop):
    fake: FakeTwitch

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
        settings = lambda: twitch_settings(database_url, fake, **overrides)  # noqa: E731
        async with serving(fake, settings, engine) as served:
            shop = Shop(fake, served.client, served.payments)
            shop.twitch.outbox.board_every = timedelta(seconds=board_every)
            # The sender paces as the fake counts (a short window keeps tests quick).
            shop.twitch.sender.gap = fake.window / fake.per_window * 1.01
            if wait_subscribed:
                await until(lambda: fake.live(), what="the chat subscription")
            yield shop

    return opened
