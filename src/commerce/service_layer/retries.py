"""Calls to the payment provider made in the background (the sweeper, reconciliation): a
failure is kept on the order, so that every worker, and every restart, waits as long as the
backoff says before calling again for it, or never calls again when the provider refused.

A refusal (a 4xx other than 409/429, or `Stripe-Should-Retry: false`) would be refused
again: the order goes to review with the provider's words in its history, and the buyer is
told that the shop will get back to them.
"""

from datetime import timedelta

from commerce.domain.backoff import Backoff, Verdict, verdict
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import PaymentError
from commerce.service_layer.results import OrderView, PaymentProblem, PaymentStopped

BACKOFF = Backoff()
# A refused call is not made again for the order: "never", as a time every query compares.
NEVER = timedelta(days=3650)


def refused(exc: PaymentError) -> bool:
    """The provider will refuse this request again, however often it is sent."""
    return verdict(exc.status, exc.should_retry) is Verdict.GIVE_UP


async def call_failed(
    order: OrderView, exc: PaymentError, what: str, deps: Deps, tell: bool = True
) -> str:
    """Records a failed background call (`what`: "charge", "reconcile", ...) for `order`;
    returns what happened, for the log and reconciliation's report. `tell`: a refusal is
    told to the buyer by a notice (False: the answer the call was made for says it)."""
    if deps.ledger is None:
        return f"{what} failed ({exc})"
    ledger = repos(deps).ledger
    now = deps.clock.now()
    if not refused(exc):
        attempts = await ledger.payment_call_failed(
            order.ref, now, lambda n: BACKOFF.delay(n, exc.retry_after)
        )
        return f"{what} failed ({exc}), attempt {attempts}: tried again later"
    status = exc.status if exc.status is not None else "-"
    cause = f"{what}:refused:{status}: {exc}"
    reviewed = await ledger.give_up_payment_call(order.ref, cause, now, now + NEVER)
    if reviewed is None:
        return f"{what} refused ({exc}): not asked again"
    if tell:
        await deps.notifier.notify(PaymentStopped(reviewed, PaymentProblem.REVIEW))
    return f"{what} refused ({exc}): order needs review"


async def call_ok(order: OrderView, deps: Deps) -> None:
    """A background call for the order went through: a later failure backs off anew."""
    if deps.ledger is not None and order.payment_attempts:
        await repos(deps).ledger.payment_call_ok(order.ref)
