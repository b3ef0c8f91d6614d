"""Where a paid order goes: one line, the same shape from a Telegram invoice and a Stripe
Checkout, and no address (never an error) from a malformed payload."""

from typing import Any

import pytest

from commerce.adapters.stripe_events import to_payment_event
from commerce.domain.payments import PaymentEventKind
from commerce.domain.shipping import SHIP_TO_MAX, ship_to

DETAILS = {
    "name": "Jenny Rosen",
    "address": {
        "line1": "Teststraße 1",
        "line2": "Hinterhaus",
        "city": "Berlin",
        "state": None,
        "postal_code": "10115",
        "country": "de",
    },
}
LINE = "Jenny Rosen, Teststraße 1, Hinterhaus, 10115 Berlin, DE"


def test_one_line_with_the_empty_parts_left_out() -> None:
    assert ship_to("Jenny Rosen", "Teststraße 1", "Hinterhaus", "10115", "Berlin", "", "de") == (
        LINE
    )
    assert ship_to("Ann Lee", "1 Main St", "", "94107", "San Francisco", "CA", "US") == (
        "Ann Lee, 1 Main St, 94107 San Francisco, CA, US"
    )
    assert ship_to(None, "1 Main St", None, None, "Springfield", None, None) == (
        "1 Main St, Springfield"
    )


def test_spaces_and_control_characters_are_flattened() -> None:
    typed = ship_to("  Jenny\nRosen ", "Test\tstraße 1\x00", "\r\n", " 10115", "Berlin ", "", "DE")
    assert typed == "Jenny Rosen, Test straße 1, 10115 Berlin, DE"


@pytest.mark.parametrize(
    "parts",
    [
        ("Jenny", "", "", "", "", "", ""),  # a name is not an address
        (None, None, None, None, None, None, None),
        ("Jenny", 1, ["x"], {"a": 1}, 10115, True, None),  # not text: ignored
    ],
)
def test_no_address(parts: tuple[Any, ...]) -> None:
    assert ship_to(*parts) is None


def test_a_long_address_is_capped() -> None:
    line = ship_to("J", "x" * 1000, "", "", "Berlin", "", "DE")
    assert line is not None and len(line) == SHIP_TO_MAX and line.startswith("J, xxx")


def _completed(session: dict[str, Any]) -> Any:
    obj = {
        "id": "cs_1",
        "object": "checkout.session",
        "mode": "payment",
        "client_reference_id": "K7P2QX9M",
        "payment_status": "paid",
        "payment_intent": "pi_1",
        "amount_total": 2500,
    }
    event = {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": obj}}
    obj.update(session)
    return to_payment_event(event)


def test_stripe_shipping_details_in_both_api_shapes() -> None:
    older = _completed({"shipping_details": DETAILS})
    assert older.kind is PaymentEventKind.CHECKOUT_COMPLETED and older.ship_to == LINE
    newer = _completed({"collected_information": {"shipping_details": DETAILS}})
    assert newer.ship_to == LINE
    nothing = _completed({"shipping_details": None, "collected_information": None})
    assert nothing.ship_to is None and nothing.paid


@pytest.mark.parametrize(
    "session",
    [
        {"shipping_details": "Teststraße 1"},
        {"shipping_details": {"name": "Jenny", "address": "Teststraße 1"}},
        {"shipping_details": {"name": "Jenny", "address": {"line1": 5, "country": ["DE"]}}},
        {"shipping_details": ["x"], "collected_information": {"shipping_details": 3}},
        {"collected_information": "x"},
    ],
)
def test_malformed_stripe_shipping_details_give_no_address(session: dict[str, Any]) -> None:
    event = _completed(session)
    assert event.ship_to is None
    assert event.paid and event.order_ref == "K7P2QX9M"  # the payment itself still counts
