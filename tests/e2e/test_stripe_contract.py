"""The contract with Stripe at the pinned API version, checked against the installed `stripe`
library (not against the emulator, which livebuy wrote): every call the gateway makes sends
only parameters that version defines (tests/stripe_contract.py checks every request of every
test; here each gateway method is driven at least once), names that version, and the
emulator answers with that version's objects and refuses what that version removed."""

import inspect
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import stripe

from commerce.adapters.stripe_gateway import StripePaymentGateway
from commerce.adapters.stripe_version import API_VERSION
from commerce.domain.money import Money
from commerce.domain.payments import Payer
from commerce.service_layer.ports import ChargeRequest, ChargeStatus, SavedCard, ShippingOption
from tests.e2e.conftest import KEY, Stripe
from tests.e2e.test_emulator_api import request
from tests.stripe_contract import ENDPOINTS, request_violations, violations
from webhooks.devtools.emulator.app import ApiRequest
from webhooks.devtools.emulator.state import DEFAULT_CARD, TEST_EMAIL, card_fingerprint

AUTH = {"Authorization": f"Bearer {KEY}"}
ROOT = Path(__file__).resolve().parents[2]
# The objects the emulator answers with, and the library's classes of them.
RESOURCES: dict[str, type] = {
    "checkout.session": stripe.checkout.Session,
    "payment_intent": stripe.PaymentIntent,
    "setup_intent": stripe.SetupIntent,
    "customer": stripe.Customer,
    "payment_method": stripe.PaymentMethod,
    "charge": stripe.Charge,
    "refund": stripe.Refund,
    "dispute": stripe.Dispute,
    "event": stripe.Event,
}
# Every call the gateway makes to Stripe (its public coroutines but close).
GATEWAY_CALLS = {
    name
    for name, _ in inspect.getmembers(StripePaymentGateway, inspect.iscoroutinefunction)
    if not name.startswith("_") and name != "close"
}
# setup mode, as the gateway sent it before the API version was pinned.
OLD_CARD_SETUP = {
    "mode": "setup",
    "customer": "cus_test_1",
    "payment_method_types": ["card"],
    "metadata": {"identity": "telegram:42", "purpose": "card_setup"},
    "setup_intent_data": {"metadata": {"identity": "telegram:42"}},
    "success_url": "http://127.0.0.1:8080/checkout/done?card=1",
    "cancel_url": "http://127.0.0.1:8080/checkout/cancelled?card=1",
    "locale": "de",
}


def test_one_api_version_pinned_in_one_place() -> None:
    """pyproject.toml pins the library exactly; the version is the library's own."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    pins = [d for d in project["project"]["dependencies"] if re.match(r"stripe\b", d)]
    assert pins == [f"stripe=={stripe.VERSION}"]
    assert stripe.api_version == API_VERSION
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.[a-z]+", API_VERSION)
    # Nobody names a version of their own (the emulator and the gateway import this one).
    stripe_code = [
        *(ROOT / "src/commerce/adapters").glob("stripe_*.py"),
        *(ROOT / "webhooks/devtools/emulator").glob("*.py"),
        ROOT / "webhooks/stripe.py",
    ]
    version = re.compile(r"['\"]\d{4}-\d\d-\d\d(\.[a-z]+)?['\"]")
    assert [p.name for p in stripe_code if version.search(p.read_text())] == []


async def test_every_gateway_call_is_one_the_pinned_version_accepts(
    stripe: Stripe, stripe_requests: list[ApiRequest]
) -> None:
    gateway, called = stripe.gateway, set()

    async def call(name: str, *args: Any, **kwargs: Any) -> Any:
        called.add(name)
        return await getattr(gateway, name)(*args, **kwargs)

    # Checkout in payment mode: a new customer, the address, the card kept.
    first = await call("open_checkout", request("C1", save_card=True))
    assert (await stripe_pay(stripe, first.id))["status"] == "complete"
    state = await call("session_state", first.id)
    assert state.ship_to == "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"
    card = await call("saved_card", payment_intent=state.payment_intent)
    assert isinstance(card, SavedCard)
    # Who paid (#18): the latest charge's card fingerprint (expand=latest_charge) and email.
    payer = await call("payer", state.payment_intent)
    assert payer == Payer(card_fingerprint(DEFAULT_CARD), TEST_EMAIL)
    assert card.fingerprint == payer.card
    # A returning buyer's checkout, without an address, expired before it is paid.
    again = await call("open_checkout", request("C2", customer=card.payment_customer,
                                                collect_shipping=False))  # fmt: skip
    await call("expire_checkout", again.id)
    assert (await call("session_state", again.id)).status == "expired"
    # Setup mode (/card): a new customer, then the same one again.
    setup = await call("open_card_setup", "telegram:42", None, "de")
    assert (await stripe_pay(stripe, setup.id))["status"] == "complete"
    seti = (await api(stripe, f"/v1/checkout/sessions/{setup.id}"))["setup_intent"]
    kept = await call("saved_card", setup_intent=seti)
    assert isinstance(kept, SavedCard)
    await call("open_card_setup", "telegram:42", kept.payment_customer, "xx")
    # One-message charges: paid, refunded in part by payment intent and the rest by charge.
    charge = await call("charge_card", ChargeRequest(
        "C3", "TEE", "telegram:-100", "Logo tee (M)", Money(2500, "eur"), kept))  # fmt: skip
    assert charge.status is ChargeStatus.SUCCEEDED and charge.payment_intent
    await call("refund", charge.payment_intent, Money(500, "eur"), "refund-C3-1")
    paid = await api(stripe, f"/v1/payment_intents/{charge.payment_intent}")
    await call("refund", paid["latest_charge"], None, "refund-C3-2")
    if "payment_state" in GATEWAY_CALLS:  # reconciliation of one-message charges
        await call("payment_state", charge.payment_intent)
    await call("detach_card", kept.payment_method)
    # Reconciliation's listings: events never delivered, checkouts completed long ago.
    await call("missed_events", datetime.now(UTC) - timedelta(days=30))
    assert first.id in await call("completed_sessions", datetime.now(UTC) - timedelta(days=45))

    assert called == GATEWAY_CALLS, "drive every gateway call here"
    sent = [r for r in stripe_requests if r.client.startswith("Stripe/")]
    assert [v for r in sent for v in request_violations(r)] == []
    assert all(r.status < 400 for r in sent), [(r.route, r.status) for r in sent]
    assert {(r.method, r.route) for r in sent} >= {
        ("POST", "/v1/checkout/sessions"),
        ("GET", "/v1/checkout/sessions/{id}"),
        ("POST", "/v1/checkout/sessions/{id}/expire"),
        ("POST", "/v1/customers"),
        ("GET", "/v1/payment_intents/{id}"),
        ("GET", "/v1/setup_intents/{id}"),
        ("POST", "/v1/payment_intents"),
        ("POST", "/v1/refunds"),
        ("POST", "/v1/payment_methods/{id}/detach"),
    }
    created = [r for r in sent if (r.method, r.route) == ("POST", "/v1/checkout/sessions")]
    modes = [r.params["mode"] for r in created]
    assert sorted(modes) == ["payment", "payment", "setup", "setup"]
    [new_setup, _] = [r.params for r in sent if r.params.get("mode") == "setup"]
    assert new_setup["allowed_payment_method_types"] == ["card"]
    assert new_setup["currency"] == "eur"


def test_the_contract_refuses_what_the_pinned_version_does_not_define() -> None:
    sessions = ENDPOINTS[("POST", "/v1/checkout/sessions")]
    assert violations(OLD_CARD_SETUP, sessions) == [
        f"payment_method_types: unknown parameter at API version {API_VERSION}"
    ]
    line = {"price_data": {"currency": "eur", "unit_amount": "2500",
                           "product_data": {"name": "Tee"}}, "quantity": "2"}  # fmt: skip
    assert violations({"mode": "payment", "line_items": [line]}, sessions) == []
    wrong = {
        "mode": "payment",
        "expires_at": "soon",
        "line_items": [line, line | {"colour": "red", "quantity": "two"}],
        "payment_intent_data": {"setup_future_usage": "off_session", "metadata": {"a": 1}},
        "shipping_address_collection": {"allowed_countries": "DE"},
        "metadata": "order",
    }
    assert violations(wrong, sessions) == [
        "expires_at: 'soon' is not an integer",
        "line_items[1][quantity]: 'two' is not an integer",
        "line_items[1][colour]: unknown parameter at API version " + API_VERSION,
        "payment_intent_data[metadata][a]: int where str goes",
        "shipping_address_collection[allowed_countries]: 'DE' is not a list",
        "metadata: 'order' is not an object",
    ]
    intents = ENDPOINTS[("POST", "/v1/payment_intents")]
    answers = {"amount": "100", "currency": "eur", "confirm": "yes", "off_session": "true"}
    assert violations(answers, intents) == ["confirm: 'yes' is not a boolean"]
    refunds = ENDPOINTS[("POST", "/v1/refunds")]
    assert violations({"payment_intent": "pi_1", "amount": "1.5"}, refunds) == [
        "amount: '1.5' is not an integer"
    ]
    # Required names: a price's currency.
    assert violations({"line_items": [{"price_data": {"unit_amount": "1"}}]}, sessions) == [
        "line_items[0][price_data][currency]: missing (required)"
    ]
    # Options travel as headers, never as parameters.
    assert violations({"idempotency_key": "k"}, refunds) == [
        f"idempotency_key: unknown parameter at API version {API_VERSION}"
    ]


def test_a_request_naming_another_version_or_endpoint_is_refused_by_the_contract() -> None:
    old = ApiRequest("POST", "/v1/refunds", {"charge": "ch_1"}, "2024-06-20", 200, "Stripe/v1")
    assert request_violations(old) == [
        f"POST /v1/refunds: Stripe-Version '2024-06-20', not {API_VERSION}"
    ]
    other = ApiRequest("POST", "/v1/invoices", {}, API_VERSION, 200, "Stripe/v1")
    assert "does not know" in request_violations(other)[0]


async def test_the_emulator_refuses_parameters_the_pinned_version_removed(
    stripe: Stripe,
) -> None:
    url = f"{stripe.base}/stripe-emulator/v1/checkout/sessions"
    form = _form(OLD_CARD_SETUP | {"customer": (await _customer(stripe))["id"]})
    answer = await stripe.http.post(url, data=form, headers=AUTH | {"Idempotency-Key": "k1"})
    assert answer.status == 400
    assert answer.headers["Stripe-Version"] == API_VERSION
    assert await answer.json() == {
        "error": {
            "type": "invalid_request_error",
            "message": "Received unknown parameter: payment_method_types",
            "param": "payment_method_types",
        }
    }
    # Nested names too, in Stripe's notation.
    nested = _form({"mode": "payment", "line_items": [{"price_data": {"currency": "eur",
                    "unit_amount": "5", "product_data": {"name": "x"}, "tax": "1"}}]})  # fmt: skip
    answer = await stripe.http.post(url, data=nested, headers=AUTH)
    assert (await answer.json())["error"]["param"] == "line_items[0][price_data][tax]"
    # The key is not spent on a refused request: the fixed one goes through.
    fixed = _form(
        {k: v for k, v in OLD_CARD_SETUP.items() if k != "payment_method_types"}
        | {"customer": (await _customer(stripe))["id"], "currency": "eur"}
    )
    answer = await stripe.http.post(url, data=fixed, headers=AUTH | {"Idempotency-Key": "k1"})
    assert answer.status == 200, await answer.text()
    # Another version than the pinned one is not spoken here.
    older = await stripe.http.get(url, headers=AUTH | {"Stripe-Version": "2024-06-20"})
    assert older.status == 400
    assert API_VERSION in (await older.json())["error"]["message"]


async def test_the_emulator_answers_with_the_pinned_versions_objects(stripe: Stripe) -> None:
    session = await stripe.gateway.open_checkout(request("S1", save_card=True))
    paid = await stripe_pay(stripe, session.id)
    # The address the buyer typed, where this version puts it (and not where older ones did).
    assert paid["collected_information"]["shipping_details"]["address"]["city"] == "Berlin"
    assert "shipping_details" not in paid
    intent = await api(stripe, f"/v1/payment_intents/{paid['payment_intent']}")
    refund = await stripe.http.post(
        f"{stripe.base}/stripe-emulator/v1/refunds",
        data={"payment_intent": intent["id"], "amount": "100"},
        headers=AUTH,
    )
    dispute = await stripe.http.post(
        f"{stripe.base}/stripe-emulator/_test/disputes/{intent['id']}", headers=AUTH
    )
    setup = await stripe.gateway.open_card_setup("telegram:42", None)
    await stripe_pay(stripe, setup.id)
    seti = (await api(stripe, f"/v1/checkout/sessions/{setup.id}"))["setup_intent"]
    charge = await api(stripe, f"/v1/charges/{intent['latest_charge']}")
    # Who paid (#18), in the fields this version names (checked by shape_violations below):
    # the Checkout's email, the charge's card fingerprint and billing email.
    assert paid["customer_details"]["email"] == TEST_EMAIL
    assert charge["payment_method_details"]["card"]["fingerprint"] == card_fingerprint(
        DEFAULT_CARD
    )
    assert charge["billing_details"]["email"] == TEST_EMAIL
    objects = [
        paid,
        intent,
        charge,
        await api(stripe, f"/v1/customers/{paid['customer']}"),
        await api(stripe, f"/v1/payment_methods/{intent['payment_method']}"),
        await api(stripe, f"/v1/setup_intents/{seti}"),
        await api(stripe, f"/v1/checkout/sessions/{setup.id}"),
        await refund.json(),
        await dispute.json(),
    ]
    events = (await api(stripe, "/v1/events?limit=100"))["data"]
    assert {e["type"] for e in events} >= {"checkout.session.completed", "charge.refunded",
                                           "charge.dispute.created", "setup_intent.succeeded",
                                           "payment_intent.succeeded"}  # fmt: skip
    assert {e["api_version"] for e in events} == {API_VERSION}
    delivered = await stripe.receiver.wait_for(len(events))
    assert {e["api_version"] for e in delivered} == {API_VERSION}
    wrong = [p for obj in [*objects, *events] for p in shape_violations(obj)]
    assert wrong == []


def test_the_shape_check_sees_an_older_versions_field() -> None:
    older = {"id": "cs_1", "object": "checkout.session", "shipping_details": None}
    assert shape_violations(older) == ["checkout.session.shipping_details"]
    nested = {"object": "checkout.session", "collected_information": {"shipping": {}}}
    assert shape_violations(nested) == ["checkout.session.collected_information.shipping"]


def shape_violations(obj: dict[str, Any], cls: type | None = None, at: str = "") -> list[str]:
    """The fields of an emulator object that the library's class of it (for the pinned
    version) does not have, nested objects included."""
    cls = cls or RESOURCES[obj["object"]]
    at = at or obj["object"]
    fields = {k for c in cls.__mro__ for k in getattr(c, "__annotations__", {})}
    inner: dict[str, type] = getattr(cls, "_inner_class_types", {})
    found = []
    for name, value in obj.items():
        if name not in fields:
            found.append(f"{at}.{name}")
        elif isinstance(value, dict) and str(value.get("object")) in RESOURCES:
            found += shape_violations(value, None, f"{at}.{name}")
        elif isinstance(value, dict) and name in inner:
            found += shape_violations(value, inner[name], f"{at}.{name}")
    return found


async def api(stripe: Stripe, path: str) -> Any:
    answer = await stripe.http.get(f"{stripe.base}/stripe-emulator{path}", headers=AUTH)
    assert answer.status == 200, await answer.text()
    assert answer.headers["Stripe-Version"] == API_VERSION
    return await answer.json()


async def stripe_pay(stripe: Stripe, session_id: str) -> Any:
    answer = await stripe.http.post(
        f"{stripe.base}/stripe-emulator/_test/pay/{session_id}", headers=AUTH
    )
    assert answer.status == 200, await answer.text()
    return await answer.json()


async def _customer(stripe: Stripe) -> Any:
    answer = await stripe.http.post(f"{stripe.base}/stripe-emulator/v1/customers", headers=AUTH)
    return await answer.json()


def _form(params: dict[str, Any], at: str = "") -> dict[str, str]:
    """Stripe's form encoding: `line_items[0][price_data][currency]=eur`."""
    form: dict[str, str] = {}
    items = params.items() if isinstance(params, dict) else enumerate(params)
    for key, value in items:
        name = f"{at}[{key}]" if at else str(key)
        if isinstance(value, dict | list):
            form |= _form(value, name)  # type: ignore[arg-type]
        else:
            form[name] = str(value)
    return form


async def test_checkout_with_shipping_options_and_automatic_tax_is_in_the_contract(
    stripe: Stripe, stripe_requests: list[ApiRequest]
) -> None:
    """The Checkout Session livebuy sends for goods that ship with zones and Stripe Tax on:
    every parameter (shipping_options with fixed-amount shipping_rate_data, automatic_tax,
    tax_behavior, allowed_countries) is one the pinned version's typed parameters define,
    the session comes back in that version's shape, and the buyer's choice of option and
    the test tax add up to what is paid."""
    options = (
        ShippingOption("Shipping, EU", Money(490, "eur")),
        ShippingOption("Shipping, World", Money(990, "eur")),
    )
    countries = ("AT", "DE", "CU", "US")  # CU: an ISO code Checkout cannot collect
    opened = await stripe.gateway.open_checkout(
        request("TAX1", shipping_options=options, ship_countries=countries, automatic_tax=True)
    )
    (sent,) = [r for r in stripe_requests if r.params.get("client_reference_id") == "TAX1"]
    assert request_violations(sent) == []
    params = sent.params
    assert params["automatic_tax"] == {"enabled": "true"}
    assert params["shipping_address_collection"]["allowed_countries"] == ["AT", "DE", "US"]
    assert params["shipping_options"][1]["shipping_rate_data"] == {
        "type": "fixed_amount",
        "fixed_amount": {"amount": "990", "currency": "eur"},
        "display_name": "Shipping, World",
        "tax_behavior": "exclusive",
    }
    assert params["line_items"][0]["price_data"]["tax_behavior"] == "exclusive"
    session = await api(stripe, f"/v1/checkout/sessions/{opened.id}")
    assert shape_violations(session) == []
    world = session["shipping_options"][1]["shipping_rate"]
    paid = await stripe.http.post(
        f"{stripe.base}/stripe-emulator/_test/pay/{opened.id}",
        data={"shipping_rate": world, "country": "US", "city": "New York", "postal_code": "1"},
        headers=AUTH,
    )
    assert paid.status == 200, await paid.text()
    session = await api(stripe, f"/v1/checkout/sessions/{opened.id}")
    assert shape_violations(session) == []
    # 2 x 25.00 + 9.90 shipping, and the emulator's 10 % test tax on both.
    assert session["total_details"] == {
        "amount_discount": 0, "amount_shipping": 990, "amount_tax": 500 + 99,
    }  # fmt: skip
    assert session["amount_total"] == 5000 + 990 + 599
    state = await stripe.gateway.session_state(opened.id)
    assert (state.shipping, state.tax, state.amount_total) == (990, 599, 6589)
    assert state.ship_to is not None and state.ship_to.endswith("US")
    wrong = await stripe.http.post(
        f"{stripe.base}/stripe-emulator/_test/pay/"
        + (await stripe.gateway.open_checkout(request("TAX2", shipping_options=options,
                                                      ship_countries=countries))).id,
        data={"shipping_rate": "shr_unknown"},
        headers=AUTH,
    )  # fmt: skip
    assert wrong.status == 400
