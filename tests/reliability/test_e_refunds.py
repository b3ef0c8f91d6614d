"""Catalogue E, refunds and disputes (cases 43-50): Stripe-shaped events read by the webhook's
own reader, applied through the bus, on SQLite and PostgreSQL."""

import itertools
import logging
from datetime import timedelta
from typing import Any

import pytest

from commerce.adapters.stripe_events import to_payment_event
from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus, can_move
from commerce.domain.payments import PaymentEventKind
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    OrderDisputed,
    OrderRefunded,
    OrderView,
    RefundFailed,
)
from tests.e2e.conftest import Stripe
from tests.e2e.test_emulator_api import pay, request
from tests.fakes import FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, start_drop
from tests.integration.test_payment_events import completed, event, refunded, won_order

pytestmark = pytest.mark.reliability

S = OrderStatus
_ids = itertools.count(1)


@pytest.fixture
async def paid(bus: MessageBus, payments: FakePaymentGateway) -> OrderView:
    """Two tees (50.00 EUR) paid by Checkout: payment pi_<ref>, charge ch_<ref>."""
    await add_product(bus)
    await start_drop(bus, quantity=3, hold=timedelta(minutes=5))
    order = await won_order(bus, quantity=2)
    await bus.handle(completed(order))
    paid = await bus.deps.store.order(order.ref)
    assert paid.status is S.PAID and paid.amount == Money(5000, "eur")
    return paid


def stripe_event(type_: str, obj: dict[str, Any]) -> c.ApplyPaymentEvent:
    """A Stripe event as the webhook reads it (the same reader, the same shapes)."""
    body = {"id": f"evt_r{next(_ids)}", "object": "event", "type": type_, "data": {"object": obj}}
    return c.ApplyPaymentEvent(to_payment_event(body))


def charge(
    order: OrderView, refunded_total: int, refunds: list[tuple[str, int, str]] | None = None
) -> dict[str, Any]:
    """The charge of `order` as charge.refunded carries it; `refunds` embedded (older API
    versions) or not at all (newer ones)."""
    obj: dict[str, Any] = {
        "id": "ch_" + order.ref,
        "object": "charge",
        "amount": order.amount.minor,
        "currency": "eur",
        "amount_refunded": refunded_total,
        "payment_intent": "pi_" + order.ref,
        "metadata": {"order_ref": order.ref},
    }
    if refunds is not None:
        obj["refunds"] = {
            "object": "list",
            "data": [
                {"id": i, "object": "refund", "amount": a, "status": s} for i, a, s in refunds
            ],
        }
    return obj


def refund(order: OrderView, refund_id: str, amount: int, status: str) -> dict[str, Any]:
    """A refund object as refund.* and charge.refund.updated carry it (no order metadata:
    the shop's refunds are found by their payment)."""
    return {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "currency": "eur",
        "charge": "ch_" + order.ref,
        "payment_intent": "pi_" + order.ref,
        "status": status,
        "metadata": {},
    }


async def state(bus: MessageBus, order: OrderView) -> tuple[OrderStatus, int]:
    now = await bus.deps.store.order(order.ref)
    return now.status, now.refunded.minor if now.refunded else 0


async def test_c043_full_refund_marks_the_order_refunded_and_tells_the_buyer(
    bus: MessageBus, paid: OrderView, notifier: FakeNotifier
) -> None:
    await bus.handle(stripe_event("charge.refunded", charge(paid, 5000)))
    assert await state(bus, paid) == (S.REFUNDED, 5000)
    [told] = notifier.of(OrderRefunded)
    assert told.order.ref == paid.ref and told.order.status is S.REFUNDED  # type: ignore[attr-defined]


async def test_c044_two_partial_refunds_add_up_each_refund_counted_once(
    bus: MessageBus, paid: OrderView
) -> None:
    first = stripe_event("charge.refunded", charge(paid, 1000, [("re_1", 1000, "succeeded")]))
    second = stripe_event(
        "charge.refunded",
        charge(paid, 3000, [("re_1", 1000, "succeeded"), ("re_2", 2000, "succeeded")]),
    )
    for e in (first, second, first, second):  # each one delivered twice, reordered
        await bus.handle(e)
    assert await state(bus, paid) == (S.PARTIALLY_REFUNDED, 3000)
    rest = charge(paid, 5000, [("re_1", 1000, "succeeded"), ("re_2", 2000, "succeeded"),
                               ("re_3", 2000, "succeeded")])  # fmt: skip
    await bus.handle(stripe_event("charge.refunded", rest))
    assert await state(bus, paid) == (S.REFUNDED, 5000)
    history = [e.to_status for e in await bus.deps.store.history(paid.ref)]
    assert history[-3:] == ["partially_refunded", "partially_refunded", "refunded"]


@pytest.mark.parametrize("charge_first", [True, False], ids=["charge-first", "refund-first"])
@pytest.mark.parametrize("embedded", [True, False], ids=["listed", "not-listed"])
async def test_c045_charge_refunded_and_refund_updated_count_one_refund_once(
    bus: MessageBus, paid: OrderView, notifier: FakeNotifier, charge_first: bool, embedded: bool
) -> None:
    listed = [("re_1", 1500, "succeeded")] if embedded else None
    by_charge = stripe_event("charge.refunded", charge(paid, 1500, listed))
    by_refund = stripe_event("refund.updated", refund(paid, "re_1", 1500, "succeeded"))
    created = stripe_event("refund.created", refund(paid, "re_1", 1500, "pending"))
    events = [by_charge, created, by_refund] if charge_first else [created, by_refund, by_charge]
    for e in events:
        await bus.handle(e)
    assert await state(bus, paid) == (S.PARTIALLY_REFUNDED, 1500)  # not 3000, not 4500
    moves = [e.to_status for e in await bus.deps.store.history(paid.ref)]
    assert moves.count("partially_refunded") == 1
    assert len(notifier.of(OrderRefunded)) == 1


@pytest.mark.parametrize(
    ("failure_type", "shape"),
    [("refund.failed", "failed"), ("charge.refund.updated", "failed"),
     ("refund.updated", "canceled")],
)  # fmt: skip
async def test_c046_a_failed_refund_is_reverted_recorded_and_alerted(
    bus: MessageBus,
    paid: OrderView,
    notifier: FakeNotifier,
    caplog: pytest.LogCaptureFixture,
    failure_type: str,
    shape: str,
) -> None:
    # Two refunds: 1000 and 4000, the whole payment.
    await bus.handle(stripe_event("refund.created", refund(paid, "re_a", 1000, "succeeded")))
    await bus.handle(stripe_event("charge.refunded", charge(paid, 1000)))
    await bus.handle(stripe_event("refund.created", refund(paid, "re_b", 4000, "pending")))
    full = stripe_event("charge.refunded", charge(paid, 5000))
    await bus.handle(full)
    assert await state(bus, paid) == (S.REFUNDED, 5000)
    # The 4000 never reach the buyer: what remains refunded is the 1000.
    failed = stripe_event(failure_type, refund(paid, "re_b", 4000, shape))
    with caplog.at_level(logging.ERROR, logger="commerce.service_layer.payments"):
        assert await bus.handle(failed) == "refund re_b failed: order partially_refunded"
    assert await state(bus, paid) == (S.PARTIALLY_REFUNDED, 1000)
    [alert] = notifier.of(RefundFailed)
    assert (alert.refund_ref, alert.amount) == ("re_b", Money(4000, "eur"))  # type: ignore[attr-defined]
    assert [r.levelname for r in caplog.records if "re_b" in r.getMessage()] == ["ERROR"]
    history = await bus.deps.store.history(paid.ref)
    assert (history[-1].from_status, history[-1].to_status) == ("refunded", "partially_refunded")
    assert history[-1].cause.endswith(":refund_failed")
    # Reported again (both failure events come), and the old total redelivered: no change.
    again = stripe_event("refund.failed", refund(paid, "re_b", 4000, "failed"))
    for e in (again, full):
        await bus.handle(e)
    assert await state(bus, paid) == (S.PARTIALLY_REFUNDED, 1000)
    assert len(notifier.of(RefundFailed)) == 1
    # The other one fails too: paid in full again, refundable again.
    await bus.handle(stripe_event("refund.failed", refund(paid, "re_a", 1000, "failed")))
    assert await state(bus, paid) == (S.PAID, 0)
    await bus.handle(c.RefundOrder(paid.ref))
    assert bus.deps.payments.refunds[-1][1] == Money(5000, "eur")  # type: ignore[union-attr]


async def test_c047_refund_from_the_shop_is_one_refund_however_often_asked(
    bus: MessageBus, paid: OrderView, payments: FakePaymentGateway, stripe: Stripe
) -> None:
    # The command twice (a double click): the same idempotency key, made of the order and
    # the state the refund was asked from.
    for _ in range(2):
        await bus.handle(c.RefundOrder(paid.ref, Money(1000, "eur")))
    keys = {key for _, _, key in payments.refunds}
    assert keys == {f"refund-{paid.ref}-0-1000"}
    # Stripe (the emulator) makes one refund of one key, however often it is sent.
    session = await stripe.gateway.open_checkout(request("R1"))
    await pay(stripe, session.id)
    intent = (await stripe.gateway.session_state(session.id)).payment_intent
    assert intent is not None
    ids = {await stripe.gateway.refund(intent, Money(500, "eur"), "refund-R1-0-500") for _ in "ab"}
    assert len(ids) == 1


async def test_c048_a_dispute_blocks_the_order_and_alerts(
    bus: MessageBus, paid: OrderView, notifier: FakeNotifier
) -> None:
    # Found by its payment alone: Stripe's disputes carry no order.
    dispute = event(PaymentEventKind.DISPUTE_CREATED, paid, order_ref=None, session_id=None)
    assert await bus.handle(dispute) == "dispute open: order disputed"
    assert await state(bus, paid) == (S.DISPUTED, 0)
    [alert] = notifier.of(OrderDisputed)
    assert alert.state == "open" and alert.order.ref == paid.ref  # type: ignore[attr-defined]
    assert not can_move(S.DISPUTED, S.FULFILLED)  # nothing is delivered while disputed
    assert (await bus.deps.store.order(paid.ref)).buyer_disputes == 1


@pytest.mark.parametrize(("outcome", "after"), [("won", S.PAID), ("lost", S.REFUNDED)])
async def test_c049_a_closed_dispute_settles_the_order(
    bus: MessageBus, paid: OrderView, outcome: str, after: OrderStatus
) -> None:
    dispute = {
        "id": "dp_1",
        "object": "dispute",
        "amount": 5000,
        "currency": "eur",
        "charge": "ch_" + paid.ref,
        "payment_intent": "pi_" + paid.ref,
        "status": "needs_response",
        "metadata": {},
    }
    await bus.handle(stripe_event("charge.dispute.created", dispute))
    closed = stripe_event("charge.dispute.closed", dispute | {"status": outcome})
    assert await bus.handle(closed) == f"dispute {outcome}: order {after}"
    assert (await state(bus, paid))[0] is after


async def test_c050_charge_refunded_without_its_refunds_list_reads_amount_refunded(
    bus: MessageBus, paid: OrderView
) -> None:
    obj = charge(paid, 1200)
    assert "refunds" not in obj  # as newer API versions send it
    applied = stripe_event("charge.refunded", obj)
    assert applied.event.amount_refunded == 1200 and applied.event.refunds == ()
    assert await bus.handle(applied) == "refund recorded: order partially_refunded"
    assert await state(bus, paid) == (S.PARTIALLY_REFUNDED, 1200)
    # The integration tests' own refund events (the same path) agree.
    await bus.handle(refunded(paid, 5000))
    assert await state(bus, paid) == (S.REFUNDED, 5000)
