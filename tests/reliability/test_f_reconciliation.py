"""Catalogue F, reconciliation and outages (cases 51-56): the webhook's own store-then-process
path and `Reconcile` on SQLite and PostgreSQL, with the fake gateway or the real gateway
against the built-in emulator (its webhook endpoint failing, as a disabled one does)."""

import asyncio
import json
import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import PaymentEvent
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import SessionState
from commerce.service_layer.results import OrderView
from tests.e2e.conftest import Stripe
from tests.e2e.stripe_signing import event_body, sign
from tests.e2e.test_emulator_api import pay
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration import test_payment_events as events
from tests.integration.helpers import add_product, start_drop
from webhooks import stripe as webhook

pytestmark = pytest.mark.reliability

S = OrderStatus


def paid_session(order: OrderView) -> SessionState:
    assert order.checkout_session is not None
    return SessionState(
        order.checkout_session, order.ref, "complete", "paid", f"pi_{order.ref}", 5000, "eur"
    )


async def delivered(bus: MessageBus, event: PaymentEvent) -> bool:
    """What POST /webhooks/stripe does with a verified event: store once, then process."""
    assert bus.deps.ledger is not None
    if await bus.deps.ledger.store_event(event.id, event.type, "{}", bus.deps.clock.now()):
        return False  # a duplicate
    return await webhook.process(bus, event)


async def paid_moves(bus: MessageBus, order: OrderView) -> int:
    return [e.to_status for e in await bus.deps.store.history(order.ref)].count("paid")


async def test_c051_after_an_outage_stripes_retries_are_processed_and_nothing_is_left(
    bus: MessageBus, payments: FakePaymentGateway, order: OrderView, clock: FakeClock
) -> None:
    completed = events.completed(order).event
    clock.advance(hours=2)  # the endpoint was down; Stripe's retry arrives now
    assert await delivered(bus, completed)
    payments.states = {order.checkout_session or "": paid_session(order)}
    # Stripe still lists the delivery attempts that failed during the outage.
    payments.undelivered = [(completed, "{}", clock.now() - timedelta(hours=2))]
    assert await bus.handle(c.Reconcile()) == []
    assert (await bus.deps.store.order(order.ref)).status is S.PAID
    assert await paid_moves(bus, order) == 1


async def test_c052_events_never_delivered_are_listed_paged_and_applied_once(
    bus: MessageBus, clock: FakeClock, stripe: Stripe
) -> None:
    bus.deps.payments = stripe.gateway
    stripe.gateway.page_size = 1  # one event a page: every page is read
    await add_product(bus)
    await start_drop(bus, quantity=3)
    order = await events.won_order(bus)
    assert order.checkout_session is not None
    stripe.receiver.fail_first = 10**6  # the endpoint is disabled: no delivery succeeds
    await pay(stripe, order.checkout_session)
    # Two days later: the order is older than the window, only the events can tell.
    clock.advance(days=2)
    first = await bus.handle(c.Reconcile(timedelta(days=1)))
    assert any(line.endswith("(missed checkout.session.completed): paid: order paid")
               for line in first), first  # fmt: skip
    assert (await bus.deps.store.order(order.ref)).status is S.PAID
    await stripe.gateway.refund(f"{(await bus.deps.store.order(order.ref)).payment_ref}",
                                Money(1000, "eur"), "refund-52")  # fmt: skip
    second = await bus.handle(c.Reconcile(timedelta(days=1)))
    assert len(second) == 1 and second[0].endswith(
        "(missed charge.refunded): refund recorded: order partially_refunded"
    )
    assert await bus.handle(c.Reconcile(timedelta(days=1))) == []  # each event once
    assert await paid_moves(bus, order) == 1
    assert stripe.receiver.events == []  # none of them was ever delivered


async def test_c053_a_gap_older_than_the_event_history_lists_completed_checkouts(
    bus: MessageBus, payments: FakePaymentGateway, order: OrderView, clock: FakeClock
) -> None:
    assert order.checkout_session is not None
    payments.states = {order.checkout_session: paid_session(order)}
    payments.completed = [(order.checkout_session, clock.now())]
    clock.advance(days=40)
    # Within Stripe's 30 days of events, nothing says so: the order stays open.
    assert await bus.handle(c.Reconcile(timedelta(days=30))) == []
    assert payments.listed_since == [clock.now() - timedelta(days=30)]
    changes = await bus.handle(c.Reconcile(timedelta(days=45)))
    assert changes == [f"{order.ref}: paid at the provider -> paid"]
    # Events for at most 30 days; completed sessions for the whole window.
    assert payments.listed_since[-2:] == [
        clock.now() - timedelta(days=30),
        clock.now() - timedelta(days=45),
    ]
    assert await bus.handle(c.Reconcile(timedelta(days=45))) == []


async def test_c054_an_order_stuck_past_its_expiry_is_moved_to_paid_or_expired(
    bus: MessageBus, payments: FakePaymentGateway, clock: FakeClock
) -> None:
    await events.test_reconcile_repairs_lost_webhooks(bus, payments)
    orders = {o.identity: o.status for o in await bus.deps.store.orders(None, None)}
    assert orders == {"web:a": S.PAID, "web:b": S.EXPIRED, "web:c": S.CHECKOUT_OPEN}


async def test_c055_reconciler_and_webhook_at_once_apply_one_event_once(
    bus: MessageBus, payments: FakePaymentGateway, order: OrderView, clock: FakeClock
) -> None:
    completed = events.completed(order).event
    # The webhook's delivery and the listing of the same event (its first delivery failed).
    payments.undelivered = [(completed, json.dumps({"id": completed.id}), clock.now())]
    pending = replace(paid_session(order), status="open", payment_status="unpaid")
    payments.states = {order.checkout_session or "": pending}
    await asyncio.gather(
        delivered(bus, completed), bus.handle(c.Reconcile()), delivered(bus, completed)
    )
    assert (await bus.deps.store.order(order.ref)).status is S.PAID
    assert await paid_moves(bus, order) == 1


async def test_c056_an_unknown_event_type_is_acknowledged_stored_and_logged(
    shop: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = event_body("evt_brand_new", "billing.meter.created", {"id": "mtr_1", "object": "x"})
    with caplog.at_level(logging.INFO, logger="webhooks.stripe"):
        response = await shop.post(
            "/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"},
        )
    assert response.status == 200 and (await response.json()) == {"received": True}
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT type, outcome FROM payment_event WHERE id = 'evt_brand_new'")
            )
        ).one()
    assert tuple(row) == ("billing.meter.created", "ignored: not an event livebuy uses")
    assert any("evt_brand_new" in r.getMessage() for r in caplog.records)
