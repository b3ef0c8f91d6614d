"""Payment webhooks as the core keeps them: stored before they are acknowledged, applied,
and marked with what became of them (an unknown order is waited for, then kept as a dead
letter that reconciliation retries). The HTTP endpoint (webhooks/stripe.py) verifies and
parses; everything it writes goes through these commands.

A delivery is one unit of work (`receive_payment_event`): the event stored once, applied to its
order and marked processed in one transaction, with the notices it causes. Split where the
event needs Stripe or another task: a card saved with a setup Checkout is read from Stripe,
and a one-message charge's events race the charge's own answer (written by the task that
charged); those events are stored (and claimed) in the unit and applied after its commit. A
refund to ask for, or a card to keep, is asked of Stripe after the commit, and the event is
marked processed after that: a failure leaves it unprocessed, for Stripe's next delivery and
the reprocessing duty."""

from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum

from commerce.domain import commands as c
from commerce.domain.payments import PaymentEvent, PaymentEventKind
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.payments import OrderNotKnownYet, apply_payment_event, asks_provider
from commerce.service_layer.ports import Ledger, PaidCheckout
from commerce.service_layer.results import OrderPaid
from commerce.service_layer.unit_of_work import current, later

K = PaymentEventKind
# How long an event naming an unknown order is answered 5xx (its order may be committing
# still) before it is acknowledged and kept as a dead letter that reconciliation retries.
WAIT_FOR_ORDER = timedelta(minutes=10)
# Applied after the stored event commits, as before the unit of work: a card read from Stripe;
# a failed one-message charge waits for the charge's own answer; a succeeded one races that
# answer, which tells the buyer (settled inside one long transaction, the webhook would win
# and the buyer hear twice).
APPLIED_AFTER_COMMIT = frozenset({K.CARD_SAVED, K.PAYMENT_FAILED, K.PAYMENT_SUCCEEDED})


class Processing(StrEnum):
    APPLIED = "applied"  # done: `outcome` says what happened to the order
    WAITING = "waiting"  # its order is unknown yet: left pending, retried
    DEAD_LETTER = "dead_letter"  # unknown for too long: acknowledged, kept for reconciliation
    FAILED = "failed"  # left pending, retried


@dataclass(frozen=True, slots=True)
class EventProcessed:
    status: Processing
    outcome: str = ""
    error: BaseException | None = None  # why it is waiting, dead or failed (for the log)

    @property
    def settled(self) -> bool:
        """Nothing left for the provider's retries to do (a 2xx)."""
        return self.status in (Processing.APPLIED, Processing.DEAD_LETTER)


def ledger_of(deps: Deps) -> Ledger:
    if deps.ledger is None:  # pragma: no cover (bootstrap always wires it)
        raise RuntimeError("this core was built without a payment ledger")
    return repos(deps).ledger


async def store_event(cmd: c.StorePaymentEvent, deps: Deps) -> bool:
    now = deps.clock.now()
    return await ledger_of(deps).store_event(cmd.event_id, cmd.type, cmd.payload, now)


async def keep_malformed(cmd: c.KeepMalformedEvent, deps: Deps) -> str:
    return await ledger_of(deps).store_malformed(cmd.payload, cmd.reason, deps.clock.now())


async def mark_event(cmd: c.MarkPaymentEvent, deps: Deps) -> None:
    await ledger_of(deps).mark_event(cmd.event_id, cmd.outcome, deps.clock.now(), cmd.done)


async def process_event(cmd: c.ProcessPaymentEvent, deps: Deps) -> EventProcessed:
    """Applies a stored event; a failure leaves it pending (the provider retries, and so
    does the reprocessing duty)."""
    ledger, event = ledger_of(deps), cmd.event
    try:
        outcome = await apply_payment_event(c.ApplyPaymentEvent(event), deps)
    except OrderNotKnownYet as exc:
        # Its order may still be committing: retried for a while, then a dead letter.
        now = deps.clock.now()
        if await ledger.wait_for_order(event.id, f"waiting: {exc}", now - cmd.wait_for_order):
            return EventProcessed(Processing.WAITING, error=exc)
        await ledger.dead_letter(event.id, str(exc), now)
        return EventProcessed(Processing.DEAD_LETTER, error=exc)
    except Exception as exc:
        error = f"error: {type(exc).__name__}: {exc}"
        await ledger.mark_event(event.id, error, deps.clock.now(), False)
        return EventProcessed(Processing.FAILED, error=exc)
    await ledger.mark_event(event.id, outcome, deps.clock.now(), True)
    return EventProcessed(Processing.APPLIED, outcome)


async def claim_event(cmd: c.ClaimPaymentEvent, deps: Deps) -> bool:
    return await ledger_of(deps).claim_event(cmd.event_id, deps.clock.now())


@dataclass
class Received:
    """How a delivery ended. Filled in by the unit of work and, for what is applied after
    its commit, by the bus's follow-up, before `bus.handle` returns."""

    outcome: str = ""
    duplicate: bool = False
    retry: bool = False  # answer 5xx: Stripe delivers it again (its order may be committing)
    dead_letter: bool = False  # acknowledged; reconciliation applies it once its order exists


async def receive_payment_event(cmd: c.ReceivePaymentEvent, deps: Deps) -> Received:
    ledger, event, now = ledger_of(deps), cmd.event, deps.clock.now()
    received = Received()
    if await ledger.store_event(event.id, event.type, cmd.payload, now):
        received.duplicate, received.outcome = True, "duplicate"
        return received
    if cmd.ignore is not None:
        received.outcome = f"ignored: {cmd.ignore}"
        await ledger.mark_event(event.id, received.outcome, now, True)
        return received
    if event.kind in APPLIED_AFTER_COMMIT:

        async def apply() -> None:
            await apply_stored(event, received, deps)

        await later(apply)
        return received
    await apply_stored(event, received, deps)
    return received


async def receive_paid_checkouts(cmds: list[c.ReceivePaymentEvent], deps: Deps) -> list[Received]:
    """The group commit's batch path (inside its unit of work): the deliveries at the head
    of `cmds` that are duplicates, or paid Checkouts of orders holding their units, are
    answered by the ledger in one call, each exactly as `receive_payment_event` would (a
    duplicate told so; else stored once, the order paid, the address and the provider's
    customer kept, its history, the event marked processed, the buyer's notice). Answers a
    prefix of `cmds`, possibly none: the first delivery that needs more (see
    `Ledger.pay_checkouts`) is left to `receive_payment_event`, and so is the rest."""
    if deps.ledger is None or not cmds:
        return []
    ledger = repos(deps).ledger
    check_card = deps.cards is not None and deps.payments is not None
    received = []
    run = [_paid_checkout(cmd, deps) for cmd in cmds]
    for done in await ledger.pay_checkouts(run, deps.clock.now(), check_card):
        if done.order is None:
            received.append(Received(done.outcome, duplicate=True))
            continue
        await deps.notifier.notify(OrderPaid(done.order))
        received.append(Received(done.outcome))
    return received


def _paid_checkout(cmd: c.ReceivePaymentEvent, deps: Deps) -> PaidCheckout:
    """The delivery for the batch path. It applies it only when its event is a paid
    Checkout of this mode that asks for nothing else: no shipping option or tax to check
    against a package, no payer to ask the provider for (else: answered there only as a
    duplicate)."""
    event = cmd.event
    applies = not (
        cmd.ignore is not None
        or event.kind is not K.CHECKOUT_COMPLETED
        or not event.paid
        or event.shipping is not None
        or event.tax
        or (deps.cards is not None and event.payment_method is not None)
    )
    return PaidCheckout(
        event_id=event.id,
        type=event.type,
        payload=cmd.payload,
        order_ref=event.order_ref,
        session_id=event.session_id,
        payment_ref=event.payment_ref,
        amount=event.amount,
        currency=event.currency,
        card=event.card,
        email=event.email,
        payment_customer=event.payment_customer,
        ship_to=event.ship_to,
        cause=f"stripe:{event.id}",
        payment=event.payment_ref or event.session_id or event.id,
        applies=applies,
    )


def _asks_for_payer(event: PaymentEvent, deps: Deps) -> bool:
    """A Checkout's payment whose card only the provider can tell."""
    return (
        event.kind in (K.CHECKOUT_COMPLETED, K.ASYNC_PAYMENT_SUCCEEDED)
        and event.paid
        and event.card is None
        and not event.payer_checked
        and asks_provider(event.payment_ref, deps)
    )


async def identify_payer(cmd: c.IdentifyPayer, deps: Deps) -> PaymentEvent:
    """The event with who paid (#18: the card's fingerprint), asked of the provider before
    the delivery's unit of work opens (Stripe is never called inside one), so that the
    payment and its per-buyer limit are applied in that one transaction. A failure is the
    delivery's: the event is kept and retried (its re-processing asks again, outside any
    unit: payments.payer_of)."""
    event = cmd.event
    if not _asks_for_payer(event, deps):
        return event
    assert deps.payments is not None and event.payment_ref is not None
    found = await deps.payments.payer(event.payment_ref)
    return replace(event, card=found.card, email=event.email or found.email, payer_checked=True)


async def apply_stored(event: PaymentEvent, received: Received, deps: Deps) -> None:
    """Applies a stored, claimed event and marks it processed (after what the applying left
    for after the commit), or leaves it for a retry while its order is unknown."""
    ledger, now = ledger_of(deps), deps.clock.now()
    try:
        outcome = await apply_payment_event(c.ApplyPaymentEvent(event), deps)
    except OrderNotKnownYet as exc:
        if await ledger.wait_for_order(event.id, f"waiting: {exc}", now - WAIT_FOR_ORDER):
            received.outcome, received.retry = f"waiting: {exc}", True
            return
        await ledger.dead_letter(event.id, str(exc), now)
        received.outcome, received.dead_letter = f"dead letter: {exc}", True
        return
    received.outcome = outcome

    async def mark() -> None:
        await ledger.mark_event(event.id, outcome, now, True)

    unit = current()
    if unit is not None and unit.pending():
        await later(mark)  # processed once what was split off has been done
    else:
        await mark()


async def payment_event_failed(cmd: c.PaymentEventFailed, deps: Deps) -> None:
    """A delivery that failed (its unit rolled back, or what followed the commit failed):
    the event is kept, once, with the error; Stripe's retry or `reprocess` applies it."""
    ledger, event, now = ledger_of(deps), cmd.event, deps.clock.now()
    await ledger.store_event(event.id, event.type, cmd.payload, now)
    await ledger.mark_event(event.id, f"error: {cmd.error}", now, False)
