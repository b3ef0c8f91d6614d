"""Drops: durations a seller types, and the validated terms of a drop."""

import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce.domain.drops import (
    MAX_DURATION,
    DropPolicy,
    DropTerms,
    format_duration,
    parse_duration,
)
from commerce.domain.errors import InvalidInput
from commerce.domain.money import Money

# parse_duration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("50s", 50),
        ("10m", 600),
        ("1h30m", 5400),
        ("2d", 2 * 86400),
        ("10min", 600),
        ("30sec", 30),
        (" 5 m ", 300),
        ("10M", 600),
        ("1H30M", 5400),
        ("30SEC", 30),
        ("10Min", 600),
        ("1h 30m", 5400),
        ("1d1h1m1s", 90061),
        ("7d", 7 * 86400),
        ("604800s", 604800),
        ("1s", 1),
    ],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    "text", ["", "   ", "10", "m", "1x", "-5m", "10m junk", "1mins", "10mi", "1.5h", "99999999s"]
)
def test_parse_duration_refuses_malformed_text(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_duration(text)
    assert str(exc.value) == f"'{text}' is not a duration like 50s, 10m or 1h30m"


@pytest.mark.parametrize("text", ["0s", "0m0s", "8d", "604801s", "7d1s", "169h"])
def test_parse_duration_refuses_out_of_range(text: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_duration(text)
    assert str(exc.value) == f"'{text}' must be between 1s and 7 days"


def test_max_duration_is_seven_days() -> None:
    assert timedelta(days=7) == MAX_DURATION


# format_duration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1, "1s"),
        (59, "59s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "1d"),
        (90061, "1d1h1m1s"),
        (86401, "1d1s"),
        (7 * 86400, "7d"),
        (0, "0s"),
    ],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text


@given(st.integers(1, 7 * 86400))
def test_format_then_parse_round_trips(seconds: int) -> None:
    value = timedelta(seconds=seconds)
    assert parse_duration(format_duration(value)) == value


# DropTerms ------------------------------------------------------------------------------


def terms(**changes: Any) -> DropTerms:
    fields: dict[str, Any] = {
        "sku": "TEE",
        "quantity": 10,
        "price": Money(2500, "eur"),
        "duration": timedelta(minutes=10),
        "per_buyer_limit": 2,
        "policy": DropPolicy.HOLD,
        "hold": timedelta(minutes=10),
    }
    fields.update(changes)
    return DropTerms(**fields)


def test_valid_terms_construct() -> None:
    made = terms()
    assert made.sku == "TEE"
    assert made.quantity == 10
    assert made.price == Money(2500, "eur")
    assert made.duration == timedelta(minutes=10)
    assert made.per_buyer_limit == 2
    assert made.policy is DropPolicy.HOLD
    assert made.hold == timedelta(minutes=10)


@pytest.mark.parametrize(
    "changes",
    [
        {"quantity": 1},
        {"quantity": 1_000_000},
        {"per_buyer_limit": None},
        {"per_buyer_limit": 1},
        {"duration": None},
        {"policy": DropPolicy.FIRST_PAID},
        {"hold": timedelta(seconds=1)},
        {"price": Money(1, "jpy")},
    ],
)
def test_boundary_terms_accepted(changes: dict[str, Any]) -> None:
    made = terms(**changes)
    for name, value in changes.items():
        assert getattr(made, name) == value


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quantity": 0}, "quantity must be between 1 and 1,000,000"),
        ({"quantity": -1}, "quantity must be between 1 and 1,000,000"),
        ({"quantity": 1_000_001}, "quantity must be between 1 and 1,000,000"),
        ({"price": Money(0, "eur")}, "price must be above zero"),
        ({"per_buyer_limit": 0}, "limit must be at least 1"),
        ({"per_buyer_limit": -3}, "limit must be at least 1"),
        ({"hold": timedelta(0)}, "hold must be longer than zero"),
        ({"hold": timedelta(seconds=-1)}, "hold must be longer than zero"),
    ],
)
def test_invalid_terms_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        terms(**changes)
    assert str(exc.value) == message


def test_terms_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        terms().quantity = 0  # type: ignore[misc]


def test_policy_values() -> None:
    assert DropPolicy("hold") is DropPolicy.HOLD
    assert DropPolicy("first-paid") is DropPolicy.FIRST_PAID
