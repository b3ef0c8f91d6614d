"""Use cases of the money: checkouts, payment events, refunds and reconciliation.

Money never lost: a payment always ends as a paid order or as a refund that was asked for,
and every event may come more than once, late or out of order.
"""

import logging
from datetime import datetime, timedelta

from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput, NotFound
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import (
    FAILED_REFUND,
    NO_PAYER,
    Payer,
    PaymentEvent,
    PaymentEventKind,
    payment_mismatch,
)
from commerce.service_layer import one_message, retries, shipping
from commerce.service_layer.checkout import money_ports
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.handlers import release_order
from commerce.service_layer.packages import Charge
from commerce.service_layer.ports import Ledger, PaymentError, PaymentGateway
from commerce.service_layer.results import (
    CardSaved,
    OrderDisputed,
    OrderRefunded,
    OrderView,
    PaymentProblem,
    PaymentStopped,
    PromotedFromWaitlist,
    RefundFailed,
    Release,
    Settlement,
)
from commerce.service_layer.settlement import settle_payment
from commerce.service_layer.unit_of_work import current, later, one_unit

log = logging.getLogger(__name__)
K = PaymentEventKind
S = OrderStatus


class OrderNotKnownYet(NotFound):
    """A payment event names an order of this shop that is not in the database (yet): its
    order may still be committing. The event is retried, not dropped."""


async def apply_payment_event(cmd: c.ApplyPaymentEvent, deps: Deps) -> str:
    """Applies a stored payment event to its order; returns what happened, for the log."""
    event = cmd.event
    if event.kind is K.OTHER:
        return "ignored: not an event livebuy uses"
    if event.kind is K.CARD_SAVED:
        return await _card_saved(event, deps)
    assert deps.ledger is not None, "payment events need the ledger"
    ledger = repos(deps).ledger
    order = await ledger.find_order(event.order_ref, event.session_id, event.payment_ref)
    if order is None:
        if event.order_ref is None:  # made outside this shop: names no order of ours
            return "ignored: no order of ours"
        raise OrderNotKnownYet(f"no order {event.order_ref.upper()} (yet)")
    cause = f"stripe:{event.id}"
    now = deps.clock.now()
    if event.kind in (K.CHECKOUT_COMPLETED, K.ASYNC_PAYMENT_SUCCEEDED, K.PAYMENT_SUCCEEDED):
        expected = expected_payment(order, event.shipping, event.tax)
        mismatch = payment_mismatch(expected, event.amount, event.currency)
        if mismatch and _split_by_checkout(event, order, expected):
            # A Checkout's payment with shipping or tax only its session tells apart: the
            # session's own event (or reconciliation, asking for the session) settles it.
            return "deferred: the checkout's session event settles it"
        outcome = await _paid(event, order, cause, mismatch, deps, ledger)
        paid = event.kind is K.CHECKOUT_COMPLETED and event.paid and mismatch is None
        if paid and await _no_card_yet(order, event.payment_ref, deps):
            # Split: reading the card the Checkout kept is a Stripe call, made after the
            # payment's unit of work has committed.
            await later(lambda: _keep_card(order, event.payment_ref, deps))
        return outcome
    if event.kind is K.PAYMENT_FAILED:
        # A Checkout page's failed attempt is reported too: only a charge under way counts.
        return await one_message.payment_failed(order, event.payment_ref, deps)
    if event.kind in (K.ASYNC_PAYMENT_FAILED, K.CHECKOUT_EXPIRED):
        failed = event.kind is K.ASYNC_PAYMENT_FAILED
        to = S.CANCELLED if failed else S.EXPIRED
        # The session is over at the provider already: nothing to close there.
        if await release_order(order.ref, to, cause, deps, close_checkout=False) is None:
            return f"ignored: order {order.status}"
        return "payment failed: hold released" if failed else "checkout expired: hold released"
    if event.kind is K.CHARGE_REFUNDED:
        if _another_payment(order, event):
            # The refund of a second payment (paid twice, refunded by settle_payment): the
            # order keeps the payment it was paid with.
            return f"refund of a second payment: order {order.status} unchanged"
        updated = await ledger.record_refund(
            order.ref, event.amount_refunded or 0, event.payment_ref, cause, now, event.refunds
        )
        if updated.status in (S.REFUNDED, S.PARTIALLY_REFUNDED):
            await deps.notifier.notify(OrderRefunded(updated))
        return f"refund recorded: order {updated.status}"
    if event.kind is K.REFUND_UPDATED:
        return await _refund_updated(event, order, cause, deps, ledger)
    # A closed dispute that was not lost (won, or an inquiry closed with a warning) leaves
    # the money with the seller.
    closed = "lost" if event.dispute_outcome == "lost" else "won"
    state = "open" if event.kind is K.DISPUTE_CREATED else closed
    updated = await ledger.record_dispute(order.ref, state, cause, now)
    await deps.notifier.notify(OrderDisputed(updated, state))
    return f"dispute {state}: order {updated.status}"


async def _refund_updated(
    event: PaymentEvent, order: OrderView, cause: str, deps: Deps, ledger: Ledger
) -> str:
    """One refund's news, by its id: counted once (charge.refunded reports it too); one
    that failed is taken back, and the operator alerted, once."""
    if event.refund_ref is None or event.amount is None or event.amount < 0:
        return "ignored: a refund without its id or amount"
    if _another_payment(order, event):
        return f"refund of a second payment: order {order.status} unchanged"
    status = event.refund_status or "pending"
    updated, failed = await ledger.refund_changed(
        order.ref, event.refund_ref, event.amount, status, event.payment_ref, cause,
        deps.clock.now(),
    )  # fmt: skip
    if not failed:
        if status in FAILED_REFUND:
            return f"refund {event.refund_ref} failed before: order {updated.status}"
        return f"refund {event.refund_ref} {status}: order {updated.status}"
    amount = Money(event.amount, order.amount.currency)
    log.error(
        "refund %s of order %s (%s) failed: the money did not go back; order %s",
        event.refund_ref, order.ref, amount, updated.status,
    )  # fmt: skip
    await deps.notifier.notify(RefundFailed(updated, event.refund_ref, amount))
    return f"refund {event.refund_ref} failed: order {updated.status}"


async def _paid(
    event: PaymentEvent,
    order: OrderView,
    cause: str,
    mismatch: str | None,
    deps: Deps,
    ledger: Ledger,
) -> str:
    now = deps.clock.now()
    if event.payment_customer:
        await ledger.remember_payment_customer(order.ref, event.payment_customer)
    if event.ship_to:
        # Stripe keeps the address the Checkout page asked for; the seller needs it with the
        # order, even one that goes to review or whose money is still on its way.
        await ledger.record_ship_to(order.ref, event.ship_to, now)
    if mismatch is not None:
        # We asked for the order's amount in its currency: anything else, or a report that
        # does not say, is for a human. Never paid; the payment stays on record (this event
        # is stored, its id in the order's history) for the seller to refund or accept.
        return await _to_review(order, f"{cause}:{mismatch}", mismatch, now, ledger)
    problem = await shipping.check_paid_shipping(order, event.ship_to, event.shipping,
                                                 event.tax, deps)  # fmt: skip
    if problem is not None:  # never silently under-charged: a human decides
        return await _to_review(order, f"{cause}:{problem}", problem, now, ledger)
    if not event.paid:  # a delayed method: the money comes with async_payment_succeeded
        await ledger.await_async_payment(order.ref, event.payment_ref, now)
        return "completed, payment pending"
    payer = await payer_of(event, order, deps)
    payment = event.payment_ref or event.session_id or event.id
    paid = c.SettlePayment(order.ref, payment, cause, payer=payer)
    settlement = await settle_payment(paid, deps)
    updated = await ledger.apply_pending(order.ref, cause, now)
    return f"{settlement.outcome.value}: order {updated.status}"


async def payer_of(event: PaymentEvent, order: OrderView, deps: Deps) -> Payer:
    """Who paid (#18: per-buyer limits and strikes follow the card and the email): what the
    event says, the buyer's saved card when the payment charged it (a one-message buy), else
    the provider is asked. Never inside a unit of work: the webhook's unit asks before it
    opens (payment_events.with_payer)."""
    if event.card is not None or event.payer_checked:
        return Payer(event.card, event.email)
    if deps.cards is not None and event.payment_method is not None:
        saved = await repos(deps).cards.card(order.identity)
        known = saved is not None and saved.fingerprint is not None
        if known and saved is not None and saved.payment_method == event.payment_method:
            return Payer(saved.fingerprint, event.email)
    if not asks_provider(event.payment_ref, deps) or current() is not None:
        return Payer(None, event.email)
    assert deps.payments is not None and event.payment_ref is not None
    found = await deps.payments.payer(event.payment_ref)
    return Payer(found.card, event.email or found.email)


def asks_provider(payment_ref: str | None, deps: Deps) -> bool:
    """Whether the provider can say who paid this payment (a Stripe payment intent)."""
    return deps.payments is not None and payment_ref is not None and payment_ref.startswith("pi_")


async def _payer_at_provider(payment_ref: str | None, deps: Deps) -> Payer:
    """Reconciliation's payer: asked of the provider (outside any unit of work)."""
    if not asks_provider(payment_ref, deps) or current() is not None:
        return NO_PAYER
    assert deps.payments is not None and payment_ref is not None
    return await deps.payments.payer(payment_ref)


def expected_payment(order: OrderView, shipping: int | None, tax: int | None) -> Money:
    """What a payment of the order must come to: its items, the shipping the payment says
    it paid (else the order's own, charged with it) and the tax the provider added."""
    shipped = order.shipping_amount if shipping is None else shipping
    return Money(order.amount.minor + shipped + (tax or 0), order.amount.currency)


def _split_by_checkout(event: PaymentEvent, order: OrderView, expected: Money) -> bool:
    """A payment_intent.succeeded of an order paid on a Checkout page, for more than the
    order knows of: the session's shipping option and tax make the difference."""
    return (
        event.kind is K.PAYMENT_SUCCEEDED
        and event.shipping is None
        and order.checkout_session is not None
        and not order.charging
        and isinstance(event.amount, int)
        and event.amount > expected.minor
    )


async def _to_review(
    order: OrderView, cause: str, mismatch: str, now: datetime, ledger: Ledger
) -> str:
    what = mismatch.replace("_", " ")
    if await ledger.transition(order.ref, S.NEEDS_REVIEW, cause, now) is None:
        return f"{what}: order {order.status} unchanged"  # e.g. fulfilled, or in review
    return f"{what}: order needs review"


def _another_payment(order: OrderView, event: PaymentEvent) -> bool:
    paid_with = order.payment_ref
    if paid_with is None or not paid_with.startswith(("pi_", "ch_")):
        return False  # not paid yet (a refund may come first), or paid without Stripe ids
    return paid_with not in (event.payment_ref, event.charge_ref)


async def _no_card_yet(order: OrderView, payment: str | None, deps: Deps) -> bool:
    if deps.cards is None or deps.payments is None or payment is None:
        return False
    return await repos(deps).cards.card(order.identity) is None


async def _keep_card(order: OrderView, payment: str | None, deps: Deps) -> None:
    """The buyer's first Checkout kept the card: one-message buys from now on."""
    if deps.cards is None or deps.payments is None or payment is None:
        return
    if await repos(deps).cards.card(order.identity) is not None:
        return
    try:
        card = await deps.payments.saved_card(payment_intent=payment)
    except PaymentError:
        return  # the next payment offers it again
    if card is not None:
        saved = await one_message.card_saved(order.identity, card, deps)
        await deps.notifier.notify(CardSaved(order.identity, saved))


async def _card_saved(event: PaymentEvent, deps: Deps) -> str:
    """A setup-mode checkout (`/card`) completed: the card replaces the one saved."""
    if deps.cards is None or deps.payments is None or not event.identity:
        return "ignored: no one-message buying here"
    card = await deps.payments.saved_card(setup_intent=event.setup_ref)
    if card is None:
        return "ignored: no card on the setup"
    saved = await one_message.card_saved(event.identity, card, deps)
    await deps.notifier.notify(CardSaved(event.identity, saved))
    return f"card saved for {event.identity}"


# Orders whose money may be given back (an order in review: its payment is kept on hold).
REFUNDABLE = frozenset({S.PAID, S.FULFILLED, S.PARTIALLY_REFUNDED, S.NEEDS_REVIEW})
# Orders of a package that still go out (or went): while one does, the package's shipping
# stays with the seller.
SENT = frozenset({S.PAID, S.FULFILLED, S.PARTIALLY_REFUNDED, S.DISPUTED, S.NEEDS_REVIEW})


async def refund_order(cmd: c.RefundOrder, deps: Deps) -> str:
    """Asks the provider for a refund; the order moves when its webhook confirms it.

    An order is refunded with its tax; its share of the package's shipping too when it is
    the package's last order still going out (the whole package is refunded then), not
    when other items of its bundle still ship. `bundle`: every order of the bundle, each in
    full with its shipping."""
    payments, _ = money_ports(deps)
    order = await repos(deps).orders.order(cmd.ref)
    charges = await _charges(order, deps)
    if cmd.bundle:
        if cmd.amount is not None or cmd.part:
            raise InvalidInput("a whole bundle is refunded in full: leave out the amount")
        return await _refund_package(order, charges, cmd.restock, payments, deps)
    mine, others = charges[0], charges[1:]
    if order.payment_ref is None or order.status not in REFUNDABLE:
        raise InvalidInput(f"order {order.ref} is {order.status.value}: nothing to refund")
    alone = not any(o.status in SENT for o in others)
    left = mine.items + mine.tax + (mine.shipping if alone else 0) - mine.refunded
    currency = order.amount.currency
    amount = cmd.amount or (Money.parse(cmd.part, currency) if cmd.part else None)
    amount = amount or Money(left, currency)
    if amount.currency != currency:
        raise InvalidInput(f"order {order.ref} was paid in {currency.upper()}")
    if not 0 < amount.minor <= left:
        raise InvalidInput(f"order {order.ref} has {Money(max(left, 0), currency)} left to refund")
    refund_id = await _refund(mine, amount.minor, payments)
    if cmd.restock:
        await _restock(order.ref, deps)
    return refund_id


async def _charges(order: OrderView, deps: Deps) -> list[Charge]:
    if deps.shipments is None:  # no package store: the order alone, as it was charged
        refunded = order.refunded.minor if order.refunded else 0
        return [
            Charge(order.ref, order.status, order.payment_ref, order.amount.currency,
                   order.amount.minor, 0, 0, refunded)
        ]  # fmt: skip
    return await repos(deps).shipments.charges(order.ref)


async def _refund_package(
    order: OrderView, charges: list[Charge], restock: bool, payments: PaymentGateway, deps: Deps
) -> str:
    due = [
        ch for ch in charges
        if ch.status in REFUNDABLE and ch.payment_ref is not None and ch.paid > ch.refunded
    ]  # fmt: skip
    if not due:
        raise InvalidInput(f"the bundle of order {order.ref} has nothing left to refund")
    ids = [await _refund(ch, ch.paid - ch.refunded, payments) for ch in due]
    if restock:
        for ch in due:
            await _restock(ch.ref, deps)
    return ", ".join(ids)


async def _refund(charge: Charge, minor: int, payments: PaymentGateway) -> str:
    assert charge.payment_ref is not None
    # The key names the state the refund was asked from: a retry is the same refund, a
    # second partial refund a new one.
    key = f"refund-{charge.ref}-{charge.refunded}-{minor}"
    return await payments.refund(charge.payment_ref, Money(minor, charge.currency), key)


async def _restock(ref: str, deps: Deps) -> None:
    for promoted in await repos(deps).holds.restock(ref, deps.clock.now()):
        promoted = await one_message.pay_won(promoted, False, deps)
        await deps.notifier.notify(PromotedFromWaitlist(promoted))


async def reconcile(cmd: c.Reconcile, deps: Deps) -> list[str]:
    """Repairs what lost webhooks left behind; returns one line per change.

    Recent checkouts are asked about by session; a delayed payment under way (a one-message
    charge that answered `processing`, a Checkout paid by SEPA) by its payment, however old,
    until LIVEBUY_ASYNC_PAYMENT_WAIT has passed: then it is asked one last time and the
    order paid, or released with the buyer told. A failed question is asked again later
    (retries.py), a refused one never."""
    payments, ledger = money_ports(deps)
    changes = []
    now = deps.clock.now()
    for order in await ledger.to_reconcile(now - cmd.since, now):
        try:
            if order.payment_pending_since is not None and order.payment_ref is not None:
                change = await _reconcile_payment(order, order.payment_ref, payments, deps)
            else:
                change = await _reconcile_session(order, payments, ledger, deps)
        except PaymentError as exc:
            if retries.refused(exc):
                outcome = await retries.call_failed(order, exc, "reconcile", deps)
                changes.append(f"{order.ref}: {outcome}")
            else:
                await retries.call_failed(order, exc, "reconcile", deps)
                changes.append(f"{order.ref}: could not ask the payment provider ({exc})")
            continue
        await retries.call_ok(order, deps)
        if change:
            changes.append(f"{order.ref}: {change}")
    return changes + await _missed_events(cmd.since, payments, ledger, deps)


# How far back the provider lists events (Stripe: 30 days); older gaps are found by their
# completed checkout sessions.
EVENT_HISTORY = timedelta(days=30)


async def _missed_events(
    since: timedelta, payments: PaymentGateway, ledger: Ledger, deps: Deps
) -> list[str]:
    """Events whose delivery failed (an endpoint down or disabled): stored and applied as
    the webhook would, each once (an event already stored is left to the webhook's own
    re-processing). A window beyond the provider's event history also asks for every
    checkout completed in it, and repairs its order as reconciliation does."""
    now = deps.clock.now()
    changes = []
    try:
        missed = await payments.missed_events(now - min(since, EVENT_HISTORY))
        sessions = await payments.completed_sessions(now - since) if since > EVENT_HISTORY else []
    except PaymentError as exc:
        log.warning("could not list missed payment events: %s", exc)
        return []
    for event, payload in reversed(missed):  # listed newest first: applied in their order
        if await ledger.store_event(event.id, event.type, payload, now):
            continue  # delivered after all, or stored and being processed
        try:
            outcome = await apply_payment_event(c.ApplyPaymentEvent(event), deps)
        except Exception as exc:  # kept for the webhook's re-processing pass
            log.exception("missed payment event %s (%s) failed", event.id, event.type)
            await ledger.mark_event(event.id, f"error: {type(exc).__name__}", now, False)
            continue
        await ledger.mark_event(event.id, outcome, now, True)
        if not outcome.startswith(("ignored", "unchanged")):  # a change, not a no-op
            changes.append(f"{event.id} (missed {event.type}): {outcome}")
    for session in sessions:
        order = await ledger.find_order(None, session, None)
        if order is None or order.status not in RECONCILABLE:
            continue
        try:
            change = await _reconcile_session(order, payments, ledger, deps)
        except PaymentError as exc:
            changes.append(f"{order.ref}: could not ask the payment provider ({exc})")
            continue
        if change:
            changes.append(f"{order.ref}: {change}")
    return changes


# An order a completed session may still have to pay (the others are paid or beyond it).
RECONCILABLE = frozenset({S.RESERVED, S.CHECKOUT_OPEN, S.EXPIRED, S.CANCELLED})


async def check_payment(cmd: c.CheckPayment, deps: Deps) -> OrderView:
    """The buyer's return from Checkout: an open order whose session the provider reports
    paid is settled now, as its webhook would; both at once settle it once. The order as
    it is then (unchanged when the provider cannot be asked: the webhook will tell)."""
    order = await repos(deps).orders.order(cmd.ref)
    if (
        order.status not in (S.RESERVED, S.CHECKOUT_OPEN)
        or order.checkout_session is None
        or deps.payments is None
        or deps.ledger is None
    ):
        return order
    try:
        await _reconcile_session(order, deps.payments, repos(deps).ledger, deps)
    except PaymentError:
        return order
    return await repos(deps).orders.order(cmd.ref)


async def _reconcile_session(
    order: OrderView, payments: PaymentGateway, ledger: Ledger, deps: Deps
) -> str | None:
    assert order.checkout_session is not None
    state = await payments.session_state(order.checkout_session)
    if state.status == "complete" and state.payment_status in ("paid", "no_payment_required"):
        if state.ship_to:  # the lost webhook would have brought it (first one wins)
            await ledger.record_ship_to(order.ref, state.ship_to, deps.clock.now())
        if order.status in (S.PAID, S.FULFILLED):
            return None
        expected = expected_payment(order, state.shipping, state.tax)
        mismatch = payment_mismatch(expected, state.amount_total, state.currency)
        if mismatch is None:
            mismatch = await shipping.check_paid_shipping(
                order, state.ship_to, state.shipping, state.tax, deps
            )
        if mismatch is not None:  # as with the webhook: never paid, a human looks at it
            if order.status is S.NEEDS_REVIEW:
                return None
            cause = f"reconcile:{state.id}:{mismatch}"
            outcome = await _to_review(order, cause, mismatch, deps.clock.now(), ledger)
            return f"paid at the provider, {outcome}"
        payer = await _payer_at_provider(state.payment_intent, deps)  # Stripe: before
        payment = state.payment_intent or state.id
        settle = c.SettlePayment(order.ref, payment, "reconcile", payer=payer)
        settlement = await one_unit(deps.units, lambda: settle_payment(settle, deps))
        return f"paid at the provider -> {settlement.order.status}"
    if state.status == "expired" and order.status in (S.RESERVED, S.CHECKOUT_OPEN):
        release = await repos(deps).holds.release(
            order.ref, S.EXPIRED, "reconcile", deps.clock.now()
        )
        if release is not None:
            return "checkout expired -> expired"
    return None


async def _reconcile_payment(
    order: OrderView, payment: str, payments: PaymentGateway, deps: Deps
) -> str | None:
    """A delayed payment under way: paid, failed, or still processing (until its wait)."""
    state = await payments.payment_state(payment)
    now = deps.clock.now()
    if state.status == "succeeded":
        mismatch = payment_mismatch(expected_payment(order, None, None), state.amount,
                                    state.currency)  # fmt: skip
        if mismatch is not None:  # as the webhook does: never paid, a human looks at it
            assert deps.ledger is not None
            cause = f"reconcile:{state.id}:{mismatch}"
            outcome = await _to_review(order, cause, mismatch, now, repos(deps).ledger)
            return f"paid at the provider, {outcome}"
        cause = f"reconcile:{state.id}"
        payer = await _payer_at_provider(state.id, deps)  # Stripe: before the unit

        async def paid() -> Settlement:
            settlement = await settle_payment(
                c.SettlePayment(order.ref, state.id, cause, payer=payer), deps
            )
            if deps.ledger is not None:  # refunds and disputes reported before it
                await repos(deps).ledger.apply_pending(order.ref, cause, now)
            return settlement

        settlement = await one_unit(deps.units, paid)
        return f"paid at the provider -> {settlement.order.status}"
    if state.status in FAILED_PAYMENT:
        return await _give_back(order, f"reconcile:{state.id}:failed", PaymentProblem.FAILED, deps)
    assert order.payment_pending_since is not None
    if now < order.payment_pending_since + deps.async_payment_wait:
        return None  # still under way: asked again next time
    cause = f"reconcile:{state.id}:{state.status}_too_long"
    return await _give_back(order, cause, PaymentProblem.TIMED_OUT, deps)


async def _give_back(
    order: OrderView, cause: str, problem: PaymentProblem, deps: Deps
) -> str | None:
    """The payment will not come: units back (the waitlist promoted), the buyer told, in one
    unit of work. A payment that still arrives is honoured or refunded (settle_payment)."""

    async def give_back() -> Release | None:
        released = await release_order(order.ref, S.CANCELLED, cause, deps, close_checkout=False)
        if released is not None:
            await deps.notifier.notify(PaymentStopped(released.order, problem))
        return released

    release = await one_unit(deps.units, give_back)
    if release is None:
        return None
    what = "failed" if problem is PaymentProblem.FAILED else "did not complete in time"
    return f"payment {what} at the provider -> {release.order.status}"


# A PaymentIntent that went back to these will not be paid without the buyer.
FAILED_PAYMENT = frozenset({"requires_payment_method", "canceled"})
