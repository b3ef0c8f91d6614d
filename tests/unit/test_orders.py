"""The order transition table: the single source of truth for status changes."""

from itertools import pairwise, product

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commerce.domain.orders import (
    CANCELLABLE,
    HOLDING,
    TRANSITIONS,
    OrderStatus,
    can_move,
    sources,
)

S = OrderStatus
STATES = list(OrderStatus)


def test_every_status_has_an_entry() -> None:
    assert set(TRANSITIONS) == set(OrderStatus)
    assert len(TRANSITIONS) == 10


def test_targets_are_statuses() -> None:
    for nexts in TRANSITIONS.values():
        assert all(isinstance(target, OrderStatus) for target in nexts)


def test_refunded_is_the_only_terminal_state() -> None:
    assert TRANSITIONS[S.REFUNDED] == frozenset()
    assert [state for state in STATES if not TRANSITIONS[state]] == [S.REFUNDED]
    assert not any(can_move(S.REFUNDED, target) for target in STATES)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.RESERVED, S.CHECKOUT_OPEN),
        (S.CHECKOUT_OPEN, S.PAID),
        (S.PAID, S.FULFILLED),
        (S.RESERVED, S.PAID),
        (S.EXPIRED, S.PAID),  # a late payment for an expired hold is honoured
        (S.CANCELLED, S.PAID),
        (S.PAID, S.REFUNDED),
        (S.FULFILLED, S.DISPUTED),
        (S.DISPUTED, S.PAID),
        (S.PARTIALLY_REFUNDED, S.PARTIALLY_REFUNDED),
    ],
)
def test_allowed_moves(current: OrderStatus, target: OrderStatus) -> None:
    assert can_move(current, target) is True


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PAID, S.RESERVED),
        (S.PAID, S.EXPIRED),
        (S.PAID, S.CANCELLED),
        (S.FULFILLED, S.PAID),
        (S.CHECKOUT_OPEN, S.RESERVED),
        (S.RESERVED, S.FULFILLED),
        (S.RESERVED, S.RESERVED),
        (S.EXPIRED, S.CHECKOUT_OPEN),
        (S.REFUNDED, S.PAID),
    ],
)
def test_refused_moves(current: OrderStatus, target: OrderStatus) -> None:
    assert can_move(current, target) is False


def test_happy_path_is_allowed_step_by_step() -> None:
    path = [S.RESERVED, S.CHECKOUT_OPEN, S.PAID, S.FULFILLED]
    assert all(can_move(a, b) for a, b in pairwise(path))


def test_sources_of_expired_are_the_holding_states() -> None:
    assert sources(S.EXPIRED) == frozenset({S.RESERVED, S.CHECKOUT_OPEN})
    assert sources(S.EXPIRED) == HOLDING


def test_sources_of_paid() -> None:
    assert sources(S.PAID) == frozenset(
        {S.RESERVED, S.CHECKOUT_OPEN, S.EXPIRED, S.CANCELLED, S.DISPUTED, S.NEEDS_REVIEW}
    )


def test_sources_of_fulfilled() -> None:
    assert sources(S.FULFILLED) == frozenset({S.PAID, S.PARTIALLY_REFUNDED})


def test_nothing_moves_to_reserved() -> None:
    """An order is created reserved; no transition ever leads back there."""
    assert sources(S.RESERVED) == frozenset()
    assert not any(can_move(state, S.RESERVED) for state in STATES)


def test_holding_and_cancellable_states() -> None:
    assert frozenset({S.RESERVED, S.CHECKOUT_OPEN}) == HOLDING
    assert CANCELLABLE == HOLDING


def test_only_partial_refunds_repeat() -> None:
    assert [state for state in STATES if can_move(state, state)] == [S.PARTIALLY_REFUNDED]


def test_every_state_is_reachable_from_reserved() -> None:
    seen = {S.RESERVED}
    frontier = [S.RESERVED]
    while frontier:
        for target in TRANSITIONS[frontier.pop()]:
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    assert seen == set(OrderStatus)


def test_every_state_can_still_end_refunded() -> None:
    """Money never lost: from any state a refund can still be reached."""
    for start in STATES:
        seen = {start}
        frontier = [start]
        while frontier:
            for target in TRANSITIONS[frontier.pop()]:
                if target not in seen:
                    seen.add(target)
                    frontier.append(target)
        assert S.REFUNDED in seen, start


def test_can_move_iff_source_for_every_pair() -> None:
    for a, b in product(STATES, STATES):
        assert can_move(a, b) == (a in sources(b)), (a, b)


@given(st.sampled_from(STATES), st.sampled_from(STATES))
def test_can_move_iff_source_property(a: OrderStatus, b: OrderStatus) -> None:
    assert can_move(a, b) is (a in sources(b))
    assert can_move(a, b) is (b in TRANSITIONS[a])


def test_status_values_are_the_stored_strings() -> None:
    assert [state.value for state in STATES] == [
        "reserved",
        "checkout_open",
        "paid",
        "fulfilled",
        "expired",
        "cancelled",
        "refunded",
        "partially_refunded",
        "disputed",
        "needs_review",
    ]
    assert OrderStatus("paid") is S.PAID
