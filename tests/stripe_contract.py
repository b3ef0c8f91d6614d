"""The contract with Stripe, checked against software nobody here wrote: the installed `stripe`
library's typed parameters (TypedDicts generated from Stripe's API specification for the
library's pinned API version) and its typed objects.

Every request the stripe library makes to the built-in emulator during a test is recorded
(the emulator's WATCHERS) and checked once the test ends (`stripe_requests`, autouse): every
parameter must be one that version defines, at its place in the nesting, with a value of its
type, and every required one must be there. A test whose code sends anything else fails.
"""

import re
import typing
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

import pytest
import stripe
from stripe import params as sp
from typing_extensions import is_typeddict

from commerce.adapters.stripe_version import API_VERSION
from webhooks.devtools.emulator import app as emulator

# Which typed parameters each endpoint takes (the library's own names for them).
ENDPOINTS: dict[tuple[str, str], type] = {
    ("POST", "/v1/checkout/sessions"): sp.checkout.SessionCreateParams,
    ("GET", "/v1/checkout/sessions"): sp.checkout.SessionListParams,
    ("GET", "/v1/checkout/sessions/{id}"): sp.checkout.SessionRetrieveParams,
    ("POST", "/v1/checkout/sessions/{id}/expire"): sp.checkout.SessionExpireParams,
    ("POST", "/v1/customers"): sp.CustomerCreateParams,
    ("GET", "/v1/customers/{id}"): sp.CustomerRetrieveParams,
    ("GET", "/v1/customers/{id}/payment_methods"): sp.CustomerListPaymentMethodsParams,
    ("POST", "/v1/payment_intents"): sp.PaymentIntentCreateParams,
    ("GET", "/v1/payment_intents/{id}"): sp.PaymentIntentRetrieveParams,
    ("GET", "/v1/setup_intents/{id}"): sp.SetupIntentRetrieveParams,
    ("GET", "/v1/payment_methods"): sp.PaymentMethodListParams,
    ("GET", "/v1/payment_methods/{id}"): sp.PaymentMethodRetrieveParams,
    ("POST", "/v1/payment_methods/{id}/detach"): sp.PaymentMethodDetachParams,
    ("GET", "/v1/charges/{id}"): sp.ChargeRetrieveParams,
    ("POST", "/v1/refunds"): sp.RefundCreateParams,
    ("GET", "/v1/events"): sp.EventListParams,
    ("GET", "/v1/events/{id}"): sp.EventRetrieveParams,
}
# Request options (idempotency_key, stripe_version, ...) share the top-level typed dicts but
# travel as headers: sent as parameters, they would be unknown to Stripe.
REQUEST_OPTIONS = frozenset(typing.get_type_hints(stripe.RequestOptions, localns={
    "Mapping": Mapping, "StripeContext": object,
}))  # fmt: skip
INTEGER = re.compile(r"-?[0-9]+")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def hints(typed: type) -> dict[str, Any]:
    """The typed dict's keys and their types (typing.get_type_hints, NotRequired dropped);
    the request options of a top-level one left out."""
    found = typing.get_type_hints(typed, localns={"Mapping": Mapping, "StripeContext": object})
    if found.keys() >= REQUEST_OPTIONS:
        found = {k: v for k, v in found.items() if k not in REQUEST_OPTIONS}
    return found


def violations(params: Mapping[str, Any], typed: type, at: str = "") -> list[str]:
    """What in `params` (form-decoded: values are text, lists and objects) the typed dict
    does not allow: unknown names, missing required ones, values of another type. Paths
    are in Stripe's bracket notation, as in its errors (`line_items[0][price_data][foo]`)."""
    known = hints(typed)
    found = [
        f"{_path(at, name)}: missing (required)"
        for name in sorted(typed.__required_keys__ & known.keys())  # type: ignore[attr-defined]
        if name not in params
    ]
    for name, value in params.items():
        path = _path(at, name)
        if name not in known:
            found.append(f"{path}: unknown parameter at API version {API_VERSION}")
        else:
            found += value_violations(value, known[name], path)
    return found


def value_violations(value: Any, tp: Any, path: str) -> list[str]:
    """Whether one form-decoded value is of type `tp` (following Union, Literal, List, Dict
    and nested typed dicts)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union:
        tried = [value_violations(value, alternative, path) for alternative in args]
        if any(not problems for problems in tried):
            return []
        # The closest alternative's complaints: the one of the value's own kind.
        return min(tried, key=len)
    if tp is Any or tp is object:
        return []
    if origin is typing.Literal:
        ok = isinstance(value, str) and value in {str(a).lower() if isinstance(a, bool)
                                                   else str(a) for a in args}  # fmt: skip
        return [] if ok else [f"{path}: {value!r} is not one of {list(args)}"]
    if is_typeddict(tp):
        if not isinstance(value, Mapping):
            return [f"{path}: {value!r} is not an object ({tp.__name__})"]
        return violations(value, tp, path)
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not a list"]
        (item,) = args
        return [p for i, v in enumerate(value) for p in value_violations(v, item, f"{path}[{i}]")]
    if origin is dict or (isinstance(origin, type) and issubclass(origin, dict)):
        if not isinstance(value, Mapping):
            return [f"{path}: {value!r} is not an object"]
        inner = args[1] if len(args) == 2 else (args[0] if args else Any)
        return [p for k, v in value.items() for p in value_violations(v, inner, f"{path}[{k}]")]
    if tp is type(None):
        return [] if value == "" else [f"{path}: {value!r} is not empty"]
    if not isinstance(value, str):
        return [f"{path}: {type(value).__name__} where {getattr(tp, '__name__', tp)} goes"]
    if tp is bool:
        return [] if value in ("true", "false") else [f"{path}: {value!r} is not a boolean"]
    if tp is int:
        return [] if INTEGER.fullmatch(value) else [f"{path}: {value!r} is not an integer"]
    if tp in (float, Decimal):
        return [] if NUMBER.fullmatch(value) else [f"{path}: {value!r} is not a number"]
    if tp is str:
        return []
    return [f"{path}: no rule for {tp!r}"]  # a new kind of type in the library: teach it here


def request_violations(request: emulator.ApiRequest) -> list[str]:
    """Everything wrong with one recorded request: the version it names, its endpoint, its
    parameters."""
    where = f"{request.method} {request.route}"
    found = []
    if request.version != API_VERSION:
        found.append(f"{where}: Stripe-Version {request.version!r}, not {API_VERSION}")
    typed = ENDPOINTS.get((request.method, request.route))
    if typed is None:
        return [*found, f"{where}: an endpoint the contract does not know (add it to ENDPOINTS)"]
    return found + [f"{where}: {v}" for v in violations(request.params, typed)]


def _path(at: str, name: str) -> str:
    return f"{at}[{name}]" if at else name


def from_the_library(request: emulator.ApiRequest) -> bool:
    """Sent by the stripe library (the gateway, the CLI), not by a test's own HTTP client
    that probes the emulator with wrong requests on purpose."""
    return request.client.startswith("Stripe/")


@pytest.fixture(autouse=True)
def stripe_requests() -> Iterator[list[emulator.ApiRequest]]:
    """Every request the stripe library sends to an emulator during the test; each is checked
    against the library's typed parameters when the test ends."""
    seen: list[emulator.ApiRequest] = []
    emulator.WATCHERS.append(seen.append)
    try:
        yield seen
    finally:
        emulator.WATCHERS.remove(seen.append)
    wrong = [v for r in seen if from_the_library(r) for v in request_violations(r)]
    if wrong:
        pytest.fail("requests Stripe would refuse:\n" + "\n".join(wrong), pytrace=False)
