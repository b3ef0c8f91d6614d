"""Checkouts: a won claim gets the shop's pay link; opening it makes the provider's checkout;
a hold that ends closes its session."""

import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from commerce.domain.commands import OpenPayment
from commerce.domain.errors import InvalidInput, NotAllowed, NotFound
from commerce.domain.orders import OrderStatus
from commerce.service_layer import retries, shipping
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import (
    CheckoutRequest,
    Ledger,
    PayLinks,
    PaymentError,
    PaymentGateway,
)
from commerce.service_layer.results import (
    CheckoutReady,
    ClaimOutcome,
    ClaimResult,
    OrderView,
    PageKind,
    PaymentPage,
)
from commerce.service_layer.unit_of_work import one_unit

S = OrderStatus
# What a pay link says of an order past paying (any other: paid already).
PAGES = {S.EXPIRED: PageKind.ENDED, S.CANCELLED: PageKind.ENDED, S.NEEDS_REVIEW: PageKind.REVIEW}
CHECKOUT_GRACE = timedelta(seconds=15)


def money_ports(deps: Deps) -> tuple[PaymentGateway, Ledger]:
    if deps.payments is None or deps.ledger is None:
        raise NotAllowed("payments are not configured")
    return deps.payments, repos(deps).ledger


async def hand_out_link(order: OrderView, deps: Deps) -> OrderView:
    """Hands out the order's pay link, the shop's own (no provider call): the provider's
    checkout is made when the buyer opens it (`open_payment`)."""
    _, ledger = money_ports(deps)
    if order.hold_expires_at is None or order.unit_price is None:
        raise InvalidInput(f"order {order.ref} cannot be paid any more")
    now = deps.clock.now()
    url = await links(deps).url(order.ref, now)
    return await ledger.link_handed_out(order.ref, url, f"link:{order.ref}", now)


async def link_maker(identity: str, deps: Deps) -> Callable[[str], str] | None:
    """How a chat claim's pay link is made inside the claim's own transaction, so that a
    winner's answer costs no transaction after the claim's: None where the buyer pays
    otherwise (no payments configured, a platform's own invoice). The claim writer leaves
    out a buyer with a saved card (asked to confirm) and a promo drop's winner (free)."""
    if deps.payments is None or deps.ledger is None or deps.pay_links is None:
        return None
    if identity.split(":", 1)[0].lower() in deps.invoice_platforms:
        return None
    return await repos(deps).pay_links.signer(deps.clock.now())


def links(deps: Deps) -> PayLinks:
    if deps.pay_links is None:
        raise NotAllowed("payments are not configured")
    return repos(deps).pay_links


async def open_payment(cmd: OpenPayment, deps: Deps) -> PaymentPage:
    """A buyer opened their pay link: the provider's checkout for the order (made now, once
    per order: reused while open, a successor when it expired and the hold still runs), or
    what became of the order instead. Never a dead end.

    Split around the provider's calls: what the checkout needs is read in one unit of work,
    then the provider is asked, then the session is recorded in another unit (it was five
    transactions, each a turn on SQLite's one connection: a flash drop's winners opening
    their links at once waited for each other there)."""
    payments, ledger = money_ports(deps)
    now = deps.clock.now()
    found = await one_unit(deps.units, lambda: _to_open(cmd, now, deps))
    if isinstance(found, PaymentPage):
        return found
    order, request = found
    try:
        if request is None:  # a session was made already: reused while it is open
            assert order.checkout_session is not None
            state = await payments.session_state(order.checkout_session)
            if state.status == "open" and state.url:
                return PaymentPage(PageKind.PAY, order, state.url)
            if state.status == "complete":
                return PaymentPage(PageKind.CONFIRMING, order)
            replaces = order.checkout_session
            request = await one_unit(deps.units, lambda: _checkout_request(order, deps, replaces))
        session = await payments.open_checkout(request)
    except PaymentError as exc:
        if not retries.refused(exc):
            return PaymentPage(PageKind.UNAVAILABLE, order, error=str(exc))
        # Refused (a 4xx): asked again it would be refused again. The shop looks into it.
        await retries.call_failed(order, exc, "checkout", deps, tell=False)
        return PaymentPage(PageKind.REVIEW, order, error=str(exc))
    await one_unit(deps.units, lambda: ledger.session_opened(order.ref, session.id, now))
    return PaymentPage(PageKind.PAY, order, session.url)


async def _to_open(
    cmd: OpenPayment, now: datetime, deps: Deps
) -> PaymentPage | tuple[OrderView, CheckoutRequest | None]:
    """The page to show instead of a checkout, or the order with its checkout's request
    (None when a session was made already: the provider is asked about it first)."""
    if not await links(deps).genuine(cmd.ref, cmd.token, now):
        return PaymentPage(PageKind.UNKNOWN)
    try:
        order = await repos(deps).orders.order(cmd.ref.upper())
    except NotFound:
        return PaymentPage(PageKind.UNKNOWN)
    if order.status not in (S.RESERVED, S.CHECKOUT_OPEN):
        return PaymentPage(PAGES.get(order.status, PageKind.PAID), order)
    if order.hold_expires_at is None:  # a delayed payment is under way: nothing to pay
        return PaymentPage(PageKind.CONFIRMING, order)
    if order.hold_expires_at <= now:
        return PaymentPage(PageKind.ENDED, order)
    if order.checkout_session is not None:
        return order, None
    return order, await _checkout_request(order, deps, None)


async def _checkout_request(order: OrderView, deps: Deps, replaces: str | None) -> CheckoutRequest:
    _, ledger = money_ports(deps)
    assert order.hold_expires_at is not None and order.unit_price is not None
    # A buyer without a saved card is offered to keep this one for one-message buys.
    save_card = deps.cards is not None and await repos(deps).cards.card(order.identity) is None
    options, countries = await shipping.checkout_shipping(order, deps)
    return CheckoutRequest(
        order_ref=order.ref,
        drop_code=order.drop_code,
        chat=order.chat,
        description=order.description,
        unit_amount=order.unit_price,
        quantity=order.quantity,
        expires_at=order.hold_expires_at,
        customer=await ledger.payment_customer(order.identity),
        collect_shipping=not order.digital,
        save_card=save_card,
        ordered_at=order.created_at,
        replaces=replaces,
        shipping_options=options,
        ship_countries=countries,
        automatic_tax=deps.stripe_tax,
    )


async def link_if_paying(order: OrderView, deps: Deps) -> OrderView:
    """The pay link of a won auction or a prize's shipping (when payments are on)."""
    if deps.payments is None:
        return order
    return await hand_out_link(order, deps)


async def with_checkout(result: ClaimResult, deps: Deps) -> ClaimResult:
    """A won claim with its pay link."""
    if result.outcome is not ClaimOutcome.WON or result.order is None or deps.payments is None:
        return result
    if result.order.status not in (S.RESERVED, S.CHECKOUT_OPEN):
        return result  # a redelivered message for an order that moved on
    if result.order.hold_expires_at is None:
        return result  # a delayed payment is under way for it already
    if result.order.status is S.CHECKOUT_OPEN and result.order.checkout_url is not None:
        return result  # handed out in the claim's own transaction (link_maker)
    if by_invoice(result.order, deps):
        # The chat's adapter sends its own invoice, with the shipping priced here.
        return replace(result, order=await shipping.price_invoice(result.order, deps))
    return replace(result, order=await hand_out_link(result.order, deps))


async def retry_checkouts(deps: Deps) -> list[OrderView]:
    """The sweeper's pass over won claims answered without their pay link (the database
    failed between the claim and the link): the link now, by a notice."""
    if deps.payments is None or deps.ledger is None:
        return []
    opened = []
    # Only claims older than a grace period: a younger one is still being answered, and
    # handing out its link here too would send the buyer the link twice.
    created_before = deps.clock.now() - CHECKOUT_GRACE
    for order in await repos(deps).ledger.awaiting_checkout(created_before):
        if by_invoice(order, deps):
            continue
        opened.append(await one_unit(deps.units, partial(_link_now, order, deps)))
    return opened


async def _link_now(order: OrderView, deps: Deps) -> OrderView:
    """The link and the message that brings it, in one unit of work."""
    ready = await hand_out_link(order, deps)
    await deps.notifier.notify(CheckoutReady(ready))
    return ready


def by_invoice(order: OrderView, deps: Deps) -> bool:
    """The buyer's platform takes the payment itself (a Telegram invoice), not a link."""
    return order.identity.split(":", 1)[0] in deps.invoice_platforms


async def expire_checkout(order: OrderView, deps: Deps) -> None:
    """A hold ended before its session (Stripe's minimum is 30 minutes): close the session."""
    if deps.payments is None or order.checkout_session is None:
        return
    # If this fails, a payment that still comes is honoured or refunded by settle_payment.
    with contextlib.suppress(PaymentError):
        await deps.payments.expire_checkout(order.checkout_session)
