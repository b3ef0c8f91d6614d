"""Payment events as the core understands them, whatever the provider's payload looks like."""

from dataclasses import dataclass
from enum import StrEnum


class PaymentEventKind(StrEnum):
    CHECKOUT_COMPLETED = "checkout_completed"
    ASYNC_PAYMENT_SUCCEEDED = "async_payment_succeeded"
    ASYNC_PAYMENT_FAILED = "async_payment_failed"
    CHECKOUT_EXPIRED = "checkout_expired"
    CHARGE_REFUNDED = "charge_refunded"
    DISPUTE_CREATED = "dispute_created"
    DISPUTE_CLOSED = "dispute_closed"
    PAYMENT_SUCCEEDED = "payment_succeeded"  # a payment intent, e.g. a saved card charged
    PAYMENT_FAILED = "payment_failed"
    CARD_SAVED = "card_saved"  # a setup-mode checkout completed (/card)
    OTHER = "other"  # stored, acknowledged, ignored


@dataclass(frozen=True, slots=True)
class PaymentEvent:
    id: str
    kind: PaymentEventKind
    type: str  # the provider's own name, e.g. "checkout.session.completed"
    order_ref: str | None = None
    session_id: str | None = None
    payment_ref: str | None = None  # the payment (Stripe: payment intent)
    charge_ref: str | None = None  # the charge a refund is of (Stripe: ch_...)
    paid: bool = False
    amount: int | None = None  # minor units of the payment
    amount_refunded: int | None = None  # total refunded so far, minor units
    dispute_outcome: str | None = None  # "won" or "lost" when a dispute closes
    payment_customer: str | None = None
    setup_ref: str | None = None  # the setup (Stripe: setup intent) that saved a card
    identity: str | None = None  # whose card it is, from the setup's metadata
    ship_to: str | None = None  # the address typed on a checkout (domain.shipping.ship_to)
