"""The whole application with its Discord adapter, talking to the fake Discord on loopback."""

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

from bots.discord.bot import DiscordService
from commerce.adapters.outbox import SqlOutbox
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import Clock
from tests.conftest import test_settings
from tests.discord.fake_discord import GUILD_ID, FakeDiscord
from tests.e2e.stripe_signing import SECRET, charge, event_body, session, sign
from tests.fakes import FakePaymentGateway
from webhooks.app import create_app
from webhooks.discord import COURIER, DISCORD
from webhooks.keys import BUS, OUTBOX

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


@dataclass
class Shop:
    fake: FakeDiscord
    client: TestClient  # type: ignore[type-arg]
    payments: FakePaymentGateway

    @property
    def bus(self) -> MessageBus:
        return self.client.server.app[BUS]

    @property
    def service(self) -> DiscordService:
        return self.client.server.app[DISCORD]

    def connected(self) -> bool:
        bot = self.service.bot
        return bot is not None and bot.get_guild(int(GUILD_ID)) is not None

    def wake(self) -> None:
        self.client.server.app[COURIER].wake()

    async def pay(self, order_ref: str) -> None:
        """Stripe's signed webhook: the checkout session was paid."""
        body = event_body(
            f"evt_paid_{order_ref}",
            "checkout.session.completed",
            session(order_ref, f"cs_{order_ref}"),
        )
        await self._webhook(body)

    async def refunded(self, order_ref: str) -> None:
        body = event_body(
            f"evt_refund_{order_ref}", "charge.refunded", charge(order_ref, 2500, 2500)
        )
        await self._webhook(body)

    async def charge_failed(self, order_ref: str) -> None:
        """Stripe's signed webhook: an off-session charge (one-message buy) was declined."""
        intent = {
            "id": f"pi_{order_ref}",
            "object": "payment_intent",
            "status": "requires_payment_method",
            "amount": 2500,
            "currency": "eur",
            "metadata": {"order_ref": order_ref},
        }
        body = event_body(f"evt_failed_{order_ref}", "payment_intent.payment_failed", intent)
        await self._webhook(body)

    async def _webhook(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
        response = await self.client.post("/webhooks/stripe", data=body, headers=headers)
        assert response.status == 200, await response.text()


ShopFactory = Callable[..., Any]


@pytest.fixture
def open_shop(database_url: str, engine: AsyncEngine) -> ShopFactory:
    """`async with open_shop(**settings) as shop:` the app, connected to a fresh fake."""

    @asynccontextmanager
    async def opened(
        fake: FakeDiscord | None = None,
        wait_ready: bool = True,
        board_every: float = 0.2,  # the product waits 3 s between two edits of a board
        clock: Clock | None = None,  # the core's (a ShiftedClock to jump over minutes)
        **overrides: Any,
    ) -> AsyncIterator[Shop]:
        fake = fake or FakeDiscord()
        own_fake = fake.runner is None  # a fake the test started is the test's to stop
        if own_fake:
            await fake.start()
        settings = test_settings(
            database_url,
            discord_bot_token="test-token",
            discord_api_base_url=fake.api_url,
            discord_gateway_url=fake.gateway_url,
            **({"discord_guild_ids": "900000000000000010"} | overrides),
        )
        payments = FakePaymentGateway()
        app = create_app(
            settings,
            engine=engine,
            clock=clock,
            payments=payments,
            webhook_secret=SECRET,
            sweep_every=3600,
        )
        try:
            async with TestClient(TestServer(app)) as client:
                shop = Shop(fake, client, payments)
                outbox = client.server.app[OUTBOX]
                assert isinstance(outbox, SqlOutbox)
                outbox.board_every = timedelta(seconds=board_every)
                if wait_ready:  # the guild is known (on_ready itself comes 2 s later)
                    await until(shop.connected, what="the bot to be connected")
                yield shop
        finally:
            if own_fake:
                await fake.stop()

    return opened
