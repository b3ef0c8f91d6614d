"""One shop selling at once in a Twitch channel, a YouTube live chat, a Telegram group and the
web chat (#20): one drop's units and one auction's bids, whatever chat they come from. Each
platform is its wire-level fake, driven by the application's real adapters."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.reports import SqlReports
from commerce.domain import commands as c
from commerce.domain.commands import ChatMessage
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from tests.e2e.stripe_signing import SECRET
from tests.fakes import FakePaymentGateway
from tests.integration.helpers import add_product, start_drop
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.twitch.conftest import twitch_settings, until
from tests.twitch.fake_twitch import CHANNEL_ID, FakeTwitch
from tests.youtube.conftest import youtube_settings
from tests.youtube.fake_youtube import LIVE_CHAT_ID, FakeYouTube
from webhooks.app import create_app
from webhooks.keys import BUS
from webhooks.telegram import TELEGRAM, TELEGRAM_OPTIONS, TelegramOptions
from webhooks.twitch import TWITCH
from webhooks.youtube import YOUTUBE

GROUP = -100200300
TWITCH_CHAT, YOUTUBE_CHAT = f"twitch:{CHANNEL_ID}", f"youtube:{LIVE_CHAT_ID}"
TELEGRAM_CHAT, WEB_CHAT = f"telegram:{GROUP}", "web:demo"
YOUTUBE_KEYS = {
    "youtube_client_id",
    "youtube_client_secret",
    "youtube_refresh_token",
    "youtube_live_chat_id",
    "youtube_api_base_url",
    "youtube_oauth_token_url",
    "youtube_min_poll_seconds",
}


@dataclass
class Stage:
    twitch: FakeTwitch
    youtube: FakeYouTube
    telegram: FakeBotApi
    bus: MessageBus


@pytest.fixture
async def stage(database_url: str, engine: AsyncEngine) -> AsyncIterator[Stage]:
    twitch, youtube, telegram = FakeTwitch(), FakeYouTube(), FakeBotApi()
    await twitch.start()
    await youtube.start()
    await telegram.start()
    youtube_keys = youtube_settings(database_url, youtube).model_dump(include=YOUTUBE_KEYS)
    settings = twitch_settings(
        database_url,
        twitch,
        **youtube_keys,
        telegram_bot_token=telegram.token,
        telegram_api_base_url=telegram.url,
    )
    app = create_app(
        settings,
        engine=engine,
        payments=FakePaymentGateway(),
        webhook_secret=SECRET,
        sweep_every=3600,
    )
    app[TELEGRAM_OPTIONS] = TelegramOptions(per_second=1000)
    try:
        async with TestClient(TestServer(app)) as client:
            application = client.server.app
            await asyncio.wait_for(application[TELEGRAM].ready.wait(), 10)
            await until(lambda: twitch.live(), what="the Twitch chat subscription")
            await until(lambda: application[YOUTUBE].poller.reads > 0, what="a YouTube read")
            application[TWITCH].sender.gap = twitch.window / twitch.per_window * 1.01
            yield Stage(twitch, youtube, telegram, application[BUS])
    finally:
        await telegram.close()
        await youtube.stop()
        await twitch.stop()


async def test_a_drop_across_four_platforms_sells_exactly_its_units(
    stage: Stage, engine: AsyncEngine
) -> None:
    await add_product(stage.bus, stock=50)
    chats = (TWITCH_CHAT, YOUTUBE_CHAT, TELEGRAM_CHAT, WEB_CHAT)
    await start_drop(stage.bus, quantity=5, channels=chats)
    on_twitch = [stage.twitch.viewer(f"tw{n}") for n in range(3)]
    on_youtube = [stage.youtube.viewer(f"yt{n}") for n in range(3)]
    on_telegram = [FakeUser(100 + n, f"Tg{n}", f"tg{n}") for n in range(3)]
    for n in range(3):  # all at once: 12 claims for 5 units from four chats
        await stage.twitch.say(on_twitch[n], "#buy TEE")
        stage.youtube.say(on_youtube[n], "#buy TEE")
        stage.telegram.push(stage.telegram.message(GROUP, on_telegram[n], "#buy TEE"))
    web = [
        stage.bus.handle(
            ChatMessage(
                key=f"web:demo:{n}",
                chat=WEB_CHAT,
                identity=f"web:w{n}",
                text="#buy TEE",
                display_name=f"w{n}",
            )
        )
        for n in range(3)
    ]
    await asyncio.gather(*web)
    await until(lambda: all(stage.twitch.lines_for(v) for v in on_twitch), what="Twitch told")
    await until(lambda: all(stage.youtube.lines_for(v) for v in on_youtube), what="YouTube told")

    async def five_held() -> bool:
        return len(await queries.orders(stage.bus.reads, limit=100)) >= 5

    await until(five_held, what="the drop's five units held")
    await asyncio.sleep(0.5)  # anything still deciding would show now
    orders = await queries.orders(stage.bus.reads, limit=100)
    assert len(orders) == 5  # never more than the drop's units, wherever they were claimed
    assert len({o.identity for o in orders}) == 5
    (drop,) = await queries.live_drops(stage.bus.reads, WEB_CHAT)
    assert drop.remaining == 0

    # Every chat's three claims were decided (the funnel counts them by platform).
    async def all_claims_counted() -> bool:
        funnel = {row.platform: row.claims for row in await SqlReports(engine).funnel()}
        return funnel == {"twitch": 3, "youtube": 3, "telegram": 3, "web": 3}

    await until(all_claims_counted, what="twelve claims from four platforms")


async def test_an_auction_takes_bids_from_twitch_and_youtube_in_arrival_order(
    stage: Stage,
) -> None:
    await add_product(stage.bus, stock=5)
    await stage.bus.handle(
        c.StartAuction(
            "TEE",
            Decimal(10),
            duration=timedelta(minutes=10),
            close="sudden",
            channels=(TWITCH_CHAT, YOUTUBE_CHAT),
        )
    )
    anna, bo = stage.twitch.viewer("anna"), stage.youtube.viewer("bo")
    bids = [(anna, 15), (bo, 20), (anna, 25), (bo, 30)]
    for bidder, amount in bids:  # each waits for the one before: the order is known
        if bidder is anna:
            await stage.twitch.say(anna, f"#bid {amount}")
        else:
            stage.youtube.say(bo, f"#bid {amount}")

        async def leads(amount: int = amount) -> bool:
            (auction,) = await queries.auctions(stage.bus.reads, "live")
            return auction.bids == [b for _, b in bids].index(amount) + 1

        await until(leads, what=f"the bid of {amount}")
    (auction,) = await queries.auctions(stage.bus.reads, "live")
    assert auction.leader == f"youtube:{bo.channel}"
    assert auction.bids == 4
    # A bid lower than the one before it, from the other platform, is refused.
    await stage.twitch.say(anna, "#bid 28")
    await until(
        lambda: any("the next bid is at least" in t for t in stage.twitch.lines_for(anna)),
        what="anna told her bid is too low",
    )
    (auction,) = await queries.auctions(stage.bus.reads, "live")
    assert auction.leader == f"youtube:{bo.channel}" and auction.bids == 4
