"""Signing webhook bodies the way Stripe does (HMAC-SHA256 over "{t}.{body}")."""

import hashlib
import hmac
import json
import time
from typing import Any

SECRET = "whsec_test_secret"


def sign(body: bytes, secret: str = SECRET, at: int | None = None) -> str:
    t = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_body(event_id: str, type_: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": type_,
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def session(order_ref: str, session_id: str, paid: bool = True) -> dict[str, Any]:
    return {
        "id": session_id,
        "object": "checkout.session",
        "client_reference_id": order_ref,
        "metadata": {"order_ref": order_ref},
        "payment_status": "paid" if paid else "unpaid",
        "status": "complete",
        "payment_intent": f"pi_{order_ref}",
        "amount_total": 2500,
        "currency": "eur",
        "customer": "cus_test",
        # The address Checkout asked for (the shop's products ship).
        "shipping_details": {
            "name": "Anna Buyer",
            "address": {"line1": "Street 1", "postal_code": "10115", "city": "Berlin"}
            | {"country": "DE", "line2": None, "state": None},
        },
    }


def charge(order_ref: str, amount: int, refunded: int) -> dict[str, Any]:
    return {
        "id": f"ch_{order_ref}",
        "object": "charge",
        "amount": amount,
        "amount_refunded": refunded,
        "refunded": refunded >= amount,
        "payment_intent": f"pi_{order_ref}",
        "metadata": {"order_ref": order_ref},
    }
