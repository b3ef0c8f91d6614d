"""A drop's units left on the stream overlay follow claims from every chat (#20): a claim in
a Twitch chat or a Telegram group is answered there and is no notice of its own, yet the
overlay (server-sent events) and the other platforms' boards show the new count with no
payment; a burst of claims becomes a few coalesced updates, the last with the right count.
Each platform is its wire-level fake, driven by the application's real adapters."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.web.overlay import overlay_key
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.units_left import UnitsLeftNews
from tests.e2e.stripe_signing import SECRET
from tests.fakes import FakePaymentGateway
from tests.integration.helpers import add_product, start_drop
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.twitch.conftest import twitch_settings, until
from tests.twitch.fake_twitch import CHANNEL_ID, FakeTwitch
from webhooks.app import create_app
from webhooks.keys import BUS
from webhooks.telegram import TELEGRAM, TELEGRAM_OPTIONS, TelegramOptions
from webhooks.twitch import TWITCH

GROUP = -100200300
TOKEN = "overlay-admin-token-0123456789"
TWITCH_CHAT, TELEGRAM_CHAT = f"twitch:{CHANNEL_ID}", f"telegram:{GROUP}"


@dataclass
class Overlay:
    """The cards an overlay's event stream delivered, in order."""

    cards: list[dict[str, Any]] = field(default_factory=list)

    def boards(self) -> list[int]:
        return [card["remaining"] for card in self.cards if card["type"] == "board"]


@dataclass
class Stage:
    twitch: FakeTwitch
    telegram: FakeBotApi
    client: TestClient  # type: ignore[type-arg]

    @property
    def bus(self) -> MessageBus:
        return self.client.server.app[BUS]

    @property
    def news(self) -> UnitsLeftNews:
        news = self.bus.deps.units_left
        assert news is not None
        return news

    @contextlib.asynccontextmanager
    async def overlay(self, target: str) -> AsyncIterator[Overlay]:
        """The overlay's event stream, read as OBS's browser source reads it."""
        seen = Overlay()
        path = f"/overlay/{quote(target, safe='')}/events"
        response = await self.client.get(path, params={"key": overlay_key(TOKEN, target)})
        assert response.status == 200

        async def read() -> None:
            async for line in response.content:
                if line.startswith(b"data: "):
                    seen.cards.append(json.loads(line.removeprefix(b"data: ")))

        reading = asyncio.create_task(read())
        try:
            yield seen
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
            response.close()


@pytest.fixture
async def stage(database_url: str, engine: AsyncEngine) -> AsyncIterator[Stage]:
    twitch, telegram = FakeTwitch(), FakeBotApi()
    await twitch.start()
    await telegram.start()
    settings = twitch_settings(
        database_url,
        twitch,
        telegram_bot_token=telegram.token,
        telegram_api_base_url=telegram.url,
        livebuy_admin_token=TOKEN,
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
            application[TWITCH].sender.gap = twitch.window / twitch.per_window * 1.01
            yield Stage(twitch, telegram, client)
    finally:
        await telegram.close()
        await twitch.stop()


async def test_claims_on_twitch_and_telegram_move_the_overlay_without_a_payment(
    stage: Stage,
) -> None:
    await add_product(stage.bus, stock=50)
    await start_drop(stage.bus, quantity=5, channels=(TWITCH_CHAT, TELEGRAM_CHAT))
    anna = stage.twitch.viewer("anna")
    bo = FakeUser(101, "Bo", "bo")

    def telegram_board(left: int) -> bool:
        board = stage.telegram.board(GROUP)
        return board is not None and f"{left} of 5 left" in board.text

    async with stage.overlay(TWITCH_CHAT) as overlay:
        await until(lambda: overlay.boards() == [5], what="the overlay's first state")
        await stage.twitch.say(anna, "#buy TEE")
        await until(lambda: overlay.boards()[-1] == 4, what="the Twitch claim on the overlay")
        # The Telegram group's board counts the Twitch claim too.
        await until(lambda: telegram_board(4), what="the Telegram board at 4 left")
        stage.telegram.push(stage.telegram.message(GROUP, bo, "#buy TEE"))
        await until(lambda: overlay.boards()[-1] == 3, what="the Telegram claim on the overlay")
    # Nothing was paid: the claims themselves moved it.
    orders = await queries.orders(stage.bus.reads, limit=10)
    assert len(orders) == 2 and not [o for o in orders if o.status.value == "paid"]


async def test_a_burst_of_claims_becomes_a_few_updates_the_last_one_right(
    stage: Stage,
) -> None:
    await add_product(stage.bus, stock=100)
    await start_drop(stage.bus, quantity=100, channels=(TWITCH_CHAT, TELEGRAM_CHAT))
    # The rounds are held between two updates until the burst is answered (as a flash
    # drop's claims arrive faster than a round): what they coalesce into is then known.
    gate = asyncio.Event()
    stage.news.pause = gate.wait
    buyers = [FakeUser(200 + n, f"B{n}", f"b{n}") for n in range(40)]
    async with stage.overlay(TWITCH_CHAT) as overlay:
        await until(lambda: overlay.boards() == [100], what="the overlay's first state")
        stage.telegram.push(*(stage.telegram.message(GROUP, b, "#buy TEE") for b in buyers))

        async def all_held() -> bool:
            return len(await queries.orders(stage.bus.reads, limit=100)) == 40

        await until(all_held, what="forty claims held")
        await until(lambda: stage.news.rounds >= 1, what="the first round")
        gate.set()
        await until(lambda: overlay.boards()[-1] == 60, what="the overlay at 60 left")
        updates = overlay.boards()[1:]
    # Forty claims, a few updates: the first claim's round, the one after the gate opened
    # (and one more if the last claims marked the drop after it read it).
    assert 1 <= len(updates) <= 3, updates
    assert updates[-1] == 60 and updates == sorted(updates, reverse=True)
