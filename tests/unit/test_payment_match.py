"""A reported payment is the order's only when its amount and currency both say so."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce.adapters.stripe_events import (
    TOLERANCE_SECONDS,
    MalformedEvent,
    SignatureError,
    to_payment_event,
    verify,
)
from commerce.domain.money import Money
from commerce.domain.payments import payment_mismatch
from tests.e2e.stripe_signing import SECRET, event_body, session, sign

ORDER = Money(2000, "eur")


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        (2000, "eur", None),
        (2000, "EUR", None),
        (2000, "jpy", "currency_mismatch"),
        (2000, None, "currency_missing"),
        (2000, "", "currency_missing"),
        (2000, ["eur"], "currency_missing"),
        (None, "eur", "amount_missing"),
        ("2000", "eur", "amount_missing"),
        ("1", "eur", "amount_missing"),
        (2000.0, "eur", "amount_missing"),
        (True, "eur", "amount_missing"),
        (1999, "eur", "amount_mismatch"),
        (20, "eur", "amount_mismatch"),  # 20 euros in major units is not 2000 cents
    ],
)
def test_mismatches(amount: object, currency: object, why: str | None) -> None:
    assert payment_mismatch(ORDER, amount, currency) == why


@given(
    st.one_of(st.integers(), st.floats(), st.text(max_size=6), st.none(), st.booleans()),
    st.one_of(st.sampled_from(["eur", "usd", "jpy", "EUR"]), st.text(max_size=4), st.none()),
)
def test_only_the_exact_amount_and_currency_match(amount: object, currency: object) -> None:
    exact = (
        type(amount) is int
        and amount == ORDER.minor
        and isinstance(currency, str)
        and currency.lower() == "eur"
    )
    assert (payment_mismatch(ORDER, amount, currency) is None) == exact


def test_timestamps_beyond_the_tolerance_are_refused_on_both_sides() -> None:
    body = event_body("evt_1", "checkout.session.completed", session("A1", "cs_1"))
    now = 1_800_000_000
    for offset in (-TOLERANCE_SECONDS + 5, 0, TOLERANCE_SECONDS - 5):
        assert verify(body, sign(body, at=now + offset), SECRET, now=now)["id"] == "evt_1"
    for offset in (TOLERANCE_SECONDS + 5, 10 * 365 * 24 * 3600):
        with pytest.raises(SignatureError, match="future"):
            verify(body, sign(body, at=now + offset), SECRET, now=now)


def test_a_missing_or_malformed_amount_is_read_as_none_not_refused() -> None:
    """It is not the shape that is wrong: the payment goes to review, not back to Stripe."""
    for amount in ("1", 2500.5, None, [2500], 10**30):
        obj = session("A1", "cs_1") | {"amount_total": amount, "currency": {"code": "eur"}}
        event = to_payment_event(
            json.loads(event_body("evt_1", "checkout.session.completed", obj))
        )
        assert (event.amount, event.currency, event.order_ref) == (None, None, "A1")


@pytest.mark.parametrize(
    "bend",
    [
        lambda e: e.update(data="x"),
        lambda e: e["data"].update(object=[1]),
        lambda e: e["data"]["object"].update(metadata=[]),
        lambda e: e["data"]["object"].update(payment_intent=7),
        lambda e: e["data"]["object"].update(payment_intent={"object": "payment_intent"}),
        lambda e: e["data"]["object"].update(payment_status=["paid"]),
        lambda e: e["data"]["object"].update(client_reference_id="A1\x00"),
        lambda e: e.update(id="evt_" + "x" * 80),
        lambda e: e.update(type=None),
    ],
)
def test_shapes_stripe_never_sends_are_malformed(bend: object) -> None:
    event = json.loads(event_body("evt_1", "checkout.session.completed", session("A1", "cs_1")))
    bend(event)  # type: ignore[operator]
    with pytest.raises(MalformedEvent):
        to_payment_event(event)
