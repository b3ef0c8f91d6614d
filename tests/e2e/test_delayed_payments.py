"""A one-message charge that answers `processing` (as a SEPA debit does) and whose webhook is
lost: reconciliation asks Stripe about the payment itself. The real app, the real stripe
library and the built-in emulator (its card that stays processing until settled), on SQLite
and PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import Renderer
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat, one_message
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    OrderPaid,
    OrderView,
    PaymentOutcome,
    PaymentProblem,
    PaymentStopped,
)
from tests.conftest import test_settings
from tests.e2e.conftest import emulator_auth, free_port
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.helpers import add_product, give_address
from webhooks.app import create_app
from webhooks.keys import BUS

DELAYED = "4000000000006009"  # the emulator's card whose off-session charges stay processing
BUYER = "web:anna"
S = OrderStatus


@dataclass
class Shop:
    bus: MessageBus
    http: ClientSession
    base: str
    notifier: FakeNotifier
    clock: FakeClock
    engine: AsyncEngine
    messages: int = 0

    async def say(self, text: str, private: bool = False) -> Any:
        self.messages += 1
        key = f"web:demo:{self.messages}"
        return await self.bus.handle(c.ChatMessage(key, "web:demo", BUYER, text, "anna", private))

    async def emulator(self, path: str, **form: str) -> Any:
        async with self.http.post(f"{self.base}/stripe-emulator/{path}", data=form) as answer:
            assert answer.status == 200, await answer.text()
            return await answer.json()

    async def order(self, ref: str) -> OrderView:
        return await self.bus.deps.store.order(ref)

    async def until(self, ref: str, done: Callable[[OrderView], bool]) -> OrderView:
        for _ in range(200):  # webhooks arrive in the background
            order = await self.order(ref)
            if done(order):
                return order
            await asyncio.sleep(0.025)
        raise AssertionError(f"order {ref} is {order.status}")

    async def delayed_card(self) -> None:
        """`/card` with the card whose later charges stay processing, and an address."""
        _, url = await one_message.show_card(BUYER, self.bus.deps)
        await self.emulator(f"_test/pay/{url.rsplit('/', 1)[1]}", card=DELAYED)
        cards = self.bus.deps.cards
        assert cards is not None
        for _ in range(200):
            if await cards.card(BUYER) is not None:
                break
            await asyncio.sleep(0.025)
        await give_address(self.engine, BUYER)

    async def processing_order(self) -> OrderView:
        """A one-message buy whose charge answered processing: the hold no longer runs."""
        terms = DropTerms(
            "TEE",
            10,
            Money(2500, "eur"),
            None,
            None,
            DropPolicy.HOLD,
            timedelta(minutes=10),
        )
        await self.bus.handle(c.StartDrop(terms))
        claimed = await self.say("#buy")
        assert isinstance(claimed, chat.Claimed) and claimed.result.confirm is not None
        confirmed = await self.say("#confirm", private=True)
        assert isinstance(confirmed, chat.CardPaid)
        assert confirmed.result.outcome is PaymentOutcome.PROCESSING
        order = await self.order(confirmed.result.order.ref)
        assert order.status is S.RESERVED and order.hold_expires_at is None
        assert order.payment_ref is not None and order.payment_ref.startswith("pi_")
        assert order.payment_pending_since == self.clock.now()
        return order

    async def remaining(self) -> int:
        [drop] = await self.bus.deps.store.drops()
        return drop.remaining


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[Shop]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # Today, so that the `livebuy` command (the system clock) and the app agree.
    notifier, clock = FakeNotifier(), FakeClock(datetime.now(UTC).replace(microsecond=0))
    settings = test_settings(database_url, public_base_url=base)
    app = create_app(settings, engine=engine, notifier=notifier, clock=clock, sweep_every=3600)
    async with (
        TestServer(app, host="127.0.0.1", port=port) as server,
        ClientSession(headers=await emulator_auth(engine)) as http,
    ):
        bus = server.app[BUS]
        await add_product(bus, "TEE", stock=10)
        shop = Shop(bus, http, base, notifier, clock, engine)
        await shop.delayed_card()
        yield shop


def stopped(shop: Shop) -> list[tuple[str, PaymentProblem]]:
    return [(n.order.ref, n.problem) for n in shop.notifier.of(PaymentStopped)]  # type: ignore[attr-defined]


async def test_a_lost_succeeded_webhook_is_repaired_by_livebuy_reconcile(
    shop: Shop,
    cli,  # type: ignore[no-untyped-def]
) -> None:
    order = await shop.processing_order()
    assert order.payment_ref is not None
    # The debit clears; its payment_intent.succeeded never arrives.
    await shop.emulator(
        f"_test/payment_intents/{order.payment_ref}/settle", outcome="succeeded", webhook="0"
    )
    await asyncio.sleep(0.2)
    assert (await shop.order(order.ref)).status is S.RESERVED
    # Long after the claim: the order is asked about by its payment, however old.
    output = await asyncio.to_thread(cli, "reconcile", "--since", "1s", PUBLIC_BASE_URL=shop.base)
    assert f"{order.ref}: paid at the provider -> paid" in output
    paid = await shop.order(order.ref)
    assert paid.status is S.PAID and paid.payment_ref == order.payment_ref
    history = await shop.bus.deps.store.history(order.ref)
    assert (history[-1].to_status, history[-1].cause) == ("paid", f"reconcile:{order.payment_ref}")
    again = await asyncio.to_thread(cli, "reconcile", PUBLIC_BASE_URL=shop.base)
    assert "nothing to repair" in again  # a paid order is asked about no more


async def test_a_lost_failed_webhook_releases_the_order_and_tells_the_buyer(
    shop: Shop,
) -> None:
    order = await shop.processing_order()
    assert order.payment_ref is not None
    assert await shop.remaining() == 9
    assert await shop.bus.handle(c.Reconcile()) == []  # still processing: nothing to do
    await shop.emulator(
        f"_test/payment_intents/{order.payment_ref}/settle", outcome="failed", webhook="0"
    )
    # The periodic task's pass (the app's own bus, which tells the chats).
    changes = await shop.bus.handle(c.Reconcile())
    assert changes == [f"{order.ref}: payment failed at the provider -> cancelled"]
    released = await shop.order(order.ref)
    assert released.status is S.CANCELLED
    assert await shop.remaining() == 10  # the unit went back
    assert stopped(shop) == [(order.ref, PaymentProblem.FAILED)]
    [notice] = shop.notifier.of(PaymentStopped)
    text = Renderer("en").notice(notice, "@anna").private
    assert text is not None and order.ref in text and "did not go through" in text
    assert await shop.bus.handle(c.Reconcile()) == []  # told once
    history = await shop.bus.deps.store.history(order.ref)
    assert history[-1].cause == f"reconcile:{order.payment_ref}:failed"


async def test_a_payment_still_processing_after_the_wait_is_given_up(shop: Shop) -> None:
    order = await shop.processing_order()
    assert order.payment_ref is not None
    shop.clock.advance(days=2, hours=23)
    assert await shop.bus.handle(c.Reconcile()) == []  # within LIVEBUY_ASYNC_PAYMENT_WAIT (3d)
    assert (await shop.order(order.ref)).status is S.RESERVED
    shop.clock.advance(hours=1)
    changes = await shop.bus.handle(c.Reconcile())
    assert changes == [
        f"{order.ref}: payment did not complete in time at the provider -> cancelled"
    ]
    assert (await shop.order(order.ref)).status is S.CANCELLED
    assert stopped(shop) == [(order.ref, PaymentProblem.TIMED_OUT)]
    assert await shop.remaining() == 10
    # The money comes after all (its webhook delivered): honoured, as stock allows, and told.
    await shop.emulator(f"_test/payment_intents/{order.payment_ref}/settle", outcome="succeeded")
    paid = await shop.until(order.ref, lambda o: o.status is S.PAID)
    assert paid.payment_ref == order.payment_ref
    for _ in range(200):  # the notice is handed out after the commit that paid the order
        if shop.notifier.of(OrderPaid):  # type: ignore[attr-defined]
            break
        await asyncio.sleep(0.025)
    assert [n.order.ref for n in shop.notifier.of(OrderPaid)] == [order.ref]  # type: ignore[attr-defined]
