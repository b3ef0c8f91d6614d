"""Which parameters each emulated endpoint takes: those of the pinned API version.

Stripe answers a parameter its API version does not know (a misspelt one, or one a newer
version removed, such as `payment_method_types` on Checkout Sessions) with HTTP 400,
`invalid_request_error`, "Received unknown parameter: ..." and the parameter's name in
`param`. The emulator does the same, reading the names from the `stripe` library's typed
parameters (generated from Stripe's API specification for that version), so that what works
against it works against Stripe.
"""

import functools
import typing
from collections.abc import Mapping
from typing import Any

from stripe import RequestOptions
from stripe import params as sp
from typing_extensions import is_typeddict  # the library's typed dicts are typing_extensions'

# The typed parameters of every route the emulator serves, by method and route.
ROUTES: dict[tuple[str, str], type] = {
    ("POST", "/v1/customers"): sp.CustomerCreateParams,
    ("GET", "/v1/customers/{id}"): sp.CustomerRetrieveParams,
    ("GET", "/v1/customers/{id}/payment_methods"): sp.CustomerListPaymentMethodsParams,
    ("GET", "/v1/payment_methods"): sp.PaymentMethodListParams,
    ("GET", "/v1/payment_methods/{id}"): sp.PaymentMethodRetrieveParams,
    ("POST", "/v1/payment_methods/{id}/detach"): sp.PaymentMethodDetachParams,
    ("POST", "/v1/payment_intents"): sp.PaymentIntentCreateParams,
    ("GET", "/v1/payment_intents/{id}"): sp.PaymentIntentRetrieveParams,
    ("GET", "/v1/setup_intents/{id}"): sp.SetupIntentRetrieveParams,
    ("GET", "/v1/charges/{id}"): sp.ChargeRetrieveParams,
    ("POST", "/v1/checkout/sessions"): sp.checkout.SessionCreateParams,
    ("GET", "/v1/checkout/sessions"): sp.checkout.SessionListParams,
    ("GET", "/v1/checkout/sessions/{id}"): sp.checkout.SessionRetrieveParams,
    ("POST", "/v1/checkout/sessions/{id}/expire"): sp.checkout.SessionExpireParams,
    ("POST", "/v1/refunds"): sp.RefundCreateParams,
    ("GET", "/v1/events"): sp.EventListParams,
    ("GET", "/v1/events/{id}"): sp.EventRetrieveParams,
}

# The library's per-request options (api_key, idempotency_key, ...) share the typed dicts of
# the top level; they travel as headers, never as parameters.
OPTIONS = frozenset(RequestOptions.__annotations__)
# Names some of the library's annotations use that exist only for type checkers.
TYPE_CHECKING_NAMES = {"Mapping": Mapping, "StripeContext": object}


@functools.cache
def fields(typed: type) -> dict[str, Any]:
    """A typed dict's parameters and their types (nested typed dicts as classes)."""
    hints = typing.get_type_hints(typed, localns=TYPE_CHECKING_NAMES)
    top = typed.__annotations__.keys() >= OPTIONS
    return {k: v for k, v in hints.items() if not (top and k in OPTIONS)}


def unknown_parameter(params: Mapping[str, Any], typed: type, prefix: str = "") -> str | None:
    """The first parameter (Stripe's bracket notation, `line_items[0][foo]`) that `typed`
    does not define, or None. Only names and nesting are checked, not values."""
    known = fields(typed)
    for name, value in params.items():
        path = f"{prefix}[{name}]" if prefix else name
        if name not in known:
            return path
        found = _unknown_in(value, known[name], path)
        if found is not None:
            return found
    return None


def _unknown_in(value: Any, tp: Any, path: str) -> str | None:
    """The first unknown name inside `value`, read as `tp` (any alternative of a union that
    knows every name will do)."""
    candidates = typing.get_args(tp) if typing.get_origin(tp) is typing.Union else (tp,)
    first: str | None = None
    for candidate in candidates:
        origin = typing.get_origin(candidate)
        if is_typeddict(candidate) and isinstance(value, Mapping):
            found = unknown_parameter(value, candidate, path)
        elif origin is list and isinstance(value, list):
            (item,) = typing.get_args(candidate)
            found = next(
                (f for i, v in enumerate(value) if (f := _unknown_in(v, item, f"{path}[{i}]"))),
                None,
            )
        else:
            continue
        if found is None:
            return None
        first = first or found
    return first
