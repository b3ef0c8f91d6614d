"""Strikes: each unpaid hold (or auction win) counts; from LIVEBUY_STRIKES on, the buyer's
claims hold nothing (first-paid): whoever pays first gets the unit, and the others' orders are
closed once it is paid for."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import LOCALES, Renderer
from commerce.adapters.auctions import SqlAuctions
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy
from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import ClaimOutcome, HoldExpired, SettlementOutcome
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.helpers import add_product, buy, start_drop


@pytest.fixture
async def strict(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[MessageBus]:
    settings = test_settings(database_url, livebuy_strikes=2)
    bus = bootstrap(settings, engine, clock=clock, notifier=FakeNotifier())
    yield bus
    await bus.deps.store.close()


async def test_repeat_non_payers_pay_first(strict: MessageBus, clock: FakeClock) -> None:
    await add_product(strict, stock=10)
    await start_drop(strict, quantity=1, hold=timedelta(minutes=5))
    for _ in range(2):
        held = await buy(strict, "web:anna")
        assert held.drop is not None and held.drop.remaining == 0  # an ordinary hold
        clock.advance(minutes=5)
        await strict.handle(c.ExpireHolds())
    auctions = strict.deps.auctions
    assert isinstance(auctions, SqlAuctions) and await auctions.strikes("web:anna") == 2
    third = await buy(strict, "web:anna")
    assert third.outcome is ClaimOutcome.WON and third.order is not None
    assert third.drop is not None and third.drop.remaining == 1  # held nothing
    ben = await buy(strict, "web:ben")  # so the unit is still there for someone else
    assert ben.outcome is ClaimOutcome.WON and ben.order is not None
    paid = await strict.handle(c.SettlePayment(ben.order.ref, "pi_ben", "evt_1"))
    assert paid.outcome is SettlementOutcome.PAID
    late = await strict.handle(c.SettlePayment(third.order.ref, "pi_anna", "evt_2"))
    assert late.outcome is SettlementOutcome.NO_STOCK
    assert late.order.status is OrderStatus.NEEDS_REVIEW


async def test_one_unpaid_hold_changes_nothing(strict: MessageBus, clock: FakeClock) -> None:
    await add_product(strict, stock=10)
    await start_drop(strict, quantity=2, hold=timedelta(minutes=5))
    await buy(strict, "web:anna")
    clock.advance(minutes=5)
    await strict.handle(c.ExpireHolds())
    again = await buy(strict, "web:anna")
    assert again.drop is not None and again.drop.remaining == 1
    auctions = strict.deps.auctions
    assert isinstance(auctions, SqlAuctions) and await auctions.strikes("web:nobody") == 0


async def test_first_paid_the_others_are_closed_and_told(
    bus: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=1, policy=DropPolicy.FIRST_PAID)
    anna, ben = await buy(bus, "web:anna"), await buy(bus, "web:ben")
    assert anna.order is not None and ben.order is not None
    await bus.handle(c.ExpireHolds())
    assert notifier.of(HoldExpired) == []  # the unit is still free: both may pay
    await bus.handle(c.SettlePayment(ben.order.ref, "pi_ben", "evt_1"))
    await bus.handle(c.ExpireHolds())
    [closed] = notifier.of(HoldExpired)
    assert isinstance(closed, HoldExpired) and closed.sold_out
    assert closed.order.ref == anna.order.ref and closed.order.status is OrderStatus.EXPIRED
    assert Renderer().notice(closed, "").private == (
        f"TEE product sold out: others paid first. Order {anna.order.ref} is closed,"
        " nothing was charged."
    )
    for locale in LOCALES:
        assert anna.order.ref in (Renderer(locale).notice(closed, "").private or "")
    auctions = bus.deps.auctions
    assert isinstance(auctions, SqlAuctions) and await auctions.strikes("web:anna") == 0
    await bus.handle(c.ExpireHolds())
    assert len(notifier.of(HoldExpired)) == 1  # closed once
