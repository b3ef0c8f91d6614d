"""Live auctions: the increment ladder, bids, proxy bids, soft close, reserve and the result.

Pure rules on immutable values. Amounts are integers in minor units (one currency per
auction); time is passed in by the caller (the Clock port), never read here. Bidders are
opaque strings (the store uses customer ids, so linked identities bid as one person).

A plain bid (`#bid 15`) is a visible bid of exactly that amount. A proxy bid (`/maxbid 40`)
is a private maximum: the auction shows only what is needed to lead, and answers every
challenger step by step up to that maximum. Between equal maxima the earlier one leads.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from commerce.domain.errors import InvalidInput


class CloseMode(StrEnum):
    # A bid in the last `soft_window` extends the end to `soft_window` after that bid.
    SOFT = "soft"
    # The clock never moves: the highest bid when time runs out wins.
    SUDDEN = "sudden"


@dataclass(frozen=True, slots=True)
class Ladder:
    """The bid increment per price band: ((from_minor, step_minor), ...), ascending."""

    bands: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.bands or self.bands[0][0] != 0:
            raise InvalidInput("an increment ladder starts at 0")
        starts = [start for start, _ in self.bands]
        if starts != sorted(set(starts)):
            raise InvalidInput("the ladder's bands must be in ascending order")
        if any(step <= 0 for _, step in self.bands):
            raise InvalidInput("every increment must be above zero")

    @classmethod
    def fixed(cls, step: int) -> "Ladder":
        return cls(((0, step),))

    @classmethod
    def parse(cls, text: str) -> "Ladder":
        """'0:100,2000:200' (band start:step, in minor units), as the database keeps it."""
        try:
            pairs = [part.split(":") for part in text.split(",") if part.strip()]
            return cls(tuple((int(a), int(b)) for a, b in pairs))
        except ValueError:
            raise InvalidInput(f"'{text}' is not a ladder like 0:100,2000:200") from None

    def format(self) -> str:
        return ",".join(f"{start}:{step}" for start, step in self.bands)

    def step(self, price: int) -> int:
        """The increment above `price`: the step of the highest band that starts at or below."""
        found = self.bands[0][1]
        for start, step in self.bands:
            if start > price:
                break
            found = step
        return found


# Whatnot-like: 1 € steps up to 20 €, then 2, 5, 10, 25 and 50 € as the price grows.
DEFAULT_LADDER = Ladder(
    ((0, 100), (2000, 200), (5000, 500), (10000, 1000), (50000, 2500), (100000, 5000))
)
DEFAULT_DURATION = timedelta(seconds=50)
DEFAULT_SOFT_WINDOW = timedelta(seconds=10)
MAX_AUCTION = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class AuctionTerms:
    start: int  # the opening (minimum first) bid, minor units
    duration: timedelta = DEFAULT_DURATION
    close: CloseMode = CloseMode.SOFT
    reserve: int | None = None  # below this the item is not sold
    ladder: Ladder = DEFAULT_LADDER
    soft_window: timedelta = DEFAULT_SOFT_WINDOW

    def __post_init__(self) -> None:
        if self.start <= 0:
            raise InvalidInput("an auction starts above zero")
        if not timedelta(seconds=1) <= self.duration <= MAX_AUCTION:
            raise InvalidInput("an auction runs between 1s and 24h")
        if self.reserve is not None and self.reserve <= 0:
            raise InvalidInput("the reserve must be above zero")
        if not timedelta(seconds=1) <= self.soft_window <= timedelta(minutes=5):
            raise InvalidInput("the soft-close window is between 1s and 5m")


@dataclass(frozen=True, slots=True)
class AuctionState:
    """What the auction row holds: the visible price and the (private) leading maximum."""

    ends_at: datetime
    price: int | None = None  # the current visible bid; None before the first bid
    leader: str | None = None
    leader_max: int = 0  # never shown: the leader's proxy maximum (or plain bid)
    bids: int = 0  # visible bids so far (own and proxy answers)
    seq: int = 0  # the last sequence number given to a visible bid

    def minimum(self, terms: AuctionTerms) -> int:
        """The smallest bid accepted now."""
        if self.price is None:
            return terms.start
        return self.price + terms.ladder.step(self.price)

    def is_due(self, now: datetime) -> bool:
        return now >= self.ends_at


class BidRefusal(StrEnum):
    ENDED = "ended"
    TOO_LOW = "too_low"  # below the minimum next bid
    ALREADY_LEADING = "already_leading"  # a plain bid by the leader, or a lower maximum


@dataclass(frozen=True, slots=True)
class Placed:
    """A visible bid in the auction's order: `auto` when a proxy placed it."""

    bidder: str
    amount: int
    seq: int
    auto: bool = False


@dataclass(frozen=True, slots=True)
class BidOutcome:
    state: AuctionState
    refusal: BidRefusal | None = None
    minimum: int = 0  # the minimum next bid after this one (or the one that was missed)
    placed: tuple[Placed, ...] = ()
    outbid: str | None = None  # who lost the lead (the bidder themselves if beaten at once)
    extended: bool = False  # soft close moved the end
    leading: bool = False  # the bidder leads after it

    @property
    def accepted(self) -> bool:
        return self.refusal is None


def place_bid(
    terms: AuctionTerms,
    state: AuctionState,
    bidder: str,
    amount: int,
    now: datetime,
    proxy: bool = False,
) -> BidOutcome:
    """Decides one bid (`proxy`: a maximum) against the state; never raises."""
    minimum = state.minimum(terms)
    if state.is_due(now):
        return BidOutcome(state, BidRefusal.ENDED, minimum)
    if bidder == state.leader:
        if not proxy or amount <= state.leader_max:
            return BidOutcome(state, BidRefusal.ALREADY_LEADING, minimum)
        raised = _reserve(terms, replace(state, leader_max=amount))
        outcome = _extend(terms, state, raised, now, _placed_by_reserve(state, raised))
        return replace(outcome, leading=True)
    if amount < minimum:
        return BidOutcome(state, BidRefusal.TOO_LOW, minimum)
    seq, placed = state.seq, []

    def visible(who: str, value: int, auto: bool = False) -> None:
        nonlocal seq
        seq += 1
        placed.append(Placed(who, value, seq, auto))

    if state.leader is None:
        price = minimum if proxy else amount
        visible(bidder, price)
        new = replace(state, price=price, leader=bidder, leader_max=amount)
        outbid = None
    elif amount > state.leader_max:  # the lead changes hands
        if state.price is not None and state.leader_max > state.price:
            visible(state.leader, state.leader_max, auto=True)  # their proxy went all the way
        price = amount
        if proxy:
            price = max(
                minimum, min(amount, state.leader_max + terms.ladder.step(state.leader_max))
            )
        visible(bidder, price)
        new = replace(state, price=price, leader=bidder, leader_max=amount)
        outbid = state.leader
    else:  # the leader's maximum answers at once (equal maxima: the earlier one leads)
        visible(bidder, amount)
        price = min(state.leader_max, amount + terms.ladder.step(amount))
        visible(state.leader, price, auto=True)
        new = replace(state, price=price)
        outbid = bidder
    new = replace(new, bids=state.bids + len(placed), seq=seq)
    reserved = _reserve(terms, new)
    outcome = _extend(
        terms, state, reserved, now, tuple(placed) + _placed_by_reserve(new, reserved)
    )
    return replace(outcome, outbid=outbid, leading=new.leader == bidder)


def _reserve(terms: AuctionTerms, state: AuctionState) -> AuctionState:
    """A leading maximum at or above the reserve bids up to it (the reserve is then met)."""
    r = terms.reserve
    if r is None or state.leader is None or state.price is None:
        return state
    if state.price < r <= state.leader_max:
        return replace(state, price=r, bids=state.bids + 1, seq=state.seq + 1)
    return state


def _placed_by_reserve(before: AuctionState, after: AuctionState) -> tuple[Placed, ...]:
    if after.seq == before.seq or after.leader is None or after.price is None:
        return ()
    return (Placed(after.leader, after.price, after.seq, auto=True),)


def _extend(
    terms: AuctionTerms,
    before: AuctionState,
    after: AuctionState,
    now: datetime,
    placed: tuple[Placed, ...],
) -> BidOutcome:
    minimum = after.minimum(terms)
    # Only a visible bid moves the clock: a leader's higher maximum stays a secret.
    late = after.ends_at - now < terms.soft_window
    if terms.close is CloseMode.SOFT and late and placed:
        extended = replace(after, ends_at=now + terms.soft_window)
        return BidOutcome(extended, None, minimum, placed, extended=True)
    return BidOutcome(after, None, minimum, placed)


class ResultKind(StrEnum):
    SOLD = "sold"
    NO_BIDS = "no_bids"
    RESERVE_NOT_MET = "reserve_not_met"


@dataclass(frozen=True, slots=True)
class AuctionResult:
    kind: ResultKind
    winner: str | None = None
    price: int | None = None


def result(terms: AuctionTerms, state: AuctionState) -> AuctionResult:
    """Who won at what price, once the time is up."""
    if state.leader is None or state.price is None:
        return AuctionResult(ResultKind.NO_BIDS)
    if terms.reserve is not None and state.price < terms.reserve:
        return AuctionResult(ResultKind.RESERVE_NOT_MET, state.leader, state.price)
    return AuctionResult(ResultKind.SOLD, state.leader, state.price)


@dataclass(frozen=True, slots=True)
class PastBid:
    bidder: str
    amount: int
    seq: int


def runner_up(
    terms: AuctionTerms, bids: Iterable[PastBid], passed: Iterable[str] = ()
) -> PastBid | None:
    """The second-chance offer: the best bidder not yet offered the item, at their highest
    bid (the earlier of equal bids first); None if nobody is left above the reserve."""
    skip = set(passed)
    best: dict[str, PastBid] = {}
    for bid in bids:
        if bid.bidder in skip:
            continue
        held = best.get(bid.bidder)
        if held is None or bid.amount > held.amount:
            best[bid.bidder] = bid
    ranked = sorted(best.values(), key=lambda b: (-b.amount, b.seq))
    if not ranked or (terms.reserve is not None and ranked[0].amount < terms.reserve):
        return None
    return ranked[0]
