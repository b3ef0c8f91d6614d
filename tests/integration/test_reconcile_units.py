"""Reconciliation in units of work: what it learns from the provider (a call made before any
unit opens) is applied in one unit, the order's change and the buyer's message together or
not at all (SQLite and PostgreSQL)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.outbox import SqlOutbox
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import PaymentState
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop
from tests.integration.outbox_notices import OutboxNotifier
from tests.integration.test_sweeper_units import messages, order_status

PI = "pi_test_delayed"


@dataclass
class Shop:
    bus: MessageBus
    gateway: FakePaymentGateway
    notifier: OutboxNotifier
    engine: AsyncEngine

    async def pending_order(self) -> str:
        """An order whose delayed payment is under way (a charge answered processing)."""
        await add_product(self.bus)
        await start_drop(self.bus)
        result = await buy(self.bus, "web:anna")
        assert result.order is not None
        ledger = self.bus.deps.ledger
        assert ledger is not None
        await ledger.await_async_payment(result.order.ref, PI, self.bus.deps.clock.now())
        await messages(self.bus, self.engine)  # what came before, delivered
        return result.order.ref


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[Shop]:
    clock = FakeClock()
    notifier = OutboxNotifier(SqlOutbox(engine), clock)
    gateway = FakePaymentGateway()
    bus = bootstrap(
        test_settings(database_url), engine, clock=clock, notifier=notifier, payments=gateway
    )
    yield Shop(bus, gateway, notifier, engine)
    await bus.close()


async def test_a_failed_delayed_payment_and_its_message_commit_together(shop: Shop) -> None:
    ref = await shop.pending_order()
    before = await order_status(shop.engine, ref)
    shop.gateway.intents[PI] = PaymentState(PI, "requires_payment_method", 2500, "eur", ref)

    shop.notifier.fail = True  # the buyer's message cannot be written: nothing changes
    with pytest.raises(RuntimeError, match="notifier failed"):
        await shop.bus.handle(c.Reconcile())
    assert await order_status(shop.engine, ref) == before == OrderStatus.CHECKOUT_OPEN
    assert await messages(shop.bus, shop.engine) == []

    shop.notifier.fail = False
    [line] = await shop.bus.handle(c.Reconcile())
    assert line == f"{ref}: payment failed at the provider -> cancelled"
    assert await order_status(shop.engine, ref) == OrderStatus.CANCELLED
    assert await messages(shop.bus, shop.engine) == ["PaymentStopped"]


async def test_a_delayed_payment_paid_at_the_provider_and_its_message_commit_together(
    shop: Shop,
) -> None:
    ref = await shop.pending_order()
    before = await order_status(shop.engine, ref)
    shop.gateway.intents[PI] = PaymentState(PI, "succeeded", 2500, "eur", ref)

    shop.notifier.fail = True
    with pytest.raises(RuntimeError, match="notifier failed"):
        await shop.bus.handle(c.Reconcile())
    assert await order_status(shop.engine, ref) == before == OrderStatus.CHECKOUT_OPEN
    assert await messages(shop.bus, shop.engine) == []

    shop.notifier.fail = False
    [line] = await shop.bus.handle(c.Reconcile())
    assert line == f"{ref}: paid at the provider -> paid"
    assert await order_status(shop.engine, ref) == OrderStatus.PAID
    assert await messages(shop.bus, shop.engine) == ["OrderPaid"]
