"""Incoming Stripe webhooks: signature check and translation into `PaymentEvent`s.

Verification uses the stripe library's own `WebhookSignature` (HMAC-SHA256 over
"{timestamp}.{body}", compared in constant time, stale timestamps refused); a timestamp as
far in the future is refused here too, which the library does not check.

A signed body that is not an event of Stripe's published shapes (the data, the object or its
metadata of another type, an id of the wrong kind, ...) raises `MalformedEvent`: the webhook
answers 400 and keeps the body for inspection, and nothing of it is applied. An amount or a
currency that is missing or malformed is not a malformed shape: the event is read, and the
payment goes to review because it does not match its order.
"""

import json
import re
import time
from typing import Any

import stripe

from commerce.domain.errors import InvalidInput
from commerce.domain.identity import Identity
from commerce.domain.payments import Payer, PaymentEvent, PaymentEventKind
from commerce.domain.shipping import ship_to

TOLERANCE_SECONDS = 300
# Stripe's ids (evt_..., cs_..., pi_..., ch_..., cus_...) and livebuy's order refs; longer
# or other text would not fit the columns they are kept in.
ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
TYPE = re.compile(r"[a-z0-9_.]{1,80}")
# The largest amount read as one (minor units); Stripe's own limit is far below.
MAX_AMOUNT = 10**12

KINDS = {
    "checkout.session.completed": PaymentEventKind.CHECKOUT_COMPLETED,
    "checkout.session.async_payment_succeeded": PaymentEventKind.ASYNC_PAYMENT_SUCCEEDED,
    "checkout.session.async_payment_failed": PaymentEventKind.ASYNC_PAYMENT_FAILED,
    "checkout.session.expired": PaymentEventKind.CHECKOUT_EXPIRED,
    "charge.refunded": PaymentEventKind.CHARGE_REFUNDED,
    "charge.dispute.created": PaymentEventKind.DISPUTE_CREATED,
    "charge.dispute.closed": PaymentEventKind.DISPUTE_CLOSED,
    "payment_intent.succeeded": PaymentEventKind.PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": PaymentEventKind.PAYMENT_FAILED,
    # One refund's life (its failure above all); charge.refunded carries the totals.
    "refund.created": PaymentEventKind.REFUND_UPDATED,
    "refund.updated": PaymentEventKind.REFUND_UPDATED,
    "refund.failed": PaymentEventKind.REFUND_UPDATED,
    "charge.refund.updated": PaymentEventKind.REFUND_UPDATED,
}
# A Checkout Session's payment_status that means the order is paid for.
PAID_STATUSES = frozenset({"paid", "no_payment_required"})
# The object each event type carries (its `object` field, when it has one).
OBJECTS = {
    "checkout.session.": "checkout.session",
    "payment_intent.": "payment_intent",
    "charge.dispute.": "dispute",
    "charge.refund.": "refund",
    "refund.": "refund",
    "charge.": "charge",
}


class SignatureError(Exception):
    """The body was not signed with our webhook secret, or its timestamp is out of bounds."""


class MalformedEvent(InvalidInput):
    """A signed body that is not a Stripe event livebuy can read: refused and kept, not
    applied."""


def webhook_secrets(configured: str) -> list[str]:
    """The signing secrets of STRIPE_WEBHOOK_SECRET: one, or several comma-separated while
    a secret is rolled (Stripe signs with the old and the new one for a while)."""
    return [secret.strip() for secret in configured.split(",") if secret.strip()]


def verify(
    payload: bytes, header: str | None, secret: str, now: float | None = None
) -> dict[str, Any]:
    """The event as JSON once its signature is proven; nothing is parsed before that.
    `secret` may list several secrets, comma-separated: a signature by any of them counts."""
    secrets = webhook_secrets(secret)
    if not secrets:  # never fail open: without a secret nothing is authentic
        raise SignatureError("no webhook signing secret is configured")
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("the body is not UTF-8 text") from None
    problem = ""
    for candidate in secrets:
        try:
            stripe.WebhookSignature.verify_header(text, header, candidate, TOLERANCE_SECONDS)
            break
        except stripe.SignatureVerificationError as exc:
            problem = problem or str(exc).splitlines()[0][:200]
    else:
        raise SignatureError(problem)
    # The library refuses a timestamp too old; one too far ahead is as suspicious (a
    # signature made to be replayed later, or a signer's clock gone wrong).
    if signed_at(header) > (time.time() if now is None else now) + TOLERANCE_SECONDS:
        raise SignatureError("timestamp outside the tolerance zone (in the future)")
    try:
        event = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, too deep, a number too long
        raise MalformedEvent("the webhook body is not JSON") from None
    if not isinstance(event, dict):
        raise MalformedEvent("the webhook body is not a Stripe event")
    return event


def signed_at(header: str) -> int:
    """The header's timestamp, read as the stripe library reads it (the first `t=`)."""
    for item in header.split(","):
        key, *values = item.split("=", 2)
        if key == "t" and values:
            return int(values[0])
    raise SignatureError("no timestamp in the Stripe-Signature header")  # pragma: no cover


def to_payment_event(event: Any) -> PaymentEvent:
    """Reads what the core needs from a Stripe event; unknown types become OTHER.
    Raises MalformedEvent when the event is not of Stripe's shapes."""
    if not isinstance(event, dict):
        raise MalformedEvent("the webhook body is not a Stripe event")
    if event.get("object") == "v2.core.event":
        # A thin event (Stripe's event destinations): no data.object to act on. This
        # endpoint takes snapshot events; point a snapshot destination at it.
        raise MalformedEvent("a thin event (v2.core.event): this endpoint takes snapshot events")
    event_id, type_ = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not ID.fullmatch(event_id):
        raise MalformedEvent("the event has no valid id")
    if not isinstance(type_, str) or not TYPE.fullmatch(type_):
        raise MalformedEvent("the event has no valid type")
    data = event.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent("the event's data is not an object")
    obj = data.get("object")
    if not isinstance(obj, dict):
        raise MalformedEvent("the event has no data.object")
    kind = KINDS.get(type_, PaymentEventKind.OTHER)
    base: dict[str, Any] = {"id": event_id, "kind": kind, "type": type_}
    if kind is PaymentEventKind.OTHER:
        return PaymentEvent(**base)
    expected = next(name for prefix, name in OBJECTS.items() if type_.startswith(prefix))
    if obj.get("object", expected) != expected:
        raise MalformedEvent(f"{type_} does not carry a {expected}")
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict):
        raise MalformedEvent("the object's metadata is not an object")
    if type_.startswith("checkout.session."):
        return _session_event(base, obj, metadata)
    if type_.startswith("payment_intent."):
        return PaymentEvent(
            **base,
            order_ref=_ref(metadata, "order_ref"),
            payment_ref=_ref(obj, "id"),
            paid=_text(obj, "status") == "succeeded",
            amount=_amount(obj.get("amount")),
            currency=_currency(obj.get("currency")),
            payment_customer=_ref(obj, "customer"),
            payment_method=_ref(obj, "payment_method"),
        )
    if kind is PaymentEventKind.CHARGE_REFUNDED:
        refunded = _amount(obj.get("amount_refunded"))
        if refunded is None or refunded < 0:
            raise MalformedEvent("the charge has no valid amount_refunded")
        return PaymentEvent(
            **base,
            order_ref=_ref(metadata, "order_ref"),
            payment_ref=_ref(obj, "payment_intent"),
            charge_ref=_ref(obj, "id"),
            amount=_amount(obj.get("amount")),
            currency=_currency(obj.get("currency")),
            amount_refunded=refunded,
            refunds=_listed_refunds(obj.get("refunds")),
        )
    if kind is PaymentEventKind.REFUND_UPDATED:
        # refund.failed says it in its type; the others in the refund's status.
        status = "failed" if type_ == "refund.failed" else _text(obj, "status")
        return PaymentEvent(
            **base,
            order_ref=_ref(metadata, "order_ref"),
            payment_ref=_ref(obj, "payment_intent"),
            charge_ref=_ref(obj, "charge"),
            amount=_amount(obj.get("amount")),
            currency=_currency(obj.get("currency")),
            refund_ref=_ref(obj, "id"),
            refund_status=status,
        )
    status = _text(obj, "status")
    return PaymentEvent(  # disputes
        **base,
        order_ref=_ref(metadata, "order_ref"),
        payment_ref=_ref(obj, "payment_intent"),
        amount=_amount(obj.get("amount")),
        currency=_currency(obj.get("currency")),
        dispute_outcome=status if status in ("won", "lost") else None,
    )


def _listed_refunds(refunds: Any) -> tuple[tuple[str, int, str], ...]:
    """The refunds a charge embeds (older API versions: `refunds.data`); none when it does
    not (newer ones), and then the charge's `amount_refunded` is what counts."""
    if refunds is None:
        return ()
    data = refunds.get("data") if isinstance(refunds, dict) else None
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise MalformedEvent("the charge's refunds are not a list of refunds")
    listed = []
    for refund in data:
        refund_id, amount = _ref(refund, "id"), _amount(refund.get("amount"))
        if refund_id is None or amount is None or amount < 0:
            raise MalformedEvent("a refund of the charge has no id or amount")
        listed.append((refund_id, amount, _text(refund, "status") or "succeeded"))
    return tuple(listed)


def _session_event(
    base: dict[str, Any], obj: dict[str, Any], metadata: dict[str, Any]
) -> PaymentEvent:
    if base["kind"] is PaymentEventKind.CHECKOUT_COMPLETED and _text(obj, "mode") == "setup":
        identity = _text(metadata, "identity")
        if identity is not None:
            try:
                identity = str(Identity.parse(identity))
            except InvalidInput:
                raise MalformedEvent("the setup's metadata names no identity") from None
        return PaymentEvent(
            **{**base, "kind": PaymentEventKind.CARD_SAVED},
            session_id=_ref(obj, "id"),
            setup_ref=_ref(obj, "setup_intent"),
            identity=identity,
            payment_customer=_ref(obj, "customer"),
        )
    return PaymentEvent(
        **base,
        order_ref=_ref(obj, "client_reference_id") or _ref(metadata, "order_ref"),
        session_id=_ref(obj, "id"),
        payment_ref=_ref(obj, "payment_intent"),
        paid=_text(obj, "payment_status") in PAID_STATUSES,
        amount=session_amount(obj),
        currency=_currency(obj.get("currency")),
        payment_customer=_ref(obj, "customer"),
        ship_to=session_ship_to(obj),
        shipping=session_shipping(obj),
        tax=session_tax(obj),
        email=session_email(obj),
    )


def session_email(session: dict[str, Any]) -> str | None:
    """The email the buyer gave on the Checkout page (`customer_details.email`), lower
    case; None when there is none or it is not an address."""
    details = session.get("customer_details")
    email = details.get("email") if isinstance(details, dict) else None
    return Payer.of(None, email).email


def session_amount(session: dict[str, Any]) -> int | None:
    """What the session asked for, to be checked against the order. A free order (the
    shop's 100 % discount: `no_payment_required`, nothing charged) is checked by what it
    cost before the discount, which only the shop's own coupon can take to zero."""
    total = _amount(session.get("amount_total"))
    if session.get("payment_status") == "no_payment_required" and total == 0:
        return _amount(session.get("amount_subtotal"))
    return total


def session_shipping(session: dict[str, Any]) -> int | None:
    """The shipping option the buyer paid, before tax (`shipping_cost.amount_subtotal`);
    None when the session offered none."""
    cost = session.get("shipping_cost")
    return _amount(cost.get("amount_subtotal")) if isinstance(cost, dict) else None


def session_tax(session: dict[str, Any]) -> int | None:
    """The tax Stripe added (automatic tax), items and shipping together."""
    details = session.get("total_details")
    return _amount(details.get("amount_tax")) if isinstance(details, dict) else None


def session_ship_to(session: dict[str, Any]) -> str | None:
    """The address the buyer typed on the Checkout page (shipping_address_collection):
    `shipping_details` in older API versions, `collected_information.shipping_details` in
    newer ones. Anything malformed gives no address rather than an error."""
    collected = session.get("collected_information")
    for details in (
        collected.get("shipping_details") if isinstance(collected, dict) else None,
        session.get("shipping_details"),
    ):
        address = details.get("address") if isinstance(details, dict) else None
        if isinstance(details, dict) and isinstance(address, dict):
            return ship_to(
                details.get("name"),
                address.get("line1"),
                address.get("line2"),
                address.get("postal_code"),
                address.get("city"),
                address.get("state"),
                address.get("country"),
            )
    return None


EXPANDABLE = frozenset({"payment_intent", "customer", "setup_intent", "charge", "payment_method"})


def _ref(obj: dict[str, Any], key: str) -> str | None:
    """An id (of an expandable field, Stripe sends either the id or the expanded object):
    None when absent, and malformed when it is there but not an id."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, dict) and key in EXPANDABLE:
        value = value.get("id")
    if isinstance(value, str) and ID.fullmatch(value):
        return value
    raise MalformedEvent(f"{key} is not an id")


def _text(obj: dict[str, Any], key: str) -> str | None:
    """A word such as a status: None when absent, malformed when not text."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedEvent(f"{key} is not text")
    return value


def _amount(value: Any) -> int | None:
    """An amount in minor units; None when missing or malformed (never a number guessed
    from text, a float or a boolean)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= MAX_AMOUNT:
        return value
    return None


def _currency(value: Any) -> str | None:
    """A three-letter ISO code, lower case as Stripe sends it; None when malformed."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.lower()
    return None
