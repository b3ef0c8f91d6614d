"""A one-tap confirm (ConfirmPurchase) split around the charge: the provider's answer is
applied in one unit of work, the order paid and what the buyer is told together or not at
all (SQLite and PostgreSQL)."""

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.outbox import SqlOutbox
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.service_layer.ports import SavedCard
from commerce.service_layer.results import PaymentOutcome
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.helpers import add_product, give_address, start_drop
from tests.integration.outbox_notices import OutboxNotifier
from tests.integration.test_payment_events import completed, won_order
from tests.integration.test_sweeper_units import messages, order_status


async def test_a_confirmed_charge_and_its_message_commit_together(
    database_url: str, engine: AsyncEngine
) -> None:
    clock = FakeClock()
    notifier = OutboxNotifier(SqlOutbox(engine), clock)
    payments = FakePaymentGateway()
    bus = bootstrap(
        test_settings(database_url), engine, clock=clock, notifier=notifier, payments=payments
    )
    try:
        await add_product(bus, stock=5)
        await start_drop(bus, quantity=5)
        first = await won_order(bus, "web:anna")
        payments.cards[f"pi_{first.ref}"] = SavedCard("cus_1", "pm_anna", "visa", "4242")
        await bus.handle(completed(first))  # paid; the card is kept for one-message buys
        await give_address(engine, "web:anna")
        said = await bus.handle(
            c.ChatMessage("web:demo:tap-test", "web:demo", "web:anna", "#buy", "anna")
        )
        second = said.result.order
        assert second is not None and said.result.confirm is not None  # one tap asked
        await messages(bus, engine)  # what came before, delivered

        notifier.fail = True  # the buyer's message cannot be written: the answer is undone
        with pytest.raises(RuntimeError, match="notifier failed"):
            await bus.handle(c.ConfirmPurchase("web:anna"))
        assert len(payments.charges) == 1  # charged once at the provider
        assert await order_status(engine, second.ref) != OrderStatus.PAID
        assert await messages(bus, engine) == []
    finally:
        await bus.close()


async def test_a_confirmed_charge_pays_the_order_and_tells_the_buyer(
    database_url: str, engine: AsyncEngine
) -> None:
    clock = FakeClock()
    notifier = OutboxNotifier(SqlOutbox(engine), clock)
    payments = FakePaymentGateway()
    bus = bootstrap(
        test_settings(database_url), engine, clock=clock, notifier=notifier, payments=payments
    )
    try:
        await add_product(bus, stock=5)
        await start_drop(bus, quantity=5)
        first = await won_order(bus, "web:anna")
        payments.cards[f"pi_{first.ref}"] = SavedCard("cus_1", "pm_anna", "visa", "4242")
        await bus.handle(completed(first))
        await give_address(engine, "web:anna")
        said = await bus.handle(
            c.ChatMessage("web:demo:tap-test", "web:demo", "web:anna", "#buy", "anna")
        )
        second = said.result.order
        assert second is not None
        await messages(bus, engine)
        result = await bus.handle(c.ConfirmPurchase("web:anna"))
        assert result.outcome is PaymentOutcome.PAID
        assert await order_status(engine, second.ref) == OrderStatus.PAID
        assert "OrderPaid" in await messages(bus, engine)
    finally:
        await bus.close()
