"""The whole app with Telegram configured, against the fake Bot API server."""

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.e2e.stripe_signing import SECRET
from tests.fakes import FakePaymentGateway, ShiftedClock
from tests.telegram.fake_bot_api import FakeBotApi
from webhooks.app import create_app
from webhooks.keys import BUS, OUTBOX
from webhooks.telegram import TELEGRAM, TELEGRAM_OPTIONS, TelegramOptions, TelegramRuntime

# python-telegram-bot 22 warns whenever it hands out a time period as an int (RetryAfter's
# retry_after); its timedelta values are the way ahead, and the adapter reads either.
os.environ.setdefault("PTB_TIMEDELTA", "true")

GROUP = -100200300
WEBHOOK_SECRET = "tg-secret-123"


async def until(
    check: Callable[[], Awaitable[bool] | bool], within: float = 10.0, what: str = ""
) -> None:
    """Polls a condition (sync or async) until it holds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


@dataclass
class Shop:
    client: TestClient  # type: ignore[type-arg]
    api: FakeBotApi
    clock: ShiftedClock
    payments: FakePaymentGateway

    @property
    def bus(self) -> MessageBus:
        return self.client.server.app[BUS]

    @property
    def runtime(self) -> TelegramRuntime:
        return self.client.server.app[TELEGRAM]

    async def processed(self, *updates: dict[str, Any], within: float = 10.0) -> None:
        """Feeds updates through getUpdates and waits until each one was handled."""
        adapter = self.runtime.adapter
        assert adapter is not None
        target = adapter.finished + len(updates)
        self.api.push(*updates)
        await until(lambda: adapter.finished >= target, within, f"{len(updates)} updates")

    async def later(self, **delta: float) -> None:
        """Jumps the clock once everything queued went out (a jump while a message is being
        sent would make its 60 s outbox lease look expired)."""
        await self.settle()
        self.clock.advance(**delta)

    async def settle(self, within: float = 20.0) -> None:
        """Lets the courier deliver everything queued, jumping the clock over the pacing
        (1 s per private chat, 3 s per group, coalesced board edits, retry_after)."""
        outbox = self.client.server.app[OUTBOX]
        courier = self.runtime.courier
        assert courier is not None
        deadline = asyncio.get_running_loop().time() + within
        adapter = self.runtime.adapter
        assert adapter is not None
        while not adapter.idle or (await outbox.counts("telegram")).pending:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the outbox did not drain")
            self.clock.advance(seconds=3.5)
            courier.wake()
            await asyncio.sleep(0.02)


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    yield api
    await api.close()


ShopFactory = Callable[..., Awaitable[Shop]]


@pytest.fixture
async def shop_factory(
    database_url: str, engine: AsyncEngine, api: FakeBotApi
) -> AsyncIterator[ShopFactory]:
    clients: list[TestClient] = []  # type: ignore[type-arg]

    async def start(
        options: TelegramOptions | None = None,
        ready: bool = True,
        emulator: bool = False,
        **overrides: Any,
    ) -> Shop:
        """`emulator`: payments through the built-in Stripe emulator (saved cards,
        off-session charges) at the app's own address, instead of a fake gateway."""
        if api.server is None and ready:
            await api.start()
        clock = ShiftedClock()
        payments = FakePaymentGateway()
        telegram = {"telegram_bot_token": api.token, "telegram_api_base_url": api.url}
        port = None
        if emulator:
            port = _free_port()
            telegram["public_base_url"] = f"http://127.0.0.1:{port}"
        settings = test_settings(database_url, **{**telegram, **overrides})
        app = create_app(
            settings,
            engine=engine,
            clock=clock,
            payments=None if emulator else payments,
            webhook_secret=SECRET,
            sweep_every=3600,
        )
        app[TELEGRAM_OPTIONS] = options or TelegramOptions(per_second=1000)
        client = TestClient(TestServer(app, host="127.0.0.1", port=port))
        await client.start_server()
        clients.append(client)
        shop = Shop(client, api, clock, payments)
        if ready:
            await asyncio.wait_for(shop.runtime.ready.wait(), 10)
        return shop

    yield start
    for client in clients:
        await client.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
