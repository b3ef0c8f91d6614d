"""Settling a payment: the order is paid, or the money goes back (asked for after the
commit: Stripe is never called inside a unit of work)."""

from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.events import HoldReleased, emit
from commerce.service_layer.results import (
    OrderPaid,
    PaymentProblem,
    PaymentStopped,
    Settlement,
    SettlementOutcome,
)
from commerce.service_layer.unit_of_work import later

# What the buyer of a payment over a per-buyer limit is told.
OVER_LIMIT = {
    SettlementOutcome.OVER_LIMIT: PaymentProblem.OVER_LIMIT,
    SettlementOutcome.OVER_LIMIT_REVIEW: PaymentProblem.OVER_LIMIT_REVIEW,
}


async def settle_payment(cmd: c.SettlePayment, deps: Deps) -> Settlement:
    """Money never lost: a payment ends as a paid order or as a refund that is asked for
    (or, over a per-buyer limit with LIVEBUY_LIMIT_BREACH=review, as an order in review)."""
    settlement = await repos(deps).holds.settle(
        cmd.order_ref, cmd.payment_ref, cmd.cause, deps.clock.now(), cmd.payer, deps.limit_breach
    )
    order = settlement.order
    if settlement.outcome is SettlementOutcome.PAID:
        await deps.notifier.notify(OrderPaid(order, tell_buyer=not cmd.answered))
    problem = OVER_LIMIT.get(settlement.outcome)
    if problem is not None and not settlement.again:
        # The buyer is told why, in the payment's transaction (the outbox).
        await deps.notifier.notify(PaymentStopped(order, problem))
        if settlement.release is not None:  # the units it held: to the waitlist first
            await emit(HoldReleased(settlement.release, close_checkout=False), deps)
    if settlement.outcome is SettlementOutcome.OVER_LIMIT_REVIEW:
        return settlement  # kept for the seller: nothing refunded
    # A payment that found no units (or went over the limit) is refunded. If asking for the
    # refund fails, the error reaches the webhook (500, Stripe retries) and the retry lands
    # here again on an order still in needs_review with nothing refunded: ask again. The key
    # makes it one refund however often the payment is reported.
    unrefunded = order.status is OrderStatus.NEEDS_REVIEW and not (
        order.refunded and order.refunded.minor
    )
    if unrefunded:
        await _refund(cmd.payment_ref, f"refund-unfilled-{order.ref}", deps)
    if settlement.outcome is SettlementOutcome.PAID_TWICE:
        await _refund(cmd.payment_ref, f"refund-twice-{cmd.payment_ref}", deps)
    return settlement


async def _refund(payment_ref: str, key: str, deps: Deps) -> None:
    payments = deps.payments
    if payments is None:
        return

    async def ask() -> None:
        await payments.refund(payment_ref, None, key)

    # Split: the settlement commits first, then Stripe is asked (a crash in between leaves
    # the order in needs_review with nothing refunded, which the next delivery of the
    # payment, or reconciliation, asks again for).
    await later(ask)
