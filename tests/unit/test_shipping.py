"""Shipping zones, show policies and the bundle arithmetic: a package of n units costs
min(cap, first + each * (n - 1)) under the show's policy, and a bundle's orders pay that
total between them whatever the order in which they arrive."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce.domain.errors import InvalidInput
from commerce.domain.shipping import (
    PolicyKind,
    ShippingPolicy,
    Zone,
    country_of,
    increment,
    package_total,
    parse_countries,
    parse_size,
    ship_units,
    zone_for,
)

EU = Zone.parse("EU", "DE,AT", "4.90", "1.00", "12.00", "eur")
WORLD = Zone.parse("World", "*", "9.90", "3.00", None, "eur")
BUYER = ShippingPolicy()

zones = st.builds(
    Zone,
    name=st.just("Z"),
    countries=st.just(frozenset({"DE"})),
    currency=st.just("eur"),
    first=st.integers(2_000, 5_000),
    each=st.integers(0, 2_000),
    cap=st.none() | st.integers(0, 20_000),
)
policies = st.sampled_from([ShippingPolicy(), ShippingPolicy(PolicyKind.FREE)]) | st.builds(
    ShippingPolicy, kind=st.just(PolicyKind.CAP), cap=st.integers(0, 20_000)
)
orders = st.lists(st.integers(1, 5), min_size=1, max_size=12)


def charges(zone: Zone, policy: ShippingPolicy, units: list[int]) -> list[int]:
    """What each order pays, in arrival order."""
    held, charged, paid = 0, 0, []
    for k in units:
        price = increment(zone, policy, held, charged, k)
        held, charged = held + k, charged + price
        paid.append(price)
    return paid


def test_a_package_costs_first_then_each_up_to_the_cap() -> None:
    assert [EU.total(n) for n in range(0, 11)] == [
        0, 490, 590, 690, 790, 890, 990, 1090, 1190, 1200, 1200,
    ]  # fmt: skip
    assert WORLD.total(3) == 990 + 300 + 300  # no cap
    assert charges(EU, BUYER, [1, 1, 1]) == [490, 100, 100]
    assert charges(EU, BUYER, [2, 1]) == [590, 100]


def test_free_and_capped_shows() -> None:
    assert charges(EU, ShippingPolicy.parse("free", "eur"), [1, 1, 1]) == [0, 0, 0]
    capped = ShippingPolicy.parse("cap:5.50", "eur")
    assert capped == ShippingPolicy(PolicyKind.CAP, 550)
    assert charges(EU, capped, [1, 1, 1]) == [490, 60, 0]
    assert ShippingPolicy.from_stored(capped.stored()) == capped
    assert ShippingPolicy.from_stored(None) == BUYER
    assert ShippingPolicy.from_stored("free").kind is PolicyKind.FREE
    assert capped.describe("eur") == "buyer pays up to €5.50"


@given(zones, policies, orders, st.randoms())
def test_any_arrival_order_pays_the_same_total(
    zone: Zone, policy: ShippingPolicy, units: list[int], rnd: random.Random
) -> None:
    shuffled = list(units)
    rnd.shuffle(shuffled)
    total = package_total(zone, policy, sum(units))
    assert sum(charges(zone, policy, units)) == total
    assert sum(charges(zone, policy, shuffled)) == total


@given(zones, policies, orders)
def test_never_above_the_cap(zone: Zone, policy: ShippingPolicy, units: list[int]) -> None:
    paid = charges(zone, policy, units)
    assert all(p >= 0 for p in paid)
    if zone.cap is not None:
        assert sum(paid) <= zone.cap
    if policy.kind is PolicyKind.CAP:
        assert policy.cap is not None and sum(paid) <= policy.cap
    if policy.kind is PolicyKind.FREE:
        assert sum(paid) == 0


@given(zones, policies, st.lists(st.tuples(st.booleans(), st.integers(1, 4)), max_size=20))
def test_an_order_that_leaves_unpaid_is_made_up_by_the_next(
    zone: Zone, policy: ShippingPolicy, steps: list[tuple[bool, int]]
) -> None:
    """Orders come and some go unpaid (their units and their charge leave the bundle). An
    order that joins brings the bundle's charge up to its package's total, never beyond: the
    seller is not under-charged for long and no buyer pays past the total. Until an order has
    left, the bundle is never above its total; after one has, the orders that stay may have
    paid more than the smaller package costs (their charges are paid and stay, the excess is
    noted on the order), and no order that joins later makes that excess any larger."""
    kept: list[tuple[int, int]] = []  # (units, charge) of the orders still in the bundle
    one_left = False
    for leaves, k in steps:
        held, charged = sum(u for u, _ in kept), sum(c for _, c in kept)
        if leaves and kept:
            kept.pop(k % len(kept))
            one_left = True
            continue
        paid = increment(zone, policy, held, charged, k)
        assert paid >= 0
        kept.append((k, paid))
        total = package_total(zone, policy, held + k)
        assert charged + paid == max(charged, total)
        if not one_left:
            assert charged + paid == total


def test_zones_by_country() -> None:
    zones_ = [WORLD, EU]
    assert zone_for(zones_, "de") is EU
    assert zone_for(zones_, "US") is WORLD
    assert zone_for([EU], "US") is None
    assert zone_for(zones_, None) is None
    assert country_of("Jenny Rosen, Teststraße 1, 10115 Berlin, DE") == "DE"
    assert country_of("somewhere") is None
    assert country_of(None) is None
    assert EU.countries_text() == "AT,DE" and WORLD.countries_text() == "*"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("EU", "DE,XX", "4.90", "1", None), "unknown country code XX"),
        (("EU", "", "4.90", "1", None), "not a country list"),
        (("EU", "DE,*", "4.90", "1", None), "not a country list"),
        (("EU", "DE", "-4.90", "1", None), "cannot be negative"),
        (("EU", "DE", "4.90", "-1", None), "cannot be negative"),
        (("EU", "DE", "4.90", "1", "-2"), "cannot be negative"),
        (("EU", "DE", "4.999", "1", None), "more than 2 decimals"),
        (("", "DE", "4.90", "1", None), "needs a name"),
        (("EU", "DE", "1.00", "4.90", None), "cannot be above --first"),
    ],
)
def test_bad_zones_are_refused_clearly(args: tuple[str, ...], message: str) -> None:
    name, countries, first, each, cap = args
    with pytest.raises(InvalidInput, match=message):
        Zone.parse(name, countries, first, each, cap, "eur")


def test_bad_values() -> None:
    with pytest.raises(InvalidInput, match="negative"):
        Zone("EU", frozenset({"DE"}), "eur", -1, 0)
    with pytest.raises(InvalidInput, match="unknown country code QQ"):
        Zone("EU", frozenset({"QQ"}), "eur", 1, 0)
    for bad in ("cheap", "cap", "cap:-1", "cap:abc"):
        with pytest.raises(InvalidInput):
            ShippingPolicy.parse(bad, "eur")
    assert parse_countries(" de ; at ") == frozenset({"DE", "AT"})
    assert parse_size("2") == 2
    for bad in ("0", "two", "101"):
        with pytest.raises(InvalidInput, match="size class"):
            parse_size(bad)
    assert ship_units(3, 2, False) == 6
    assert ship_units(3, 2, True) == 0
    assert increment(EU, BUYER, 5, 0, 0) == 0
