"""Native invoices: a chat platform takes the money itself (Telegram Payments with a Stripe
provider token) instead of a Checkout link.

The platform asks first (`CheckInvoice`, answered within seconds) and then says the invoice
was paid (`InvoicePaid`): the payment settles the order like a Checkout payment would, and
the provider's charge id is kept on the order for refunds. Every answer may come twice.
"""

from commerce.domain import commands as c
from commerce.domain.errors import CommerceError, InvalidInput
from commerce.domain.identity import Identity
from commerce.domain.orders import HOLDING, OrderStatus
from commerce.service_layer import shipping
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.results import OrderView, Settlement
from commerce.service_layer.settlement import settle_payment

S = OrderStatus
PAID_ALREADY = frozenset({S.PAID, S.FULFILLED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})

EXPIRED = "This hold has expired; type #buy again while the drop is live"
UNKNOWN = "This order does not exist"
NOT_YOURS = "This order belongs to someone else"
ALREADY_PAID = "This order is paid already"
UNDER_WAY = "A payment for this order is under way already"
OUTDATED = "This invoice is out of date; open your order again with /orders"


async def check_invoice(cmd: c.CheckInvoice, deps: Deps) -> str | None:
    """None when the order can still be paid with this invoice, else why not (for the
    buyer). Only reads: the hold itself is kept until the payment comes or it expires."""
    try:
        order = await repos(deps).orders.order(cmd.order_ref)
    except CommerceError:
        return UNKNOWN
    if not await _same_buyer(order, cmd.identity, deps):
        return NOT_YOURS
    if order.status in PAID_ALREADY:
        return ALREADY_PAID
    if order.status not in HOLDING:
        return EXPIRED
    if order.hold_expires_at is None or order.charging or order.confirm_until is not None:
        # A delayed payment, or the buyer's saved card (charged, or waiting for a confirm).
        return UNDER_WAY
    if order.hold_expires_at <= deps.clock.now():
        return EXPIRED  # the sweeper has not come by yet
    if not _same_amount(order, cmd.amount_minor, cmd.currency):
        return OUTDATED
    return None


async def invoice_paid(cmd: c.InvoicePaid, deps: Deps) -> Settlement | None:
    """Settles the order the invoice was for; None when the amount paid is not the order's
    (the order then needs review, as with a Checkout payment of the wrong amount)."""
    order = await repos(deps).orders.order(cmd.order_ref)
    cause = f"telegram:{cmd.telegram_charge_id}"
    problem = None
    if _same_amount(order, cmd.amount_minor, cmd.currency):
        # The address comes with the payment: the order joins its package with what the
        # invoice charged for shipping (short of the package's price: a human looks).
        problem = await shipping.check_paid_shipping(
            order, cmd.ship_to, order.shipping_amount, None, deps
        )
    if problem is not None or not _same_amount(order, cmd.amount_minor, cmd.currency):
        if deps.ledger is None:
            raise InvalidInput("payments are not configured")
        # The charge id goes into the order's history: whoever reviews it can refund it.
        mismatch = f"{cause}:{problem or 'amount_mismatch'}:{cmd.provider_charge_id}"
        await repos(deps).ledger.transition(order.ref, S.NEEDS_REVIEW, mismatch, deps.clock.now())
        settlement = None
    else:
        # A second payment of a paid order (another invoice, a Checkout link) is refunded
        # by settle_payment; the same payment reported again changes nothing.
        pay = c.SettlePayment(order.ref, cmd.provider_charge_id, cause)
        settlement = await settle_payment(pay, deps)
    if cmd.ship_to and deps.ledger is not None:
        # Telegram tells only the bot where the buyer wants it: kept whatever the settlement
        # was (a refund or a review still needs the address to be sorted out).
        await repos(deps).ledger.record_ship_to(order.ref, cmd.ship_to, deps.clock.now())
    return settlement


async def _same_buyer(order: OrderView, identity: str, deps: Deps) -> bool:
    """The order's buyer, or another identity linked to the same customer."""
    try:
        identity = str(Identity.parse(identity))
    except InvalidInput:
        return False
    if identity == order.identity:
        return True
    customer = await repos(deps).customers.customer_id(identity)
    return customer is not None and customer == await repos(deps).orders.order_customer(order.ref)


def _same_amount(order: OrderView, amount_minor: int, currency: str) -> bool:
    """The invoice's total: the items and the shipping it charged."""
    return (amount_minor, currency.strip().lower()) == (
        order.amount.minor + order.shipping_amount,
        order.amount.currency.lower(),
    )
