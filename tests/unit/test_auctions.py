"""The auction rules on a frozen clock: ladder, bids, proxies, soft close, reserve, result."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commerce.domain.auctions import (
    DEFAULT_LADDER,
    AuctionState,
    AuctionTerms,
    BidRefusal,
    CloseMode,
    Ladder,
    PastBid,
    ResultKind,
    place_bid,
    result,
    runner_up,
)
from commerce.domain.errors import InvalidInput

T0 = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def opened(terms: AuctionTerms) -> AuctionState:
    return AuctionState(ends_at=T0 + terms.duration)


def run(
    terms: AuctionTerms, *bids: tuple[str, int, float, bool]
) -> tuple[AuctionState, list[BidRefusal | None]]:
    """Applies (bidder, amount, at seconds, proxy) in order; returns the state and refusals."""
    state, refusals = opened(terms), []
    for bidder, amount, when, proxy in bids:
        out = place_bid(terms, state, bidder, amount, at(when), proxy)
        state = out.state
        refusals.append(out.refusal)
    return state, refusals


# the ladder ------------------------------------------------------------------------------


def test_ladder_steps_per_band() -> None:
    assert DEFAULT_LADDER.step(0) == 100
    assert DEFAULT_LADDER.step(1999) == 100
    assert DEFAULT_LADDER.step(2000) == 200
    assert DEFAULT_LADDER.step(7500) == 500
    assert DEFAULT_LADDER.step(10_000_000) == 5000
    assert Ladder.fixed(50).step(123456) == 50


def test_ladder_round_trips_and_refuses_nonsense() -> None:
    ladder = Ladder.parse("0:100, 2000:250")
    assert ladder.format() == "0:100,2000:250"
    assert Ladder.parse(DEFAULT_LADDER.format()) == DEFAULT_LADDER
    for bad in ("", "100:5", "0:5,10:0", "0:5,10:5,10:6", "0:5,20:5,10:5", "x:y", "0:1:2"):
        with pytest.raises(InvalidInput):
            Ladder.parse(bad)


def test_terms_are_validated() -> None:
    for bad in (
        {"start": 0},
        {"start": 100, "duration": timedelta(0)},
        {"start": 100, "duration": timedelta(days=2)},
        {"start": 100, "reserve": 0},
        {"start": 100, "soft_window": timedelta(hours=1)},
    ):
        with pytest.raises(InvalidInput):
            AuctionTerms(**bad)  # type: ignore[arg-type]


def test_a_custom_ladder_sets_the_minimum_next_bid() -> None:
    terms = AuctionTerms(100, ladder=Ladder(((0, 100), (1000, 500))))
    state, _ = run(terms, ("a", 900, 1, False))
    assert state.minimum(terms) == 1000
    state, _ = run(terms, ("a", 1000, 1, False))
    assert state.minimum(terms) == 1500


# plain bids ------------------------------------------------------------------------------


def test_first_bid_at_least_the_start_then_at_least_one_step_more() -> None:
    terms = AuctionTerms(100)
    state = opened(terms)
    assert state.minimum(terms) == 100
    low = place_bid(terms, state, "a", 99, at(1))
    assert low.refusal is BidRefusal.TOO_LOW and low.minimum == 100
    first = place_bid(terms, state, "a", 500, at(1))
    assert first.accepted and first.leading and first.state.price == 500
    assert [(p.bidder, p.amount, p.seq) for p in first.placed] == [("a", 500, 1)]
    assert first.minimum == 600
    too_low = place_bid(terms, first.state, "b", 599, at(2))
    assert too_low.refusal is BidRefusal.TOO_LOW and too_low.minimum == 600
    second = place_bid(terms, first.state, "b", 600, at(2))
    assert second.leading and second.outbid == "a" and second.state.leader == "b"
    assert second.state.bids == 2 and second.placed[0].seq == 2


def test_the_leader_cannot_bid_against_themselves() -> None:
    terms = AuctionTerms(100)
    state, _ = run(terms, ("a", 100, 1, False))
    out = place_bid(terms, state, "a", 300, at(2))
    assert out.refusal is BidRefusal.ALREADY_LEADING and out.state == state


def test_no_bid_after_the_end() -> None:
    terms = AuctionTerms(100, duration=timedelta(seconds=30), close=CloseMode.SUDDEN)
    out = place_bid(terms, opened(terms), "a", 100, at(30))
    assert out.refusal is BidRefusal.ENDED
    assert opened(terms).is_due(at(30)) and not opened(terms).is_due(at(29.999))


# proxy bids ------------------------------------------------------------------------------


def test_a_proxy_shows_only_what_is_needed_and_answers_each_challenger() -> None:
    terms = AuctionTerms(100)
    state = opened(terms)
    proxy = place_bid(terms, state, "p", 4000, at(1), proxy=True)
    assert proxy.state.price == 100 and proxy.state.leader_max == 4000  # max never shown
    challenger = place_bid(terms, proxy.state, "c", 1500, at(2))
    assert challenger.accepted and not challenger.leading and challenger.outbid == "c"
    assert challenger.state.leader == "p" and challenger.state.price == 1600
    assert [(p.bidder, p.amount, p.auto) for p in challenger.placed] == [
        ("c", 1500, False),
        ("p", 1600, True),
    ]
    # Beaten: the proxy went to its maximum, the challenger leads at their own bid.
    over = place_bid(terms, challenger.state, "c", 5000, at(3))
    assert over.leading and over.outbid == "p" and over.state.price == 5000
    assert [(p.bidder, p.amount, p.auto) for p in over.placed] == [
        ("p", 4000, True),
        ("c", 5000, False),
    ]


def test_proxy_against_proxy_ends_one_step_above_the_lower_maximum() -> None:
    terms = AuctionTerms(100)
    state, _ = run(terms, ("p", 4000, 1, True), ("q", 2500, 2, True))
    assert state.leader == "p" and state.price == 2700  # 2500 + the 2 € step
    state, _ = run(terms, ("p", 2500, 1, True), ("q", 4000, 2, True))
    assert state.leader == "q" and state.price == 2700


def test_a_proxy_is_capped_by_its_own_maximum() -> None:
    terms = AuctionTerms(100)
    state, _ = run(terms, ("p", 1550, 1, True), ("c", 1500, 2, False))
    assert state.leader == "p" and state.price == 1550


def test_equal_maxima_the_earlier_one_leads() -> None:
    terms = AuctionTerms(100)
    state, _ = run(terms, ("p", 3000, 1, True), ("q", 3000, 2, True))
    assert state.leader == "p" and state.price == 3000
    state, _ = run(terms, ("a", 3000, 1, False), ("p", 3000, 2, True))
    assert state.leader == "a"
    assert state.price == 3000


def test_the_leader_may_raise_their_maximum_but_not_lower_it() -> None:
    terms = AuctionTerms(100)
    state, _ = run(terms, ("p", 1000, 1, True))
    raised = place_bid(terms, state, "p", 2000, at(2), proxy=True)
    assert raised.accepted and raised.leading and raised.placed == ()
    assert raised.state.leader_max == 2000 and raised.state.price == 100
    lower = place_bid(terms, raised.state, "p", 1500, at(3), proxy=True)
    assert lower.refusal is BidRefusal.ALREADY_LEADING


def test_a_proxy_below_the_minimum_is_refused() -> None:
    terms = AuctionTerms(100)
    state, _ = run(terms, ("a", 1000, 1, False))
    out = place_bid(terms, state, "p", 1050, at(2), proxy=True)
    assert out.refusal is BidRefusal.TOO_LOW and out.minimum == 1100


# soft close and sudden death -------------------------------------------------------------


def test_soft_close_extends_to_ten_seconds_after_a_late_bid() -> None:
    terms = AuctionTerms(100, duration=timedelta(seconds=50))
    early = place_bid(terms, opened(terms), "a", 100, at(20))
    assert not early.extended and early.state.ends_at == at(50)
    late = place_bid(terms, early.state, "b", 200, at(45))
    assert late.extended and late.state.ends_at == at(55)
    later = place_bid(terms, late.state, "a", 300, at(54.5))
    assert later.extended and later.state.ends_at == at(64.5)
    assert place_bid(terms, later.state, "b", 400, at(64.5)).refusal is BidRefusal.ENDED


def test_a_hidden_raise_of_the_maximum_does_not_move_the_clock() -> None:
    terms = AuctionTerms(100, duration=timedelta(seconds=50))
    state, _ = run(terms, ("p", 1000, 10, True))
    raised = place_bid(terms, state, "p", 2000, at(45), proxy=True)
    assert raised.accepted and not raised.extended and raised.state.ends_at == at(50)


def test_soft_close_window_is_configurable() -> None:
    terms = AuctionTerms(100, duration=timedelta(seconds=30), soft_window=timedelta(seconds=3))
    out = place_bid(terms, opened(terms), "a", 100, at(25))
    assert not out.extended
    out = place_bid(terms, out.state, "b", 200, at(28))
    assert out.state.ends_at == at(31)


def test_sudden_death_never_extends_and_the_highest_bid_at_the_end_wins() -> None:
    terms = AuctionTerms(100, duration=timedelta(seconds=50), close=CloseMode.SUDDEN)
    state, refusals = run(
        terms, ("a", 100, 10, False), ("b", 200, 49.9, False), ("a", 300, 50, False)
    )
    assert refusals == [None, None, BidRefusal.ENDED]
    assert state.ends_at == at(50)
    assert result(terms, state).winner == "b"


# reserve and result ----------------------------------------------------------------------


def test_no_bids_no_sale() -> None:
    terms = AuctionTerms(100)
    assert result(terms, opened(terms)).kind is ResultKind.NO_BIDS


def test_reserve_not_met_means_no_sale() -> None:
    terms = AuctionTerms(100, reserve=2000)
    state, _ = run(terms, ("a", 1500, 1, False))
    assert result(terms, state).kind is ResultKind.RESERVE_NOT_MET


def test_reserve_met_sells_at_the_price() -> None:
    terms = AuctionTerms(100, reserve=2000)
    state, _ = run(terms, ("a", 1500, 1, False), ("b", 2100, 2, False))
    assert result(terms, state) == result(terms, state)
    assert (result(terms, state).kind, result(terms, state).price) == (ResultKind.SOLD, 2100)


def test_a_proxy_above_the_reserve_bids_up_to_the_reserve() -> None:
    terms = AuctionTerms(100, reserve=2000)
    first = place_bid(terms, opened(terms), "p", 3000, at(1), proxy=True)
    assert first.state.price == 2000 and first.state.bids == 2
    assert [(p.amount, p.auto) for p in first.placed] == [(100, False), (2000, True)]
    assert result(terms, first.state).kind is ResultKind.SOLD
    low = place_bid(terms, opened(terms), "p", 1000, at(1), proxy=True)
    raised = place_bid(terms, low.state, "p", 2500, at(2), proxy=True)
    assert raised.state.price == 2000 and [p.amount for p in raised.placed] == [2000]


# runner-up -------------------------------------------------------------------------------


def test_runner_up_is_the_best_other_bidder_at_their_last_bid() -> None:
    terms = AuctionTerms(100)
    bids = [PastBid("a", 100, 1), PastBid("b", 300, 2), PastBid("c", 300, 3)]
    bids += [PastBid("b", 200, 4), PastBid("w", 900, 5)]
    assert runner_up(terms, bids, passed=["w"]) == PastBid("b", 300, 2)
    assert runner_up(terms, bids, passed=["w", "b"]) == PastBid("c", 300, 3)
    assert runner_up(terms, bids, passed=["w", "b", "c", "a"]) is None


def test_no_runner_up_below_the_reserve() -> None:
    terms = AuctionTerms(100, reserve=500)
    bids = [PastBid("a", 400, 1), PastBid("w", 900, 2)]
    assert runner_up(terms, bids, passed=["w"]) is None


# properties ------------------------------------------------------------------------------

BIDDERS = st.sampled_from(["a", "b", "c", "d"])
AMOUNTS = st.integers(min_value=100, max_value=20_000)


def _maxima(accepted: list[tuple[str, int]]) -> dict[str, int]:
    best: dict[str, int] = {}
    for who, amount in accepted:
        best[who] = max(best.get(who, 0), amount)
    return best


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(BIDDERS, AMOUNTS), max_size=25), st.sampled_from([None, 50, 100, 500]))
def test_proxy_auctions_the_highest_maximum_wins_near_the_second_one(
    bids: list[tuple[str, int]], step: int | None
) -> None:
    terms = AuctionTerms(100, ladder=Ladder.fixed(step) if step else DEFAULT_LADDER)
    state, accepted = opened(terms), []
    first_at: dict[str, int] = {}
    for i, (who, amount) in enumerate(bids):
        out = place_bid(terms, state, who, amount, at(1), proxy=True)
        if out.accepted:
            accepted.append((who, amount))
            first_at.setdefault(f"{who}:{amount}", i)
        state = out.state
    end = result(terms, state)
    if not accepted:
        assert end.kind is ResultKind.NO_BIDS
        return
    maxima = _maxima(accepted)
    top = max(maxima.values())
    assert maxima[end.winner or ""] == top  # the winner holds the highest valid maximum
    # ... and among equal maxima, the one who reached it first
    reached = {w: first_at[f"{w}:{m}"] for w, m in maxima.items() if m == top}
    assert end.winner == min(reached, key=reached.__getitem__)
    others = [m for w, m in maxima.items() if w != end.winner]
    assert end.price is not None and end.price <= top
    if others:
        second = max(others)
        assert end.price <= second + terms.ladder.step(second)
        assert end.price >= min(second, top)
    else:
        assert end.price == terms.start


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(BIDDERS, AMOUNTS, st.booleans()), max_size=25))
def test_mixed_bids_price_is_bounded_and_never_falls(bids: list[tuple[str, int, bool]]) -> None:
    terms = AuctionTerms(100)
    state, accepted, plain = opened(terms), [], {}
    last_price, seqs = 0, []
    for who, amount, proxy in bids:
        out = place_bid(terms, state, who, amount, at(1), proxy)
        if out.accepted:
            accepted.append((who, amount))
            if not proxy:
                plain[who] = max(plain.get(who, 0), amount)
        seqs += [p.seq for p in out.placed]
        state = out.state
        assert (state.price or 0) >= last_price
        last_price = state.price or 0
    assert seqs == list(range(1, len(seqs) + 1))  # every visible bid numbered in order
    if not accepted:
        return
    maxima = _maxima(accepted)
    end = result(terms, state)
    assert maxima[end.winner or ""] == max(maxima.values())
    others = [m for w, m in maxima.items() if w != end.winner]
    bound = max(others) + terms.ladder.step(max(others)) if others else terms.start
    # A plain bid is shown as typed, so it may set the price above that bound itself.
    assert end.price is not None and end.price <= max(bound, plain.get(end.winner or "", 0))
