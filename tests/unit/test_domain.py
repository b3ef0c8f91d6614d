"""The pure domain: money, durations, products, identities and the order transition table."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce.domain.drops import DropPolicy, DropTerms, format_duration, parse_duration
from commerce.domain.errors import InvalidInput
from commerce.domain.identity import ChatRef, Identity
from commerce.domain.money import Money, normalise_currency
from commerce.domain.orders import HOLDING, TRANSITIONS, OrderStatus, can_move, sources
from commerce.domain.products import ProductSpec, match_variant, normalise_sku, parse_variants

S = OrderStatus


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("25", "eur", 2500),
        ("25.00", "EUR", 2500),
        ("25,5", "eur", 2550),
        (" 7 ", "usd", 700),
        (Decimal("0.01"), "gbp", 1),
        ("500", "jpy", 500),
        ("0", "eur", 0),
    ],
)
def test_money_parse(text: str | Decimal, currency: str, minor: int) -> None:
    assert Money.parse(text, currency) == Money(minor, currency.lower())


@pytest.mark.parametrize("text", ["abc", "", "-1", "1.001", "NaN", "Infinity", "1e20", "5.5:jpy"])
def test_money_parse_refuses(text: str) -> None:
    amount, _, currency = text.partition(":")
    with pytest.raises(InvalidInput):
        Money.parse(amount, currency or "eur")


@pytest.mark.parametrize("code", ["euro", "e1", "€", "", "12a"])
def test_currency_codes(code: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_currency(code)


def test_money_formatting_and_arithmetic() -> None:
    assert str(Money(2500, "eur")) == "€25.00"
    assert str(Money(150, "usd")) == "$1.50"
    assert str(Money(1000, "jpy")) == "¥1000"
    assert str(Money(1234, "sek")) == "12.34 SEK"
    assert Money(250, "eur") * 3 == Money(750, "eur")
    assert Money(1, "eur") < Money(2, "eur")


@given(st.integers(0, 10**11), st.sampled_from(["eur", "usd", "jpy", "chf"]))
def test_money_round_trip(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(str(money.decimal()), currency) == money


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("50s", 50),
        ("10m", 600),
        ("1h30m", 5400),
        ("2d", 172800),
        ("10min", 600),
        ("30sec", 30),
        (" 5 m ", 300),
        ("1H", 3600),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "0s", "8d", "10", "m", "1x", "-5m", "10m junk"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_duration(text)


@given(st.integers(1, 7 * 86400))
def test_duration_round_trip(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


def test_drop_terms_validation() -> None:
    price, hold = Money(100, "eur"), timedelta(minutes=5)
    DropTerms("TEE", 1, price, None, None, DropPolicy.HOLD, hold)
    for bad in (
        {"quantity": 0},
        {"quantity": 1_000_001},
        {"price": Money(0, "eur")},
        {"per_buyer_limit": 0},
        {"hold": timedelta(0)},
    ):
        values = {
            "sku": "TEE",
            "quantity": 1,
            "price": price,
            "duration": None,
            "per_buyer_limit": None,
            "policy": DropPolicy.HOLD,
            "hold": hold,
        } | bad
        with pytest.raises(InvalidInput):
            DropTerms(**values)  # type: ignore[arg-type]


def test_products() -> None:
    assert normalise_sku(" tee ") == "TEE"
    assert normalise_sku("aa-1") == "AA-1"
    for bad in ("", "no way", "x" * 33, "-A", "42", "x2", "3X"):
        with pytest.raises(InvalidInput):
            normalise_sku(bad)
    assert parse_variants("size=S,M,L") == ("size", ["S", "M", "L"])
    assert parse_variants("S, M") == ("", ["S", "M"])
    assert parse_variants(None) == ("", [])
    for bad in ("S,s", "size=", ","):
        with pytest.raises(InvalidInput):
            parse_variants(bad)
    with pytest.raises(InvalidInput):
        ProductSpec("TEE", " ", Money(1, "eur"), "", ())
    with pytest.raises(InvalidInput):
        ProductSpec("TEE", "Tee", Money(0, "eur"), "", ())


@pytest.mark.parametrize(
    ("words", "option", "expected"),
    [
        (("size:M",), "", "M"),
        (("m",), "", "M"),
        (("size=M",), "size", "M"),
        (("pls", "l"), "", "L"),
        (("XL",), "", None),
        (("colour:M",), "size", None),
    ],
)
def test_match_variant(words: tuple[str, ...], option: str, expected: str | None) -> None:
    assert match_variant(["S", "M", "L"], words, option) == expected


def test_identities_and_chats() -> None:
    assert str(Identity.parse("Discord:456")) == "discord:456"
    assert ChatRef.parse("telegram:-100123") == ChatRef("telegram", "-100123")
    for bad in ("irc:x", "telegram:", ":1", "nocolon", "web:" + "x" * 65):
        with pytest.raises(InvalidInput):
            Identity.parse(bad)
        with pytest.raises(InvalidInput):
            ChatRef.parse(bad)


def test_transition_table() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    assert TRANSITIONS[S.REFUNDED] == frozenset()
    assert all(S.RESERVED not in nexts for nexts in TRANSITIONS.values())  # only by creation
    assert can_move(S.RESERVED, S.CHECKOUT_OPEN) and can_move(S.CHECKOUT_OPEN, S.PAID)
    assert can_move(S.PAID, S.FULFILLED) and not can_move(S.PAID, S.RESERVED)
    assert sources(S.EXPIRED) == HOLDING == {S.RESERVED, S.CHECKOUT_OPEN}
    for a in OrderStatus:
        for b in OrderStatus:
            assert can_move(a, b) == (a in sources(b))
