"""Incoming Stripe webhooks: signature check and translation into `PaymentEvent`s.

Verification uses the stripe library's own `WebhookSignature` (HMAC-SHA256 over
"{timestamp}.{body}", compared in constant time, stale timestamps refused).
"""

import json
from typing import Any

import stripe

from commerce.domain.errors import InvalidInput
from commerce.domain.payments import PaymentEvent, PaymentEventKind
from commerce.domain.shipping import ship_to

TOLERANCE_SECONDS = 300

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
}


class SignatureError(Exception):
    """The body was not signed with our webhook secret, or the signature is too old."""


def verify(payload: bytes, header: str | None, secret: str) -> dict[str, Any]:
    """The event as JSON once its signature is proven; nothing is parsed before that."""
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(text, header, secret, TOLERANCE_SECONDS)
    except (UnicodeDecodeError, stripe.SignatureVerificationError) as exc:
        raise SignatureError(str(exc).splitlines()[0][:200]) from None
    try:
        event = json.loads(text)
    except json.JSONDecodeError:
        raise InvalidInput("the webhook body is not JSON") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise InvalidInput("the webhook body is not a Stripe event")
    return event


def to_payment_event(event: dict[str, Any]) -> PaymentEvent:
    """Reads what the core needs from a Stripe event; unknown types become OTHER."""
    kind = KINDS.get(str(event.get("type")), PaymentEventKind.OTHER)
    obj = (event.get("data") or {}).get("object") or {}
    if not isinstance(obj, dict):
        raise InvalidInput("the event has no data.object")
    metadata = obj.get("metadata") or {}
    base: dict[str, Any] = {"id": event["id"], "kind": kind, "type": str(event.get("type"))}
    if kind is PaymentEventKind.OTHER:
        return PaymentEvent(**base)
    if kind is PaymentEventKind.CHECKOUT_COMPLETED and obj.get("mode") == "setup":
        return PaymentEvent(
            **{**base, "kind": PaymentEventKind.CARD_SAVED},
            session_id=_str(obj.get("id")),
            setup_ref=_id(obj.get("setup_intent")),
            identity=_str(metadata.get("identity")),
            payment_customer=_id(obj.get("customer")),
        )
    if str(event.get("type")).startswith("payment_intent."):
        return PaymentEvent(
            **base,
            order_ref=_str(metadata.get("order_ref")),
            payment_ref=_str(obj.get("id")),
            paid=obj.get("status") == "succeeded",
            amount=_int(obj.get("amount")),
            payment_customer=_id(obj.get("customer")),
        )
    if str(event.get("type")).startswith("checkout.session."):
        return PaymentEvent(
            **base,
            order_ref=_str(obj.get("client_reference_id")) or _str(metadata.get("order_ref")),
            session_id=_str(obj.get("id")),
            payment_ref=_id(obj.get("payment_intent")),
            paid=obj.get("payment_status") == "paid",
            amount=_int(obj.get("amount_total")),
            payment_customer=_id(obj.get("customer")),
            ship_to=session_ship_to(obj),
        )
    if kind is PaymentEventKind.CHARGE_REFUNDED:
        return PaymentEvent(
            **base,
            order_ref=_str(metadata.get("order_ref")),
            payment_ref=_id(obj.get("payment_intent")),
            charge_ref=_str(obj.get("id")),
            amount=_int(obj.get("amount")),
            amount_refunded=_int(obj.get("amount_refunded")),
        )
    status = _str(obj.get("status"))
    return PaymentEvent(  # disputes
        **base,
        order_ref=_str(metadata.get("order_ref")),
        payment_ref=_id(obj.get("payment_intent")),
        amount=_int(obj.get("amount")),
        dispute_outcome=status if status in ("won", "lost") else None,
    )


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


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    """Stripe sends either an id or the expanded object."""
    if isinstance(value, dict):
        return _str(value.get("id"))
    return _str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
