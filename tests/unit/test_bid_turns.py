"""BidTurns' queue of places (service_layer/bid_turns.py), without a database."""

import asyncio
from types import TracebackType
from typing import Any

from commerce.service_layer.bid_turns import ARRIVED, BidTurns


class Unit:
    """Just enough of a unit of work for a lone bid."""

    async def __aenter__(self) -> "Unit":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None

    async def commit(self) -> None:
        return None

    def split_off(self) -> list[Any]:
        return []


def turns() -> BidTurns:
    async def decide(command: Any) -> Any:
        return ("decided", command)

    return BidTurns(Unit, decide)  # type: ignore[arg-type]


async def test_places_given_up_before_any_bid_are_not_kept() -> None:
    # A chat's "#bid 5" with no auction takes a place and gives it up; before the first bid
    # the queue's task does not run, and the places stayed for the life of the process.
    bids = turns()
    for _ in range(200):
        place = bids.arrive()
        bids.drop(place)
    assert len(bids._places) == 0


async def test_a_bid_whose_place_was_taken_before_a_close_is_answered() -> None:
    # Shut down while a chat message that reads as a bid was still on its way to its bid:
    # the place it took is gone from the queue; filled afterwards, nobody decided it and
    # its caller waited for good.
    bids = turns()
    place = bids.arrive()
    token = ARRIVED.set(place)
    try:
        await bids.close()
        result, _ = await asyncio.wait_for(bids.decide("bid", bids.taken()), 10)
        assert result == ("decided", "bid")
        place2 = bids.arrive()
        await bids.close()
        result, _ = await asyncio.wait_for(bids.decide("bid 2", place2), 10)
        assert result == ("decided", "bid 2")
    finally:
        ARRIVED.reset(token)
        await bids.close()
