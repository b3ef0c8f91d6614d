"""The emulator's memory: Stripe-shaped objects, form decoding, and signed events.

Everything lives in this process's memory: a restart forgets every session, payment and
event. That is what a local test mode needs, and the real Stripe is never involved. Memory
stays flat however long the server runs: sessions older than a day (the longest a Checkout
Session can stay open) are forgotten, and so is the oldest of any kind of object past `keep`
of them (State.forget).

Cards are Stripe's own test numbers (TEST_CARDS); an object never carries the number, only
the brand and the last four digits, as Stripe's do.
"""

import hashlib
import hmac
import json
import re
import secrets
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multidict import MultiMapping

from commerce.adapters.stripe_version import API_VERSION

Obj = dict[str, Any]


# The email a buyer who types none pays with.
TEST_EMAIL = "buyer@example.com"


def card_fingerprint(number: str) -> str:
    """A card's fingerprint as Stripe gives it: the same for the same card number, whoever
    pays with it (`payment_method.card.fingerprint`), never the number itself."""
    return hashlib.sha256(number.replace(" ", "").encode()).hexdigest()[:16]


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


def decode_form(form: MultiMapping[Any]) -> Obj:
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
        extra: Obj | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: Obj = {"error": {"type": type_, "message": message}}
        if param:
            self.body["error"]["param"] = param
        if code:
            self.body["error"]["code"] = code
        self.body["error"].update(extra or {})


@dataclass(frozen=True)
class Decline:
    code: str
    decline_code: str
    message: str


DECLINED = Decline("card_declined", "generic_decline", "Your card was declined.")
NO_FUNDS = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.")
AUTHENTICATE = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)


@dataclass(frozen=True)
class EmulatedCard:
    """One of Stripe's test numbers and how it behaves here."""

    number: str
    label: str  # what the checkout page says about it
    on_page: Decline | None = None  # paying on the checkout page fails so
    off_session: Decline | None = None  # a later off-session charge fails so
    brand: str = "visa"
    country: str = "US"
    # Later off-session charges answer `processing` and stay so (as a SEPA Direct Debit does)
    # until POST /_test/payment_intents/<id>/settle ends them.
    delayed: bool = False
    listed: bool = True  # offered on the checkout page (the others are taken when typed)

    @property
    def last4(self) -> str:
        return self.number[-4:]

    def spaced(self) -> str:
        return " ".join(self.number[i : i + 4] for i in range(0, 16, 4))


TEST_CARDS = {
    card.number: card
    for card in (
        EmulatedCard("4242424242424242", "succeeds"),
        # More of Stripe's numbers that succeed: another card is another payer (its own
        # fingerprint), e.g. for the demo's buyers under a per-buyer limit. Not offered on
        # the page, whose list shows one card per behaviour.
        EmulatedCard(
            "5555555555554444", "succeeds (Mastercard)", brand="mastercard", listed=False
        ),
        EmulatedCard("4000056655665556", "succeeds (Visa debit)", listed=False),
        EmulatedCard(
            "2223003122003222", "succeeds (Mastercard 2-series)", brand="mastercard", listed=False
        ),
        EmulatedCard(
            "5200828282828210", "succeeds (Mastercard debit)", brand="mastercard", listed=False
        ),
        EmulatedCard("6011111111111117", "succeeds (Discover)", brand="discover", listed=False),
        EmulatedCard("3566002020360505", "succeeds (JCB)", brand="jcb", listed=False),
        EmulatedCard("4000000000000341", "saved, but later charges are declined", None, DECLINED),
        EmulatedCard("4000000000009995", "declined: insufficient funds", NO_FUNDS, NO_FUNDS),
        EmulatedCard(
            "4000002760003184",
            "authenticates here, later charges need the buyer (3-D Secure)",
            None,
            AUTHENTICATE,
            country="DE",
        ),
        # Not one of Stripe's numbers: its cards are never delayed, SEPA debits are.
        EmulatedCard(
            "4000000000006009",
            "emulator only: later charges stay processing, as a SEPA debit does",
            delayed=True,
            country="DE",
        ),
    )
}
DEFAULT_CARD = "4242424242424242"


# What the page's shipping address fields hold at first (Stripe's field names), so a test
# that only presses Pay still sends an address; the buyer may type another.
TEST_ADDRESS = {
    "name": "Jenny Rosen",
    "line1": "Teststraße 1",
    "line2": "",
    "postal_code": "10115",
    "city": "Berlin",
    "state": "",
    "country": "DE",
}


def shipping_details(session: Obj, typed: Mapping[str, Any]) -> Obj | None:
    """The session's shipping_details from the page's address fields (one not sent keeps
    the test address); None when the session does not collect an address."""
    collection = session.get("shipping_address_collection")
    if not collection:
        return None
    fields = {k: " ".join(str(typed.get(k, v)).split()) for k, v in TEST_ADDRESS.items()}
    fields["country"] = fields["country"].upper()
    missing = [k for k in ("name", "line1", "city", "country") if not fields[k]]
    if missing:
        raise StripeFailure(f"Enter the shipping address ({', '.join(missing)}).", "shipping")
    allowed = collection.get("allowed_countries") if isinstance(collection, dict) else None
    if allowed and fields["country"] not in allowed:
        raise StripeFailure(f"This shop does not ship to {fields['country']}.", "shipping")
    name = fields.pop("name")
    return {"name": name, "address": {k: v or None for k, v in fields.items()}}


# The fixed test rate the emulator's "Stripe Tax" charges on items and shipping (tax
# exclusive) when a session asks for automatic_tax: enough to see tax go through the loop.
TEST_TAX_PERCENT = 10
MAX_SHIPPING_OPTIONS = 5  # Stripe's own limit


def _shipping_rates(options: Any, currency: str | None) -> list[Obj]:
    """`shipping_options[n][shipping_rate_data]` of fixed amounts, as Stripe checks them."""
    if options in (None, ""):
        return []
    if not isinstance(options, list) or len(options) > MAX_SHIPPING_OPTIONS:
        raise StripeFailure("Pass at most 5 shipping options.", "shipping_options")
    rates = []
    for index, option in enumerate(options):
        param = f"shipping_options[{index}][shipping_rate_data]"
        data = option.get("shipping_rate_data") if isinstance(option, dict) else None
        if not isinstance(data, dict) or data.get("type", "fixed_amount") != "fixed_amount":
            raise StripeFailure("Only fixed_amount shipping_rate_data is emulated.", param)
        fixed = data.get("fixed_amount")
        if not isinstance(fixed, dict):
            raise StripeFailure("Missing required param: fixed_amount.", f"{param}[fixed_amount]")
        amount = _int(fixed.get("amount"), f"{param}[fixed_amount][amount]")
        if amount < 0:
            raise StripeFailure("Shipping amounts cannot be negative.", param)
        if str(fixed.get("currency", "")).lower() != currency:
            raise StripeFailure(
                "The shipping rate's currency must be the session's.", f"{param}[fixed_amount]"
            )
        if not data.get("display_name"):
            raise StripeFailure("Missing required param: display_name.", param)
        name = str(data["display_name"])
        rates.append({"id": new_id("shr"), "display_name": name, "amount": amount})
    return rates


def price_session(session: Obj, rate: Obj | None) -> None:
    """The session's totals with this shipping option (and the test tax rate when the
    session asked for automatic tax), as Stripe reports them."""
    items = session["amount_subtotal"]
    shipping = rate["amount"] if rate else 0
    taxed = session["automatic_tax"]["enabled"]
    percent = TEST_TAX_PERCENT if taxed else 0
    item_tax = (items * percent + 50) // 100
    shipping_tax = (shipping * percent + 50) // 100
    session["total_details"] = {
        "amount_discount": 0,
        "amount_shipping": shipping,
        "amount_tax": item_tax + shipping_tax,
    }
    session["automatic_tax"]["status"] = "complete" if taxed else None
    session["shipping_cost"] = (
        {
            "amount_subtotal": shipping,
            "amount_tax": shipping_tax,
            "amount_total": shipping + shipping_tax,
            "shipping_rate": rate["id"],
        }
        if rate
        else None
    )
    session["amount_total"] = items + shipping + item_tax + shipping_tax


def emulated_card(number: str | None) -> EmulatedCard:
    card = TEST_CARDS.get((number or DEFAULT_CARD).replace(" ", ""))
    if card is None:
        raise StripeFailure(
            "Your card number is not one of the emulator's test cards.",
            "card",
            402,
            "card_error",
            "invalid_number",
        )
    return card


@dataclass
class Delivery:
    event_id: str
    attempts: int = 0
    last_status: int | None = None
    delivered: bool = False


KEEP = 1_000  # objects of each kind kept (sessions, payments, events, ...): a laptop's demo
DAY = 86_400  # seconds: no Checkout Session outlives a day
FORGET_EVERY = 60  # seconds between passes over the sessions' ages


@dataclass
class State:
    public_base_url: str
    keep: int = KEEP
    customers: dict[str, Obj] = field(default_factory=dict)
    sessions: dict[str, Obj] = field(default_factory=dict)
    # What a session was created with that its object does not show (payment_intent_data,
    # setup_intent_data), by session id.
    session_terms: dict[str, Obj] = field(default_factory=dict)
    items: dict[str, list[Obj]] = field(default_factory=dict)  # session id -> line items
    payments: dict[str, Obj] = field(default_factory=dict)  # payment intent id -> charge
    disputes: dict[str, Obj] = field(default_factory=dict)  # payment intent id -> dispute
    payment_intents: dict[str, Obj] = field(default_factory=dict)
    setup_intents: dict[str, Obj] = field(default_factory=dict)
    payment_methods: dict[str, Obj] = field(default_factory=dict)
    card_numbers: dict[str, str] = field(default_factory=dict)  # pm id -> test number
    events: deque[Obj] = field(default_factory=deque)
    idempotency: dict[str, tuple[str, int, Obj]] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    forgot_at: float = 0.0  # when the sessions' ages were last looked at

    def forget(self, now: float | None = None) -> None:
        """Drops sessions older than a day, and the oldest objects past `keep` of a kind.

        Every kind is kept in creation order (dicts keep insertion order), so the oldest are
        first: a pass costs what it drops. A buyer who opens a link that was forgotten gets
        the emulator's 404, as an expired session's link would give at Stripe."""
        now = time.time() if now is None else now
        if now - self.forgot_at >= FORGET_EVERY:
            self.forgot_at = now
            while self.sessions:
                oldest = next(iter(self.sessions.values()))
                if oldest["created"] > now - DAY:
                    break
                self._drop_session(oldest["id"])
        while len(self.sessions) > self.keep:
            self._drop_session(next(iter(self.sessions)))
        for kind in (
            self.customers,
            self.payments,
            self.disputes,
            self.payment_intents,
            self.setup_intents,
            self.idempotency,
            self.deliveries,
        ):
            _trim(kind, self.keep)
        while len(self.payment_methods) > self.keep:
            pm_id = next(iter(self.payment_methods))
            del self.payment_methods[pm_id]
            self.card_numbers.pop(pm_id, None)
        while len(self.events) > self.keep:
            self.events.popleft()

    def _drop_session(self, session_id: str) -> None:
        del self.sessions[session_id]
        self.session_terms.pop(session_id, None)
        self.items.pop(session_id, None)

    def customer(self, email: str | None = None, metadata: Obj | None = None) -> Obj:
        obj: Obj = {
            "id": new_id("cus"),
            "object": "customer",
            "email": email,
            "livemode": False,
            "created": int(time.time()),
            "metadata": metadata or {},
        }
        self.customers[obj["id"]] = obj
        return obj

    def create_session(self, params: Obj) -> Obj:
        mode = params.get("mode", "payment")
        if mode not in ("payment", "setup"):
            raise StripeFailure("Only mode=payment and mode=setup are emulated.", "mode")
        if mode == "setup":
            lines, currency, total = self._setup_terms(params)
        else:
            items = params.get("line_items")
            if not isinstance(items, list) or not items:
                raise StripeFailure("Missing required param: line_items.", "line_items")
            lines = [self._line(i, item) for i, item in enumerate(items)]
            currencies = {line["currency"] for line in lines}
            if len(currencies) != 1:
                raise StripeFailure("All line items must use the same currency.", "line_items")
            currency, total = currencies.pop(), sum(line["amount"] for line in lines)
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
        rates = (
            _shipping_rates(params.get("shipping_options"), currency) if mode == "payment" else []
        )
        taxed = str((params.get("automatic_tax") or {}).get("enabled", "")).lower() == "true"
        session_id = new_id("cs")
        session: Obj = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
            "url": f"{self.public_base_url}/stripe-emulator/pay/{session_id}",
            "amount_subtotal": total,
            "amount_total": total,
            "currency": currency,
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata") or {},
            "customer": customer,
            "customer_creation": params.get("customer_creation"),
            "customer_email": params.get("customer_email"),
            "customer_details": None,  # who paid: the email typed, once complete
            "payment_intent": None,
            "payment_method_types": ["card"],
            "setup_intent": None,
            "locale": params.get("locale"),
            "shipping_address_collection": params.get("shipping_address_collection"),
            "shipping_options": [
                {"shipping_amount": rate["amount"], "shipping_rate": rate["id"]} for rate in rates
            ],
            "shipping_cost": None,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "automatic_tax": {"enabled": taxed, "liability": None, "status": None},
            # What the buyer typed (the address), once paid; `shipping_details` at the top
            # in API versions before 2025-03-31.basil.
            "collected_information": None,
            "success_url": params["success_url"],
            "cancel_url": params["cancel_url"],
            "created": now,
            "expires_at": expires_at,
            "livemode": False,
        }
        self.sessions[session_id] = session
        self.session_terms[session_id] = {
            "payment_intent_data": params.get("payment_intent_data") or {},
            "setup_intent_data": params.get("setup_intent_data") or {},
            "shipping_rates": rates,
        }
        self.items[session_id] = lines
        self.forget()
        if mode == "payment":
            # As Stripe does, the first shipping option is chosen until the buyer picks one.
            price_session(session, rates[0] if rates else None)
        return session

    def shipping_rates(self, session: Obj) -> list[Obj]:
        """The session's shipping options: id, display_name, amount (as created)."""
        rates: list[Obj] = self.session_terms[session["id"]].get("shipping_rates", [])
        return rates

    def choose_rate(self, session: Obj, rate_id: Any) -> None:
        """The buyer's choice of shipping option (none sent: the one chosen already)."""
        rates = self.shipping_rates(session)
        if not rates:
            return
        if not rate_id:
            chosen = session["shipping_cost"]["shipping_rate"] if session["shipping_cost"] else ""
            rate_id = chosen or rates[0]["id"]
        rate = next((r for r in rates if r["id"] == rate_id), None)
        if rate is None:
            raise StripeFailure("Choose one of the shipping options.", "shipping_rate")
        price_session(session, rate)

    def _setup_terms(self, params: Obj) -> tuple[list[Obj], str | None, None]:
        if params.get("line_items"):
            raise StripeFailure("You can not pass `line_items` in `setup` mode.", "line_items")
        if params.get("customer_creation"):
            raise StripeFailure(
                "`customer_creation` can only be used in `payment` mode.", "customer_creation"
            )
        allowed = params.get("allowed_payment_method_types")
        if not params.get("currency") and not allowed:
            raise StripeFailure(
                "`currency` is required in `setup` mode when `allowed_payment_method_types` "
                "is not set.",
                "currency",
            )
        if allowed and "card" not in allowed:
            raise StripeFailure(
                "Only cards are emulated: `allowed_payment_method_types` must include card.",
                "allowed_payment_method_types",
            )
        currency = params.get("currency")
        return [], str(currency).lower() if currency else None, None

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

    def charge_by_id(self, charge_id: str) -> Obj:
        for charge in self.payments.values():
            if charge["id"] == charge_id:
                return charge
        raise StripeFailure(
            f"No such charge: '{charge_id}'", "charge", 404, code="resource_missing"
        )

    # cards ---------------------------------------------------------------------------------

    def payment_method(self, pm_id: str) -> Obj:
        return _found(self.payment_methods, pm_id, "PaymentMethod", "payment_method")

    def payment_intent(self, pi_id: str) -> Obj:
        return _found(self.payment_intents, pi_id, "payment_intent", "intent")

    def setup_intent(self, seti_id: str) -> Obj:
        return _found(self.setup_intents, seti_id, "setup_intent", "intent")

    def new_payment_method(
        self, card: EmulatedCard, customer: str | None, email: str | None = None
    ) -> Obj:
        pm: Obj = {
            "id": new_id("pm"),
            "object": "payment_method",
            "type": "card",
            "card": {
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": 12,
                "exp_year": time.gmtime().tm_year + 3,
                "country": card.country,
                "funding": "credit",
                "fingerprint": card_fingerprint(card.number),
            },
            "customer": customer,
            "billing_details": {"name": None, "email": email, "address": None, "phone": None},
            "metadata": {},
            "created": int(time.time()),
            "livemode": False,
        }
        self.payment_methods[pm["id"]] = pm
        self.card_numbers[pm["id"]] = card.number
        return pm

    def cards_of(self, customer: str | None) -> list[Obj]:
        """A customer's attached payment methods, newest first (every one when None)."""
        found = self.payment_methods.values()
        return [pm for pm in reversed(found) if customer is None or pm["customer"] == customer]

    def detach(self, pm_id: str) -> Obj:
        pm = self.payment_method(pm_id)
        if pm["customer"] is None:
            raise StripeFailure(
                "The payment method you provided is not attached to a customer so detachment "
                "is impossible.",
                "payment_method",
            )
        pm["customer"] = None
        return pm

    def _new_charge(self, intent: Obj) -> Obj:
        charge: Obj = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_refunded": 0,
            "refunded": False,
            "disputed": False,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            # What Stripe's Charge says of the card (stripe.Charge.PaymentMethodDetails) and
            # of who paid (billing_details: Checkout puts the email typed there).
            "payment_method_details": self._card_details(intent["payment_method"]),
            "billing_details": self._billing(intent["payment_method"]),
            "metadata": intent["metadata"],
            "description": intent.get("description"),
            "paid": True,
            "status": "succeeded",
            "created": int(time.time()),
            "livemode": False,
        }
        self.payments[intent["id"]] = charge
        intent["latest_charge"] = charge["id"]
        return charge

    def _card_details(self, pm_id: str | None) -> Obj | None:
        pm = self.payment_methods.get(pm_id or "")
        if pm is None:
            return None
        card = pm["card"]
        fields = ("brand", "last4", "exp_month", "exp_year", "country", "funding", "fingerprint")
        return {"type": "card", "card": {key: card[key] for key in fields}}

    def _billing(self, pm_id: str | None) -> Obj:
        pm = self.payment_methods.get(pm_id or "")
        empty = {"name": None, "email": None, "address": None, "phone": None}
        return dict(pm["billing_details"]) if pm is not None else empty

    def _new_intent(self, params: Obj) -> Obj:
        intent: Obj = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": params["amount"],
            "amount_received": 0,
            "currency": params["currency"],
            "customer": params.get("customer"),
            "payment_method": params.get("payment_method"),
            "payment_method_types": ["card"],
            "setup_future_usage": params.get("setup_future_usage"),
            "capture_method": "automatic",
            "confirmation_method": "automatic",
            "description": params.get("description"),
            "metadata": params.get("metadata") or {},
            "status": "requires_payment_method",
            "latest_charge": None,
            "last_payment_error": None,
            "created": int(time.time()),
            "livemode": False,
        }
        self.payment_intents[intent["id"]] = intent
        return intent

    def _succeed(self, intent: Obj) -> None:
        intent.update(status="succeeded", amount_received=intent["amount"])
        self._new_charge(intent)

    # paying a checkout session -------------------------------------------------------------

    def complete(
        self, session: Obj, number: str | None, address: Mapping[str, Any] | None = None
    ) -> list[Obj]:
        """The buyer pays (or saves a card) on the page; the events Stripe would send.
        A card declined on the page, or a missing address, raises an error and the session
        stays open. `address`: what was typed in the page's shipping fields."""
        card = emulated_card(number)
        if session["mode"] == "setup":
            return self._complete_setup(session, card)
        shipping = shipping_details(session, address or {})
        self.choose_rate(session, (address or {}).get("shipping_rate"))
        if card.on_page is not None:
            raise _card_failure(card.on_page, None, None)
        # The email typed on the page (Checkout asks every buyer), else the one the session
        # was created with, else the emulator's test address.
        email = str((address or {}).get("email") or session.get("customer_email") or TEST_EMAIL)
        customer = session["customer"]
        if customer is None:  # customer_creation=always, as livebuy asks
            customer = self.customer(email)["id"]
        data = self.session_terms[session["id"]]["payment_intent_data"]
        saving = data.get("setup_future_usage") in ("off_session", "on_session")
        # Every payment has a payment method; only a saved one is attached to the customer.
        pm = self.new_payment_method(card, customer if saving else None, email)
        intent = self._new_intent(
            {
                "amount": session["amount_total"],
                "currency": session["currency"],
                "customer": customer,
                "payment_method": pm["id"],
                "setup_future_usage": data.get("setup_future_usage"),
                "description": data.get("description"),
                "metadata": data.get("metadata") or {},
            }
        )
        self._succeed(intent)
        session.update(
            status="complete",
            payment_status="paid",
            customer=customer,
            payment_intent=intent["id"],
            customer_details={
                "email": email,
                "name": (shipping or {}).get("name"),
                "address": None,
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            },
            collected_information={
                "business_name": None,
                "individual_name": None,
                "shipping_details": shipping,
            },
        )
        return [
            self.event("checkout.session.completed", session),
            self.event("payment_intent.succeeded", intent),
        ]

    def _complete_setup(self, session: Obj, card: EmulatedCard) -> list[Obj]:
        customer = session["customer"]
        pm = self.new_payment_method(card, customer)
        data = self.session_terms[session["id"]]["setup_intent_data"]
        setup: Obj = {
            "id": new_id("seti"),
            "object": "setup_intent",
            "status": "succeeded",
            "usage": "off_session",
            "customer": customer,
            "payment_method": pm["id"],
            "payment_method_types": ["card"],
            "description": data.get("description"),
            "metadata": data.get("metadata") or {},
            "last_setup_error": None,
            "created": int(time.time()),
            "livemode": False,
        }
        self.setup_intents[setup["id"]] = setup
        session.update(status="complete", setup_intent=setup["id"])
        return [
            self.event("checkout.session.completed", session),
            self.event("setup_intent.succeeded", setup),
        ]

    # charging a saved card -----------------------------------------------------------------

    def create_intent(self, params: Obj) -> tuple[Obj, list[Obj], StripeFailure | None]:
        """POST /v1/payment_intents: the intent, the events to send, and the card error to
        answer with (HTTP 402) when an off-session confirmation fails."""
        amount = _int(params.get("amount"), "amount")
        if amount < 1:
            raise StripeFailure("This value must be greater than or equal to 1.", "amount")
        currency = str(params.get("currency", "")).lower()
        if len(currency) != 3:
            raise StripeFailure("Invalid currency.", "currency")
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise StripeFailure(
                f"No such customer: '{customer}'", "customer", code="resource_missing"
            )
        pm_id = params.get("payment_method")
        confirm = _bool(params.get("confirm"))
        if pm_id is not None:
            pm = self.payment_method(str(pm_id))
            if pm["customer"] is None and _bool(params.get("off_session")):
                raise StripeFailure(
                    "The provided PaymentMethod was previously used with a PaymentIntent "
                    "without Customer attachment, shared with a connected account without "
                    "Customer attachment, or was detached from a Customer. It may not be used "
                    "again. To use a PaymentMethod multiple times, you must attach it to a "
                    "Customer first.",
                    "payment_method",
                )
            if pm["customer"] is not None and pm["customer"] != customer:
                raise StripeFailure(
                    "The provided PaymentMethod belongs to another Customer.", "payment_method"
                )
        elif confirm:
            raise StripeFailure(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                "payment_method",
            )
        intent = self._new_intent(params | {"amount": amount, "currency": currency})
        if not confirm:
            if pm_id is not None:
                intent["status"] = "requires_confirmation"
            return intent, [], None
        card = TEST_CARDS[self.card_numbers[str(pm_id)]]
        decline = card.off_session if _bool(params.get("off_session")) else card.on_page
        if card.delayed and _bool(params.get("off_session")):
            intent["status"] = "processing"
            return intent, [self.event("payment_intent.processing", intent)], None
        if decline is None:
            self._succeed(intent)
            return intent, [self.event("payment_intent.succeeded", intent)], None
        failure = _card_failure(decline, None, self.payment_methods[str(pm_id)])
        intent["last_payment_error"] = json.loads(json.dumps(failure.body["error"]))
        failure.body["error"]["payment_intent"] = json.loads(json.dumps(intent))
        return intent, [self.event("payment_intent.payment_failed", intent)], failure

    def settle(self, pi_id: str, succeeded: bool) -> Obj:
        """A processing payment ends: the money came, or the debit failed. The event Stripe
        would send."""
        intent = self.payment_intent(pi_id)
        if intent["status"] != "processing":
            raise StripeFailure(
                f"The payment_intent is {intent['status']}, not processing.", "intent", 409
            )
        if succeeded:
            self._succeed(intent)
            return self.event("payment_intent.succeeded", intent)
        intent["status"] = "requires_payment_method"
        intent["last_payment_error"] = {
            "type": "card_error",
            "code": "payment_method_provider_decline",
            "message": "The payment was declined by the bank.",
        }
        return self.event("payment_intent.payment_failed", intent)

    def event(self, type_: str, obj: Obj) -> Obj:
        event = {
            "id": new_id("evt"),
            "object": "event",
            "type": type_,
            "api_version": API_VERSION,
            "created": int(time.time()),
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": json.loads(json.dumps(obj))},  # a snapshot, as Stripe sends
        }
        self.events.append(event)
        self.forget()
        return event


def _trim(objects: dict[str, Any], keep: int) -> None:
    while len(objects) > keep:
        del objects[next(iter(objects))]


def _card_failure(decline: Decline, intent: Obj | None, pm: Obj | None) -> StripeFailure:
    extra: Obj = {"decline_code": decline.decline_code}
    if intent is not None:
        extra["payment_intent"] = json.loads(json.dumps(intent))
    if pm is not None:
        extra["payment_method"] = json.loads(json.dumps(pm))
    return StripeFailure(decline.message, None, 402, "card_error", decline.code, extra)


def _found(objects: dict[str, Obj], id_: str, name: str, param: str) -> Obj:
    obj = objects.get(id_)
    if obj is None:
        raise StripeFailure(f"No such {name}: '{id_}'", param, 404, code="resource_missing")
    return obj


def _bool(value: Any) -> bool:
    return str(value).lower() == "true"


def _int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeFailure(f"Invalid integer: {value}", param) from None
