"""Payments settle orders: held units are paid, first-paid units go to the first payers, and a
payment that finds no units left is refunded; nothing is applied twice."""

import asyncio
from datetime import timedelta

import pytest

from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import PaymentEvent, PaymentEventKind
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import PaymentError
from commerce.service_layer.results import (
    ClaimOutcome,
    DropStarted,
    OrderPaid,
    OrderRefunded,
    RefusalReason,
    SettlementOutcome,
)
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop

FIRST_PAID = DropPolicy.FIRST_PAID


def pay(ref: str, payment: str = "pi_1", cause: str = "evt_1") -> c.SettlePayment:
    return c.SettlePayment(ref, payment, cause)


async def test_paying_a_hold(bus: MessageBus, notifier: FakeNotifier) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=2)
    won = await buy(bus, "web:anna")
    assert won.order is not None
    settled = await bus.handle(pay(won.order.ref))
    assert settled.outcome is SettlementOutcome.PAID
    assert settled.order.status is OrderStatus.PAID
    assert [type(n) for n in notifier.notices] == [DropStarted, OrderPaid]
    again = await bus.handle(pay(won.order.ref, cause="evt_1-redelivered"))
    assert again.outcome is SettlementOutcome.UNCHANGED
    history = await bus.deps.store.history(won.order.ref)
    assert [(e.to_status, e.cause) for e in history] == [
        ("reserved", history[0].cause),
        ("paid", "evt_1"),
    ]
    assert (await bus.deps.store.product("TEE")).stock == 9
    # A paid order is no hold: /pass has nothing to give back.
    assert (
        await bus.deps.store.release(
            won.order.ref, OrderStatus.CANCELLED, "x", won.order.created_at
        )
        is None
    )


async def test_first_paid_claims_take_nothing_until_paid(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, policy=FIRST_PAID)
    anna = await buy(bus, "web:anna")
    ben = await buy(bus, "web:ben")
    assert anna.outcome is ClaimOutcome.WON and ben.outcome is ClaimOutcome.WON
    assert anna.order is not None and ben.order is not None
    assert (await bus.deps.store.drops())[0].remaining == 1
    first = await bus.handle(pay(ben.order.ref, "pi_ben"))
    assert first.outcome is SettlementOutcome.PAID
    sold_out = await buy(bus, "web:cleo")
    assert sold_out.outcome is ClaimOutcome.WAITLISTED
    payments = FakePaymentGateway()
    bus.deps.payments = payments
    late = await bus.handle(pay(anna.order.ref, "pi_anna"))
    assert late.outcome is SettlementOutcome.NO_STOCK
    assert late.order.status is OrderStatus.NEEDS_REVIEW
    assert payments.refunds == [("pi_anna", None, f"refund-unfilled-{anna.order.ref}")]
    assert (await bus.deps.store.product("TEE")).stock == 9


async def test_first_paid_checks_free_units_and_releases_only_the_limit(
    bus: MessageBus,
) -> None:
    await add_product(bus, stock=1, variants=("S", "M"))
    await start_drop(bus, quantity=2, policy=FIRST_PAID, limit=1)
    too_many = await buy(bus, "web:anna", variant=("S",), quantity=2)
    assert (too_many.outcome, too_many.reason) == (
        ClaimOutcome.REFUSED,
        RefusalReason.LIMIT_REACHED,
    )
    won = await buy(bus, "web:anna", variant=("S",))
    assert won.order is not None
    assert (await buy(bus, "web:anna", variant=("M",))).reason is RefusalReason.LIMIT_REACHED
    await bus.handle(pay(won.order.ref))
    gone = await buy(bus, "web:ben", variant=("S",))
    assert (gone.outcome, gone.reason) == (ClaimOutcome.REFUSED, RefusalReason.VARIANT_SOLD_OUT)
    m = await buy(bus, "web:ben", variant=("M",))
    assert m.order is not None
    release = await bus.handle(c.CancelOrder("web:ben", m.order.ref))
    assert release.order.status is OrderStatus.CANCELLED
    stock = {v.label: v.stock for v in (await bus.deps.store.product("TEE")).variants}
    assert stock == {"S": 0, "M": 1}  # the cancelled first-paid order never took its unit
    assert (await buy(bus, "web:ben", variant=("M",))).outcome is ClaimOutcome.WON


async def test_two_payments_for_the_last_unit_at_once(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, policy=FIRST_PAID)
    buyers = [await buy(bus, f"web:b{i}") for i in range(6)]
    refs = [b.order.ref for b in buyers if b.order]
    assert len(refs) == 6
    results = await asyncio.gather(*(bus.handle(pay(r, f"pi_{r}", f"evt_{r}")) for r in refs))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["no_stock"] * 5 + ["paid"]
    assert (await bus.deps.store.product("TEE")).stock == 9
    assert (await bus.deps.store.drops())[0].remaining == 0


async def test_late_payment_after_expiry(bus: MessageBus, clock: FakeClock) -> None:
    await add_product(bus, stock=2)
    await start_drop(bus, quantity=2, hold=timedelta(minutes=1))
    anna = await buy(bus, "web:anna")
    ben = await buy(bus, "web:ben")
    assert anna.order is not None and ben.order is not None
    clock.advance(minutes=2)
    assert len(await bus.handle(c.ExpireHolds())) == 2
    # Anna's money arrives late while the units are still free: honoured.
    honoured = await bus.handle(pay(anna.order.ref, "pi_a"))
    assert honoured.outcome is SettlementOutcome.PAID
    # Someone else takes the last unit, then Ben's late payment arrives: refunded.
    assert (await buy(bus, "web:cleo")).outcome is ClaimOutcome.WON
    payments = FakePaymentGateway()
    bus.deps.payments = payments
    refused = await bus.handle(pay(ben.order.ref, "pi_b"))
    assert refused.outcome is SettlementOutcome.NO_STOCK
    assert payments.refunds == [("pi_b", None, f"refund-unfilled-{ben.order.ref}")]
    history = await bus.deps.store.history(ben.order.ref)
    assert [e.to_status for e in history] == ["reserved", "expired", "needs_review"]
    assert (await bus.deps.store.product("TEE")).stock == 0


async def test_payment_and_expiry_at_the_same_moment(bus: MessageBus, clock: FakeClock) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, hold=timedelta(minutes=1))
    won = await buy(bus, "web:anna")
    assert won.order is not None
    clock.advance(minutes=2)
    await asyncio.gather(bus.handle(c.ExpireHolds()), bus.handle(pay(won.order.ref)))
    order = await bus.deps.store.order(won.order.ref)
    assert order.status is OrderStatus.PAID  # either way round the money wins the unit
    assert (await bus.deps.store.product("TEE")).stock == 9
    assert (await bus.deps.store.drops())[0].remaining == 0


async def test_a_failed_refund_is_asked_again_when_the_payment_is_reported_again(
    bus: MessageBus,
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, policy=FIRST_PAID)
    first, second = await buy(bus, "web:a"), await buy(bus, "web:b")
    assert first.order is not None and second.order is not None
    await bus.handle(pay(first.order.ref, "pi_a"))
    payments = FakePaymentGateway(down=True)
    bus.deps.payments = payments
    with pytest.raises(PaymentError):
        await bus.handle(pay(second.order.ref, "pi_b", "evt_b"))
    assert (await bus.deps.store.order(second.order.ref)).status is OrderStatus.NEEDS_REVIEW
    payments.down = False
    retried = await bus.handle(pay(second.order.ref, "pi_b", "evt_b"))
    assert retried.outcome is SettlementOutcome.UNCHANGED
    assert payments.refunds == [("pi_b", None, f"refund-unfilled-{second.order.ref}")]


async def test_a_second_payment_of_a_paid_order_is_refunded(
    bus: MessageBus, notifier: FakeNotifier
) -> None:
    """Paid through the link and again by another way (a saved card, a Telegram invoice):
    the second payment is recorded on the order and refunded, the order paid once."""
    await add_product(bus)
    await start_drop(bus, quantity=2)
    payments = FakePaymentGateway()
    bus.deps.payments = payments
    won = await buy(bus, "web:anna")
    assert won.order is not None
    assert (await bus.handle(pay(won.order.ref, "pi_link"))).outcome is SettlementOutcome.PAID
    twice = await bus.handle(pay(won.order.ref, "ch_invoice", "telegram:tg_1"))
    assert twice.outcome is SettlementOutcome.PAID_TWICE
    assert twice.order.status is OrderStatus.PAID and twice.order.payment_ref == "pi_link"
    assert payments.refunds == [("ch_invoice", None, "refund-twice-ch_invoice")]
    # The same payment reported again is not a third one, and a session id is no payment.
    same = await bus.handle(pay(won.order.ref, "pi_link", "evt_again"))
    assert same.outcome is SettlementOutcome.UNCHANGED
    by_session = await bus.handle(pay(won.order.ref, "cs_test_1", "reconcile"))
    assert by_session.outcome is SettlementOutcome.UNCHANGED
    assert len(payments.refunds) == 1
    assert len([n for n in notifier.notices if isinstance(n, OrderPaid)]) == 1
    causes = [e.cause for e in await bus.deps.store.history(won.order.ref)]
    assert causes[-1] == "telegram:tg_1:paid_twice"


async def test_the_refund_of_a_second_payment_leaves_the_order_paid(
    bus: MessageBus, notifier: FakeNotifier
) -> None:
    """Stripe reports the refund livebuy asked for the second payment (its metadata names
    the order): the order keeps the first payment and stays paid."""
    await add_product(bus)
    await start_drop(bus, quantity=2)
    bus.deps.payments = payments = FakePaymentGateway()
    won = await buy(bus, "web:anna")
    assert won.order is not None
    await bus.handle(pay(won.order.ref, "pi_link"))
    await bus.handle(pay(won.order.ref, "ch_invoice", "telegram:tg_1"))
    refund_of_second = PaymentEvent(
        "evt_refund", PaymentEventKind.CHARGE_REFUNDED, "charge.refunded",
        order_ref=won.order.ref, payment_ref=None, charge_ref="ch_invoice",
        amount=2500, amount_refunded=2500,
    )  # fmt: skip
    outcome = await bus.handle(c.ApplyPaymentEvent(refund_of_second))
    assert "second payment" in outcome
    order = await bus.deps.store.order(won.order.ref)
    assert order.status is OrderStatus.PAID and (
        order.refunded is None or not order.refunded.minor
    )
    assert not [n for n in notifier.notices if isinstance(n, OrderRefunded)]
    # The refund of the payment the order was paid with still counts.
    own = PaymentEvent(
        "evt_refund_own", PaymentEventKind.CHARGE_REFUNDED, "charge.refunded",
        order_ref=won.order.ref, payment_ref="pi_link", charge_ref="ch_link",
        amount=2500, amount_refunded=2500,
    )  # fmt: skip
    await bus.handle(c.ApplyPaymentEvent(own))
    assert (await bus.deps.store.order(won.order.ref)).status is OrderStatus.REFUNDED
    # A payment arriving for the refunded order is refunded too, keyed by that payment.
    late = await bus.handle(pay(won.order.ref, "pi_late", "evt_late"))
    assert late.outcome is SettlementOutcome.PAID_TWICE
    assert payments.refunds[-1] == ("pi_late", None, "refund-twice-pi_late")
