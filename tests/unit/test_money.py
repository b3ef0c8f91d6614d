"""Money: parsing amounts a seller types, currencies, formatting and arithmetic."""

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce.domain.errors import InvalidInput
from commerce.domain.money import ZERO_DECIMAL, Money, exponent, normalise_currency

# parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("25", "eur", Money(2500, "eur")),
        ("25.00", "eur", Money(2500, "eur")),
        ("25,5", "eur", Money(2550, "eur")),
        ("25,50", "usd", Money(2550, "usd")),
        (" 7 ", "usd", Money(700, "usd")),
        ("0.01", "gbp", Money(1, "gbp")),
        ("0", "eur", Money(0, "eur")),
        ("9999999999.99", "eur", Money(999_999_999_999, "eur")),
        (Decimal("12.34"), "eur", Money(1234, "eur")),
        (Decimal("3"), "chf", Money(300, "chf")),
        (Decimal("12.340"), "eur", Money(1234, "eur")),  # trailing zeros are not decimals
    ],
)
def test_parse_two_decimal_currencies(
    amount: str | Decimal, currency: str, expected: Money
) -> None:
    assert Money.parse(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [("500", "jpy", 500), ("500.0", "jpy", 500), ("1", "krw", 1), ("2500", "XOF", 2500)],
)
def test_parse_zero_decimal_currencies_counts_whole_units(
    amount: str, currency: str, minor: int
) -> None:
    assert Money.parse(amount, currency) == Money(minor, currency.lower())


def test_zero_decimal_currency_refuses_fractions() -> None:
    with pytest.raises(InvalidInput) as exc:
        Money.parse("5.5", "jpy")
    assert str(exc.value) == "'5.5' has more than 0 decimals for JPY"


@pytest.mark.parametrize(("amount", "currency"), [("1.001", "eur"), ("0.005", "usd")])
def test_too_many_decimals_refused(amount: str, currency: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Money.parse(amount, currency)
    assert str(exc.value) == f"'{amount}' has more than 2 decimals for {currency.upper()}"


@pytest.mark.parametrize(
    "amount",
    ["-1", "-0.01", "NaN", "sNaN", "Infinity", "-Infinity", "abc", "", "   ", "1.2.3", "2 5"],
)
def test_not_an_amount_refused_naming_the_input(amount: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Money.parse(amount, "eur")
    assert str(exc.value) == f"'{amount}' is not an amount like 25.00"


@pytest.mark.parametrize("amount", [Decimal("-5"), Decimal("NaN"), Decimal("Infinity")])
def test_not_an_amount_refused_for_decimal_input(amount: Decimal) -> None:
    with pytest.raises(InvalidInput) as exc:
        Money.parse(amount, "eur")
    assert f"'{amount}'" in str(exc.value)


@pytest.mark.parametrize(
    ("amount", "currency"),
    [("10000000000", "eur"), ("1e20", "eur"), ("1000000000000", "jpy"), ("9" * 40, "usd")],
)
def test_huge_amounts_refused(amount: str, currency: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Money.parse(amount, currency)
    assert str(exc.value) == f"'{amount}' is too large"


def test_largest_zero_decimal_amount_accepted() -> None:
    assert Money.parse("999999999999", "jpy") == Money(10**12 - 1, "jpy")


def test_astronomic_exponent_refused_as_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        Money.parse("1e999999999", "eur")


# currencies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"), [("EUR", "eur"), ("eur", "eur"), (" Usd ", "usd"), ("JPY", "jpy")]
)
def test_currency_normalised_to_lower_case(code: str, expected: str) -> None:
    assert normalise_currency(code) == expected
    assert Money.parse("1", code).currency == expected


@pytest.mark.parametrize("code", ["euro", "e1r", "€", "", "eu", "12a", "éur", "e r"])
def test_bad_currency_refused(code: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        Money.parse("1", code)
    assert str(exc.value) == f"'{code}' is not a three-letter currency code like eur or usd"


def test_exponents() -> None:
    assert exponent("eur") == 2
    assert exponent("EUR") == 2
    assert exponent("JPY") == 0
    assert {"jpy", "krw", "xof"} <= ZERO_DECIMAL
    assert "eur" not in ZERO_DECIMAL


# formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(2500, "eur"), "€25.00"),
        (Money(150, "usd"), "$1.50"),
        (Money(5, "gbp"), "£0.05"),
        (Money(0, "eur"), "€0.00"),
        (Money(1000, "jpy"), "¥1000"),
        (Money(100000, "jpy"), "¥100000"),
        (Money(2500, "chf"), "CHF 25.00"),
        (Money(1234, "sek"), "12.34 SEK"),
        (Money(2500, "xof"), "2500 XOF"),
        (Money(123456789, "eur"), "€1234567.89"),
    ],
)
def test_str(money: Money, text: str) -> None:
    assert str(money) == text


def test_decimal() -> None:
    assert Money(2550, "eur").decimal() == Decimal("25.50")
    assert Money(500, "jpy").decimal() == Decimal(500)


# arithmetic and ordering --------------------------------------------------------------


def test_multiplication_keeps_the_currency() -> None:
    assert Money(250, "eur") * 3 == Money(750, "eur")
    assert Money(500, "jpy") * 2 == Money(1000, "jpy")
    assert Money(250, "eur") * 0 == Money(0, "eur")


def test_ordering_within_a_currency() -> None:
    small, mid, big = Money(5, "eur"), Money(20, "eur"), Money(300, "eur")
    assert sorted([big, small, mid]) == [small, mid, big]
    assert small < mid <= Money(20, "eur") < big
    assert max([mid, big, small]) == big


def test_money_is_immutable_and_hashable() -> None:
    money = Money(1, "eur")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.minor = 2  # type: ignore[misc]
    assert {Money(1, "eur"), Money(1, "eur"), Money(1, "usd")} == {money, Money(1, "usd")}


# properties ---------------------------------------------------------------------------


@given(st.integers(0, 10**11), st.sampled_from(["eur", "usd", "gbp", "jpy", "chf", "krw"]))
def test_parse_of_decimal_round_trips(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.parse(str(money.decimal()), currency) == money


@given(st.integers(0, 10**11), st.sampled_from(["eur", "usd", "sek"]))
def test_decimal_comma_reads_like_a_point(minor: int, currency: str) -> None:
    text = f"{Money(minor, currency).decimal():.2f}"
    assert Money.parse(text.replace(".", ","), currency) == Money(minor, currency)
