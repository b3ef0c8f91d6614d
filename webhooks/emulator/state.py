"""The emulator's memory: Stripe-shaped objects, form decoding, and signed events.

Everything lives in this process's memory: a restart forgets every session, payment and
event. That is what a local test mode needs, and the real Stripe is never involved.
"""

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiDictProxy

Obj = dict[str, Any]


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def decode_form(form: MultiDictProxy[Any]) -> Obj:
    """Stripe's nested form encoding: `line_items[0][price_data][currency]=eur`."""
    root: Obj = {}
    for key, value in form.items():
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"conflicting parameter {key}")
        if parts:
            node[parts[-1]] = value if isinstance(value, str) else str(value)
    decoded: Obj = _lists(root)
    return decoded


def _lists(node: Any) -> Any:
    """{"0": a, "1": b} becomes [a, b], recursively."""
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def signature(payload: str, secret: str, at: int | None = None) -> str:
    """The Stripe-Signature header for a payload: t=<unix>,v1=<hmac-sha256 hex>."""
    t = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


class StripeFailure(Exception):
    """Answered with Stripe's error envelope."""

    def __init__(
        self,
        message: str,
        param: str | None = None,
        status: int = 400,
        type_: str = "invalid_request_error",
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: Obj = {"error": {"type": type_, "message": message}}
        if param:
            self.body["error"]["param"] = param
        if code:
            self.body["error"]["code"] = code


@dataclass
class Delivery:
    event_id: str
    attempts: int = 0
    last_status: int | None = None
    delivered: bool = False


@dataclass
class State:
    public_base_url: str
    customers: dict[str, Obj] = field(default_factory=dict)
    sessions: dict[str, Obj] = field(default_factory=dict)
    items: dict[str, list[Obj]] = field(default_factory=dict)  # session id -> line items
    payments: dict[str, Obj] = field(default_factory=dict)  # payment intent id -> charge
    events: list[Obj] = field(default_factory=list)
    idempotency: dict[str, tuple[str, int, Obj]] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)

    def customer(self, email: str | None = None) -> Obj:
        obj: Obj = {
            "id": new_id("cus"),
            "object": "customer",
            "email": email,
            "livemode": False,
            "created": int(time.time()),
            "metadata": {},
        }
        self.customers[obj["id"]] = obj
        return obj

    def create_session(self, params: Obj) -> Obj:
        if params.get("mode", "payment") != "payment":
            raise StripeFailure("Only mode=payment is emulated.", "mode")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise StripeFailure("Missing required param: line_items.", "line_items")
        lines = [self._line(i, item) for i, item in enumerate(items)]
        currencies = {line["currency"] for line in lines}
        if len(currencies) != 1:
            raise StripeFailure("All line items must use the same currency.", "line_items")
        for url in ("success_url", "cancel_url"):
            if not str(params.get(url, "")).startswith(("http://", "https://")):
                raise StripeFailure(f"Missing or invalid param: {url}.", url)
        now = int(time.time())
        expires_at = _int(params.get("expires_at", now + 86400), "expires_at")
        if not now + 1800 <= expires_at <= now + 86400:
            raise StripeFailure(
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
                "expires_at",
            )
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise StripeFailure(
                f"No such customer: '{customer}'", "customer", 400, code="resource_missing"
            )
        session_id = new_id("cs")
        total = sum(line["amount"] for line in lines)
        session: Obj = {
            "id": session_id,
            "object": "checkout.session",
            "mode": "payment",
            "status": "open",
            "payment_status": "unpaid",
            "url": f"{self.public_base_url}/stripe-emulator/pay/{session_id}",
            "amount_subtotal": total,
            "amount_total": total,
            "currency": currencies.pop(),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "customer": customer,
            "customer_creation": params.get("customer_creation"),
            "customer_email": params.get("customer_email"),
            "payment_intent": None,
            "payment_intent_data": params.get("payment_intent_data") or {},
            "shipping_address_collection": params.get("shipping_address_collection"),
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "created": now,
            "expires_at": expires_at,
            "livemode": False,
        }
        self.sessions[session_id] = session
        self.items[session_id] = lines
        return session

    def _line(self, index: int, item: Any) -> Obj:
        param = f"line_items[{index}]"
        data = item.get("price_data") if isinstance(item, dict) else None
        if not isinstance(data, dict):
            raise StripeFailure("Each line item needs price_data.", param)
        name = (data.get("product_data") or {}).get("name")
        if not name:
            raise StripeFailure("Missing product_data[name].", f"{param}[price_data]")
        unit = _int(data.get("unit_amount"), f"{param}[price_data][unit_amount]")
        quantity = _int(item.get("quantity", 1), f"{param}[quantity]")
        if unit < 1 or quantity < 1:
            raise StripeFailure("Amounts and quantities must be positive.", param)
        currency = str(data.get("currency", "")).lower()
        if len(currency) != 3:
            raise StripeFailure("Invalid currency.", f"{param}[price_data][currency]")
        return {
            "name": name,
            "unit_amount": unit,
            "quantity": quantity,
            "amount": unit * quantity,
            "currency": currency,
        }

    def session(self, session_id: str) -> Obj:
        session = self.sessions.get(session_id)
        if session is None:
            raise StripeFailure(
                f"No such checkout.session: '{session_id}'",
                "session",
                404,
                code="resource_missing",
            )
        return session

    def charge(self, payment_intent: str) -> Obj:
        charge = self.payments.get(payment_intent)
        if charge is None:
            raise StripeFailure(
                f"No such payment_intent: '{payment_intent}'",
                "payment_intent",
                404,
                code="resource_missing",
            )
        return charge

    def event(self, type_: str, obj: Obj) -> Obj:
        event = {
            "id": new_id("evt"),
            "object": "event",
            "type": type_,
            "api_version": "2024-06-20",
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": json.loads(json.dumps(obj))},  # a snapshot, as Stripe sends
        }
        self.events.append(event)
        return event


def _int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeFailure(f"Invalid integer: {value}", param) from None
