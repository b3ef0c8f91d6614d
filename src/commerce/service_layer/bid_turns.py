"""Bids decided one after another, in the order they reached the core, on every platform.

Bids that arrive together used to be decided side by side: each took the auction's row lock
in its own transaction, in whatever order the database handed the lock out, so a later bid
could be decided first and an earlier one of the same amount was then refused (or a lower
one, decided first, was accepted before a higher one that came before it). Here each bid
takes its place in one queue when it arrives (synchronously: before its first await), and
one task decides the waiting bids in that order, as many as are ready in one unit of work,
each in a part of its own (a savepoint: a bid that fails is undone alone and its caller gets
the error), commits once, and answers every caller after that commit (as group_commit.py
does for webhooks). Several workers on one database keep one order through the auction's
row lock, which every bid takes first; a batch holding bids of several auctions locks them
all first, in ascending id order (`lock`), after its new bidders became customers in a
transaction of their own (`meet`), so no two workers' batches deadlock.

A chat message that reads as a bid takes its place as the bus receives it (`arrive`), before
the chat's own steps (flood control, a show's chatter list) that may finish in another order;
the bid then fills that place (`decide`), or the place is given up when the message turned
out to be no bid (`drop`). The bids behind an unfilled place wait for it.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from commerce.domain.commands import PlaceBid
from commerce.service_layer.group_commit import Answer, answer, in_part, stop
from commerce.service_layer.unit_of_work import UnitsOfWork

Decide = Callable[[PlaceBid], Awaitable[Any]]
# Before a batch's bids are decided: `meet` (before its unit) makes their new bidders
# customers, `lock` (in the unit) locks the auctions they go to, in one order.
Prepare = Callable[[list[PlaceBid]], Awaitable[None]]


@dataclass(eq=False, slots=True)
class Place:
    """A bid's place in the queue: filled with its command, or given up."""

    command: PlaceBid | None = None
    future: "asyncio.Future[Answer] | None" = None
    given_up: bool = False
    task: asyncio.Task[Any] | None = field(default=None)

    def ready(self) -> bool:
        return self.given_up or self.command is not None


# The place the bus took for the chat message this task handles (see `arrive`).
ARRIVED: ContextVar[Place | None] = ContextVar("livebuy_bid_place", default=None)


class BidTurns:
    def __init__(
        self,
        units: UnitsOfWork,
        decide: Decide,
        max_batch: int = 100,
        meet: Prepare | None = None,
        lock: Prepare | None = None,
    ) -> None:
        self.units, self.decide_one, self.max_batch = units, decide, max_batch
        self.meet, self.lock = meet, lock
        self._places: deque[Place] = deque()
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # for tests: how many units decided the bids

    def arrive(self) -> Place:
        """A place at the end of the queue, taken now, for a bid still on its way."""
        place = Place(task=asyncio.current_task())
        self._places.append(place)
        return place

    def drop(self, place: Place) -> None:
        """The message that took `place` brought no bid (or was decided elsewhere)."""
        if place.command is None and not place.given_up:
            place.given_up = True
            self._changed.set()
        # Given-up places at the head are let go now: before the first bid the queue's task
        # is not running, and a chat's "#bid" with no auction would otherwise stay for good.
        while self._places and self._places[0].given_up:
            self._places.popleft()

    def taken(self) -> Place | None:
        """The place the bus took for this task's chat message, if it is still unfilled."""
        place = ARRIVED.get()
        if place is None or place.task is not asyncio.current_task() or place.ready():
            return None
        return place

    async def decide(self, command: PlaceBid, place: Place | None = None) -> Answer:
        """The bid's result once its unit has committed, and the work it split off."""
        if place is None or place.given_up:  # (given up: by `close`, its queue is gone)
            place = self.arrive()
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        place.command, place.future = command, future
        self._changed.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="bid-turns")
        return await future

    async def close(self) -> None:
        await stop(self._task, self._waiting(), STOPPED)
        self._task = None

    def _waiting(self) -> Iterator["asyncio.Future[Answer]"]:
        """The callers still waiting, as the queue is emptied (at shutdown)."""
        while self._places:
            place = self._places.popleft()
            if place.future is not None:
                yield place.future
            elif not place.given_up:  # a bid still on its way no longer waits for a turn here
                place.given_up = True

    def _next_batch(self) -> list[Place]:
        batch: list[Place] = []
        while self._places and len(batch) < self.max_batch and self._places[0].ready():
            place = self._places.popleft()
            if place.given_up or place.future is None or place.future.done():
                continue  # no bid, or its caller gave up before its turn
            batch.append(place)
        return batch

    async def _run(self) -> None:
        while True:
            self._changed.clear()
            batch = self._next_batch()
            if not batch:
                await self._changed.wait()
                continue
            try:
                answers = await self._apply(batch)
            except BaseException as exc:  # the unit failed: every caller hears it
                for place in batch:
                    assert place.future is not None
                    answer(place.future, exc if isinstance(exc, Exception) else _stopped())
                if not isinstance(exc, Exception):
                    raise
                continue
            for place, outcome in zip(batch, answers, strict=True):
                assert place.future is not None
                answer(place.future, outcome)

    async def _apply(self, batch: list[Place]) -> list[Answer | Exception]:
        answers: list[Answer | Exception] = []
        bids = [place.command for place in batch if place.command is not None]
        # With several bids, what their unit would lock in the bids' order is taken in one
        # order instead: else two workers' batches could each hold an auction (or a new
        # bidder's row) and wait for the other's, and PostgreSQL would fail a bid to break
        # the circle. New bidders become customers first, in a transaction of their own.
        if len(batch) > 1 and self.meet is not None:
            await self.meet(bids)
        async with self.units() as unit:
            if len(batch) > 1 and self.lock is not None:  # the auctions, by ascending id
                await self.lock(bids)
            for place in batch:
                assert place.command is not None
                if len(batch) == 1:  # alone: its failure is the unit's, no savepoint needed
                    answers.append((await self.decide_one(place.command), unit.split_off()))
                else:
                    answers.append(await in_part(unit, self.decide_one, place.command))
            await unit.commit()
        self.batches += 1
        return answers


STOPPED = "bids are no longer taken (shutdown)"


def _stopped() -> Exception:
    return RuntimeError(STOPPED)
