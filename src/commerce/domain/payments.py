"""Payment events as the core understands them, whatever the provider's payload looks like."""

from dataclasses import dataclass
from enum import StrEnum

from commerce.domain.money import Money


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
    REFUND_UPDATED = "refund_updated"  # one refund created, updated, or failed
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
    amount: int | None = None  # minor units of the payment; None when missing or malformed
    amount_refunded: int | None = None  # total refunded so far, minor units
    dispute_outcome: str | None = None  # "won" or "lost" when a dispute closes
    payment_customer: str | None = None
    setup_ref: str | None = None  # the setup (Stripe: setup intent) that saved a card
    identity: str | None = None  # whose card it is, from the setup's metadata
    ship_to: str | None = None  # the address typed on a checkout (domain.shipping.ship_to)
    currency: str | None = None  # ISO code of `amount`, lower case; None when missing or malformed
    refund_ref: str | None = None  # the one refund a refund event is about (Stripe: re_...)
    refund_status: str | None = None  # its status: pending, succeeded, failed, canceled, ...
    # The refunds a charge lists (id, amount, status), when its API version embeds them.
    refunds: tuple[tuple[str, int, str], ...] = ()
    # A checkout's shipping (the option paid, before tax) and the tax added: both in
    # `amount`; None when the payment reports none.
    shipping: int | None = None
    tax: int | None = None
    # Who paid, as far as the provider tells: the card's fingerprint (the same card number
    # gives the same one, whatever the customer) and the email typed on the Checkout page.
    # Limits and strikes follow them across identities (see `Payer`).
    card: str | None = None
    email: str | None = None
    payment_method: str | None = None  # the payment's method (Stripe: pm_...), if it says
    payer_checked: bool = False  # the provider was asked for the card already


@dataclass(frozen=True, slots=True)
class Payer:
    """What identifies a payer across identities, customers and platforms: a web viewer can
    take a new identity for free, not a new card. None: not known for this payment."""

    card: str | None = None  # the card's fingerprint (Stripe: payment_method.card.fingerprint)
    email: str | None = None  # lower case

    @classmethod
    def of(cls, card: object, email: object) -> "Payer":
        """From what a provider sent: text or nothing (anything else is not known)."""
        fingerprint = card.strip() if isinstance(card, str) and card.strip() else None
        address = one_mailbox(email) if isinstance(email, str) else None
        return cls(fingerprint[:64] if fingerprint else None, address[:254] if address else None)

    @property
    def known(self) -> bool:
        return self.card is not None or self.email is not None


NO_PAYER = Payer()
# Mail services that ignore dots in the name: a.b@gmail.com is ab@gmail.com's mailbox.
DOTLESS = frozenset({"gmail.com", "googlemail.com"})


def one_mailbox(email: str) -> str | None:
    """The mailbox an address delivers to, as one spelling: lower case, without a "+tag"
    (most services deliver name+anything to name), without dots where the service ignores
    them. Free aliases of one mailbox are one buyer. None: not an address."""
    name, at, domain = email.strip().lower().rpartition("@")
    if not at or not name or not domain or any(ch.isspace() for ch in name + domain):
        return None
    name = name.split("+", 1)[0] or name
    if domain in DOTLESS:
        name = name.replace(".", "") or name
        domain = "gmail.com"
    return f"{name}@{domain}"


class LimitBreach(StrEnum):
    """What becomes of a payment that takes a card or email over a drop's per-buyer limit
    (LIVEBUY_LIMIT_BREACH)."""

    REFUND = "refund"  # the money goes back at once, the buyer is told why
    REVIEW = "review"  # the order waits in needs_review for the seller


# A refund in one of these states gave no money back: it no longer counts.
FAILED_REFUND = frozenset({"failed", "canceled"})


def payment_mismatch(expected: Money, amount: object, currency: object) -> str | None:
    """Why a reported payment does not pay `expected` (for the order's history), or None
    when it does. A missing or malformed amount or currency is a mismatch: a payment is
    only taken as the order's when both say so."""
    if not isinstance(currency, str) or not currency:
        return "currency_missing"
    if currency.lower() != expected.currency.lower():
        return "currency_mismatch"
    if not isinstance(amount, int) or isinstance(amount, bool):
        return "amount_missing"
    if amount != expected.minor:
        return "amount_mismatch"
    return None
