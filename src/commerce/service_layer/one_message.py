"""One-message buying: a buyer whose card is saved buys with `#buy` and one confirm.

The tweet-to-buy promise (Amex's `#BuyKindle`, then `#ConfirmKindle`): the claim holds the
units, the buyer confirms privately, and the saved card is charged off-session. The order is
paid by whichever comes first, the provider's answer or its webhook, exactly once (settling is
idempotent). A decline, or a card that needs its owner present, falls back to a Checkout link
for the same held units. Promo drops are paid with the public message itself.
"""

import asyncio
from dataclasses import replace
from datetime import datetime

from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput, NotAllowed, NotFound
from commerce.domain.identity import ChatRef, Identity
from commerce.domain.money import Money
from commerce.domain.one_message import ConfirmRule
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import Payer
from commerce.domain.products import normalise_sku
from commerce.service_layer import retries, shipping
from commerce.service_layer.checkout import (
    by_invoice,
    expire_checkout,
    hand_out_link,
    link_maker,
    with_checkout,
)
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.events import HoldReleased
from commerce.service_layer.handlers import release_order, take_units
from commerce.service_layer.ports import (
    Charge,
    ChargeRequest,
    ChargeStatus,
    Linked,
    PaymentError,
    SavedCard,
)
from commerce.service_layer.results import (
    CardView,
    ClaimOutcome,
    ClaimResult,
    OrderView,
    PaymentFellBack,
    PaymentOutcome,
    PaymentResult,
    PromotedFromWaitlist,
)
from commerce.service_layer.saved_cards import card_ports, ship_to, usable_card, view
from commerce.service_layer.settlement import settle_payment
from commerce.service_layer.unit_of_work import one_unit

S = OrderStatus
PROMO_IN_PUBLIC = "a promo is claimed with a public message in the drop's chat"

# Seconds a charge's failure webhook waits for the charge's own answer (see payment_failed).
ANSWER_WAIT = 10.0


async def buy(cmd: c.Claim, private: bool, deps: Deps) -> ClaimResult:
    """A chat's `#buy`: the units, then the saved card's confirm, the free promo, or a link."""
    if private:  # refused before any unit is taken (or a place in its waitlist)
        code = normalise_sku(cmd.code) if cmd.code else None
        drop = await repos(deps).drops.live_drop(str(ChatRef.parse(cmd.chat)), code)
        if drop is not None and drop.promo:
            raise InvalidInput(PROMO_IN_PUBLIC)
    link = await link_maker(cmd.identity, deps)
    return await pay_won(await take_units(cmd, deps, link), private, deps)


async def after_release(event: HoldReleased, deps: Deps) -> None:
    """A hold ended: its checkout is closed, and the buyers promoted from the waitlist pay
    as for a `#buy` (counted public: most are; a promo gives them its unit)."""
    if event.close_checkout:
        await expire_checkout(event.release.order, deps)
    for promoted in event.release.promoted:
        await deps.notifier.notify(PromotedFromWaitlist(await pay_won(promoted, False, deps)))


async def pay_won(result: ClaimResult, private: bool, deps: Deps) -> ClaimResult:
    """How a won claim is paid, at once or when a waitlisted one gets its units: the saved
    card's confirm (or charge), free for a promo, else the Checkout link."""
    result = await pay_for_claim(result, private, deps)
    if result.confirm is None and result.payment is None:
        result = await with_checkout(result, deps)
    return result


async def pay_for_claim(result: ClaimResult, private: bool, deps: Deps) -> ClaimResult:
    """What a won claim leads to: free (promo), a confirm of the saved card, a charge at
    once (a drop that needs no confirm from this buyer), or None of those (a link)."""
    order, drop = result.order, result.drop
    if result.outcome is not ClaimOutcome.WON or order is None or drop is None:
        return result
    if result.duplicate or order.status is not S.RESERVED or order.hold_expires_at is None:
        return result  # a redelivered message: it was answered the first time
    if drop.promo:
        return await _free(result, order, private, deps)
    usable = await usable_card(order, deps)
    if usable is None or deps.cards is None:
        return result  # no card, or no address yet for a product that ships: a link
    card, address = usable
    now = deps.clock.now()
    rule = ConfirmRule.parse(drop.confirm)
    trusted = rule.kind == "trusted" and await repos(deps).cards.trusted(order.identity)
    # The order joins its package now, so the question names what the tap will charge.
    await shipping.charge_shipping(order, deps)
    if rule.asks(order.amount, trusted):
        until = min(order.hold_expires_at, now + deps.confirm_window)
        asked = await repos(deps).cards.ask_confirm(order.ref, until, now)
        return replace(result, order=asked, confirm=view(card, address))
    if not await repos(deps).cards.start_charge(order.ref, now, address):
        return result
    try:
        payment = await _charge(order, card, deps)
    except PaymentError as exc:
        if retries.refused(exc):
            # The same charge would be refused again, confirmed or not: the shop looks at it
            # (the buyer's answer says so).
            await retries.call_failed(order, exc, "charge", deps, tell=False)
            return replace(result, order=await repos(deps).orders.order(order.ref))
        # Nothing is known yet: the buyer confirms (the same charge) rather than buying again.
        order = await repos(deps).orders.order(order.ref)
        return replace(result, order=order, confirm=view(card, address))
    return replace(result, order=payment.order, payment=payment)


async def _free(result: ClaimResult, order: OrderView, private: bool, deps: Deps) -> ClaimResult:
    if private:  # the public post is the price: a private message pays nothing
        await release_order(order.ref, S.CANCELLED, "promo:private", deps)
        raise InvalidInput(PROMO_IN_PUBLIC)
    paid = c.SettlePayment(order.ref, "promo", "promo:message", answered=True)
    settled = await settle_payment(paid, deps)
    return replace(
        result, order=settled.order, payment=PaymentResult(PaymentOutcome.FREE, settled.order)
    )


async def confirm(cmd: c.ConfirmPurchase, deps: Deps) -> PaymentResult:
    """`#confirm`: the held order is charged to the saved card."""
    cards, _ = card_ports(deps)
    now = deps.clock.now()
    order = await cards.awaiting_confirm(str(Identity.parse(cmd.identity)), cmd.ref)
    if order is None or order.confirm_until is None or order.confirm_until <= now:
        raise NotFound("nothing waits for your confirm (a confirm is valid for a few minutes)")
    if not await cards.start_charge(order.ref, now, await ship_to(order, deps)):
        raise InvalidInput(f"order {order.ref} is being paid already")
    card = await cards.card(order.identity)
    if card is None:  # unlinked since: the link it is
        return await one_unit(deps.units, lambda: _fall_back(order, None, "no saved card", deps))
    return await _charge(order, card, deps)


async def _payer(card: SavedCard, payment_intent: str, deps: Deps) -> Payer:
    """Who paid a one-message charge (#18: limits follow the card): the saved card's
    fingerprint; a card saved before fingerprints were kept is asked of the provider (the
    charge went through already: if the provider cannot say now, it is settled without)."""
    if card.fingerprint is not None or deps.payments is None:
        return Payer(card.fingerprint)
    try:
        return await deps.payments.payer(payment_intent)
    except PaymentError:
        return Payer()


async def _charge(order: OrderView, card: SavedCard, deps: Deps) -> PaymentResult:
    """The charge to the saved card, split around the provider's call: the package's
    shipping in a unit of work, the charge (and, for a card saved before fingerprints were
    kept, who paid), then its answer in another unit: the payment recorded, the order
    settled and what the buyer is told commit together."""
    cards, payments = card_ports(deps)
    # The package's shipping for the buyer's known address, decided under its lock (the
    # same on a retry: the order keeps its share), charged with the items.
    postage = await one_unit(deps.units, lambda: shipping.charge_shipping(order, deps))
    request = ChargeRequest(
        order_ref=order.ref,
        drop_code=order.drop_code,
        chat=order.chat,
        description=order.description,
        amount=Money(order.amount.minor + postage, order.amount.currency),
        card=card,
    )
    try:
        charge = await payments.charge_card(request)
    except PaymentError:
        # Nothing is known: the buyer may confirm again, which is the same charge (the
        # idempotency key is the order's), and a webhook settles it if it went through.
        await cards.ask_confirm(order.ref, _hold(order), deps.clock.now())
        raise
    payer = Payer()
    if charge.status is ChargeStatus.SUCCEEDED and charge.payment_intent is not None:
        payer = await _payer(card, charge.payment_intent, deps)  # may ask the provider
    return await one_unit(deps.units, lambda: _answered(order, card, charge, payer, deps))


async def _answered(
    order: OrderView, card: SavedCard, charge: Charge, payer: Payer, deps: Deps
) -> PaymentResult:
    """What the provider answered to a charge, applied."""
    cards, _ = card_ports(deps)
    # A decline stays "pending" until _fall_back records it: the charge's webhook, which may
    # come first, then waits for this answer (payment_failed) instead of telling the buyer too.
    declined = charge.status not in (ChargeStatus.SUCCEEDED, ChargeStatus.PROCESSING)
    if charge.payment_intent is not None and not declined:
        await cards.charge_started(order.ref, charge.payment_intent, deps.clock.now())
    if charge.status is ChargeStatus.SUCCEEDED and charge.payment_intent is not None:
        cause = f"charge:{charge.payment_intent}"
        settled = await settle_payment(
            c.SettlePayment(order.ref, charge.payment_intent, cause, answered=True, payer=payer),
            deps,
        )
        paid = settled.order.status in (S.PAID, S.FULFILLED)
        outcome = PaymentOutcome.PAID if paid else PaymentOutcome.REFUNDED
        return PaymentResult(outcome, settled.order, view(card))
    if charge.status is ChargeStatus.PROCESSING and charge.payment_intent is not None:
        # The webhook ends it: until then the hold must not expire (as a delayed payment).
        if deps.ledger is not None:
            await repos(deps).ledger.await_async_payment(
                order.ref, charge.payment_intent, deps.clock.now()
            )
        return PaymentResult(PaymentOutcome.PROCESSING, order, view(card))
    return await _fall_back(order, charge.payment_intent, charge.message, deps, card)


async def _fall_back(
    order: OrderView,
    payment: str | None,
    reason: str,
    deps: Deps,
    card: SavedCard | None = None,
) -> PaymentResult:
    """The card cannot pay: the same held units get a Checkout link (and the full hold)."""
    held = await _link_instead(order, payment, deps)
    if held is None:  # the webhook got here first and sent the link
        held = await repos(deps).orders.order(order.ref)
    return PaymentResult(PaymentOutcome.FALLBACK, held, view(card) if card else None, reason)


async def _link_instead(order: OrderView, payment: str | None, deps: Deps) -> OrderView | None:
    cards, _ = card_ports(deps)
    now = deps.clock.now()
    # The confirm window may have shortened the hold: the link gets the drop's hold again.
    until = max(_hold(order), now + deps.hold)
    held = await cards.charge_failed(order.ref, payment, until, "charge:failed", now)
    if held is not None and held.status is S.RESERVED and not by_invoice(held, deps):
        held = await hand_out_link(held, deps)  # the shop's own link: no provider call
    return held


async def payment_failed(order: OrderView, payment: str | None, deps: Deps) -> str:
    """`payment_intent.payment_failed` of a one-message charge: the buyer gets the link,
    unless the provider's answer to the charge did that already."""
    if deps.cards is None or deps.payments is None or payment is None:
        return "ignored: not a one-message charge"
    held = await _link_instead(await _after_the_answer(order, deps), payment, deps)
    if held is None:
        return "ignored: not a charge under way"
    await deps.notifier.notify(PaymentFellBack(PaymentResult(PaymentOutcome.FALLBACK, held)))
    return "charge failed: checkout link sent"


async def _after_the_answer(order: OrderView, deps: Deps) -> OrderView:
    """The order once the provider's answer to its charge was handled: that answer tells the
    buyer, so a webhook arriving first waits for it, for a while (a worker that died while
    waiting for the answer leaves it to the webhook). Wall-clock time, not the clock port:
    this waits for another task, not for the shop's time to pass."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ANSWER_WAIT
    while order.charge_pending and loop.time() < deadline:
        await asyncio.sleep(0.05)
        order = await repos(deps).orders.order(order.ref)
    return order


def _hold(order: OrderView) -> datetime:
    return order.hold_expires_at or order.created_at


# cards and identities ---------------------------------------------------------------------


async def show_card(identity: str, deps: Deps) -> tuple[CardView | None, str]:
    """`/card`: the saved card (if any) and a link that adds or replaces one."""
    cards, payments = card_ports(deps)
    identity = str(Identity.parse(identity))
    card = await cards.card(identity)
    customer = card.payment_customer if card else None
    if customer is None and deps.ledger is not None:
        customer = await repos(deps).ledger.payment_customer(identity)
    session = await payments.open_card_setup(identity, customer)
    return (view(card, await cards.ship_to(identity)) if card else None), session.url


async def card_saved(identity: str, card: SavedCard, deps: Deps) -> CardView:
    cards, _ = card_ports(deps)
    await cards.save_card(str(Identity.parse(identity)), card, deps.clock.now())
    return view(card)


async def unlink(identity: str, deps: Deps) -> CardView | None:
    """`/unlink`: the card is detached at the provider and forgotten here."""
    cards, payments = card_ports(deps)
    card = await cards.forget_card(str(Identity.parse(identity)))
    if card is not None:
        await payments.detach_card(card.payment_method)
    return view(card) if card else None


async def link_code(identity: str, deps: Deps) -> str:
    if deps.cards is None:
        raise NotAllowed("linking is not set up in this shop")
    return await repos(deps).cards.issue_code(
        str(Identity.parse(identity)), deps.clock.now(), deps.link_ttl
    )


async def link(identity: str, code: str, deps: Deps) -> Linked:
    if deps.cards is None:
        raise NotAllowed("linking is not set up in this shop")
    return await repos(deps).cards.redeem_code(
        str(Identity.parse(identity)), code, deps.clock.now()
    )
