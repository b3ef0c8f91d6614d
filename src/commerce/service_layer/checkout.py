"""Checkouts: a won claim gets a payment link; a hold that ends closes its session."""

import contextlib
from dataclasses import replace
from datetime import timedelta

from commerce.domain.errors import InvalidInput, NotAllowed
from commerce.domain.orders import OrderStatus
from commerce.service_layer.deps import Deps
from commerce.service_layer.ports import CheckoutRequest, Ledger, PaymentError, PaymentGateway
from commerce.service_layer.results import CheckoutReady, ClaimOutcome, ClaimResult, OrderView

S = OrderStatus
CHECKOUT_GRACE = timedelta(seconds=15)


def money_ports(deps: Deps) -> tuple[PaymentGateway, Ledger]:
    if deps.payments is None or deps.ledger is None:
        raise NotAllowed("payments are not configured")
    return deps.payments, deps.ledger


async def open_checkout(order: OrderView, deps: Deps) -> OrderView:
    """Opens (idempotently) the order's checkout and records it on the order."""
    payments, ledger = money_ports(deps)
    if order.hold_expires_at is None or order.unit_price is None:
        raise InvalidInput(f"order {order.ref} cannot be paid any more")
    # A buyer without a saved card is offered to keep this one for one-message buys.
    save_card = deps.cards is not None and await deps.cards.card(order.identity) is None
    session = await payments.open_checkout(
        CheckoutRequest(
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
        )
    )
    return await ledger.checkout_opened(
        order.ref, session.id, session.url, f"checkout:{session.id}", deps.clock.now()
    )


async def checkout_or_later(order: OrderView, deps: Deps) -> OrderView:
    """The checkout of a won auction or a prize's shipping; if the provider fails, the
    sweeper opens it later (retry_checkouts) and sends the link."""
    if deps.payments is None:
        return order
    try:
        return await open_checkout(order, deps)
    except PaymentError:
        return order


async def with_checkout(result: ClaimResult, deps: Deps) -> ClaimResult:
    """A won claim with its checkout link; on a provider failure the sweeper retries."""
    if result.outcome is not ClaimOutcome.WON or result.order is None or deps.payments is None:
        return result
    if result.order.status not in (S.RESERVED, S.CHECKOUT_OPEN):
        return result  # a redelivered message for an order that moved on
    if result.order.hold_expires_at is None:
        return result  # a delayed payment is under way for it already
    if by_invoice(result.order, deps):
        return result  # the chat's adapter sends its own invoice
    try:
        return replace(result, order=await open_checkout(result.order, deps))
    except PaymentError as exc:
        return replace(result, checkout_error=str(exc))


async def retry_checkouts(deps: Deps) -> list[OrderView]:
    """The sweeper's pass over won claims whose checkout could not be opened at once."""
    if deps.payments is None or deps.ledger is None:
        return []
    opened = []
    # Only claims older than a grace period: a younger one is still being answered, and
    # opening its checkout here too would send the buyer the link twice.
    created_before = deps.clock.now() - CHECKOUT_GRACE
    for order in await deps.ledger.awaiting_checkout(created_before):
        if by_invoice(order, deps):
            continue
        try:
            ready = await open_checkout(order, deps)
        except PaymentError:
            continue  # still down: the next pass tries again
        await deps.notifier.notify(CheckoutReady(ready))
        opened.append(ready)
    return opened


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
