"""The unit of work: one transaction per use case (after cosmicpython's unit_of_work.py).

The bus opens one around a command's handler. Inside it the repositories it hands out (one per
aggregate, `Repositories`: every one a handler writes through; handlers take them with
`deps.repos`) run their statements in its one transaction, the notices the handler records
are collected, and nothing is committed unless the handler finishes and the bus commits: any
exception, cancellation included, rolls everything back and the notices are dropped.

At commit the collected notices are handed to the notifiers while the transaction is still
open, so the chat messages they put in the outbox are written with the change that caused
them (a crash cannot lose a notice nor send one for a change that rolled back). What must
wait for the commit (waking the couriers, a call to another service) is registered with
`after_commit`; what must not run inside a unit at all (a call to Stripe) with `later`:
the bus runs it once the unit has committed.

Inside a unit of work never await another task that writes (the claim writer) nor an outside
service (Stripe): on SQLite the unit holds the write lock and the one pooled connection, so
the other task would wait for the unit and the unit for it. A use case that must call Stripe
is split: one unit, then the call, then another unit.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self, TypeVar

from commerce.service_layer.packages import Shipments
from commerce.service_layer.ports import (
    AuctionStore,
    Cards,
    Customers,
    Drops,
    EmailSignIns,
    GiveawayStore,
    Holds,
    Ledger,
    Notifier,
    Orders,
    PayLinks,
    Products,
    RoomLines,
    ShippingStore,
    ShowStore,
    WebViewers,
)
from commerce.service_layer.results import Notice

log = logging.getLogger(__name__)

T = TypeVar("T")
Deliver = Callable[[Notice], Awaitable[None]]
Work = Callable[[], Awaitable[object]]


class Repositories(Protocol):
    """The shop's repositories, one per aggregate, as a handler reaches them
    (`deps.repos(deps)`): the unit of work's inside one, the shop's own outside."""

    products: Products
    drops: Drops
    holds: Holds
    orders: Orders
    customers: Customers

    # Repositories a shop may run without (`Deps` has None then): a handler asks `Deps`
    # whether they are configured, then works through these (never reached when they are not).
    @property
    def ledger(self) -> Ledger: ...
    @property
    def cards(self) -> Cards: ...
    @property
    def shipping(self) -> ShippingStore: ...
    @property
    def auctions(self) -> AuctionStore: ...
    @property
    def giveaways(self) -> GiveawayStore: ...  # and polls
    @property
    def shows(self) -> ShowStore: ...
    @property
    def pay_links(self) -> PayLinks: ...
    @property
    def shipments(self) -> Shipments: ...
    @property
    def web_viewers(self) -> WebViewers: ...
    @property
    def email_sign_ins(self) -> EmailSignIns: ...
    @property
    def room_lines(self) -> RoomLines: ...


class UnitOfWork(Repositories, Protocol):
    # The repositories the unit hands out (`Repositories`: every one a handler writes
    # through) run their statements in its one transaction. What `Deps` still holds besides
    # is no repository: the clock, the notifier, letters (pure: they turn news into
    # messages, which the handler stores through a repository), the payment gateway (Stripe,
    # called outside a unit), the read side (`views`), the throttle.

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Rolls back unless committed."""
        ...

    async def commit(self) -> None:
        """Hands the collected notices to their notifiers, commits, then runs the
        `after_commit` callbacks."""
        ...

    async def rollback(self) -> None: ...

    def record(self, notice: Notice, deliver: Deliver) -> None:
        """Keeps a notice until commit (dropped on rollback)."""
        ...

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Runs `callback` once the unit has committed (never if it rolls back)."""
        ...

    def later(self, work: Work) -> None:
        """Keeps `work` for `follow_up` (dropped on rollback)."""
        ...

    def pending(self) -> bool:
        """Whether work was kept for `follow_up` (by the current part, within one)."""
        ...

    def split_off(self) -> list[Work]:
        """Takes the kept work out of the unit, for the caller to run after the commit."""
        ...

    def part(self) -> AbstractAsyncContextManager["Part"]:
        """A part of the unit that fails alone (a savepoint): on an exception its writes,
        notices and kept work are undone and the rest of the unit goes on. The work it kept
        is taken out of the unit's and handed over in `Part.follow_ups`, for the caller to
        run after the commit."""
        ...

    async def follow_up(self) -> None:
        """Once committed: runs the kept work in order, outside the unit (each piece commits
        on its own); the first failure is raised."""
        ...


UnitsOfWork = Callable[[], UnitOfWork]


@dataclass
class Part:
    follow_ups: list[Work] = field(default_factory=list)


# The unit of work running in the current task (set by its __aenter__). A task started inside
# a unit inherits the variable: `owner` tells it the unit is not its own.
CURRENT: ContextVar[tuple[UnitOfWork, asyncio.Task[object] | None] | None] = ContextVar(
    "livebuy_unit_of_work", default=None
)


def current() -> UnitOfWork | None:
    """The unit of work of this task, if one is open."""
    found = CURRENT.get()
    if found is None or found[1] is not asyncio.current_task():
        return None
    return found[0]


def after_commit(callback: Callable[[], object]) -> None:
    """Runs `callback` after this task's unit of work commits, or now if there is none
    (couriers are woken so: a courier woken before the commit finds nothing to send)."""
    unit = current()
    if unit is None:
        callback()
    else:
        unit.after_commit(callback)


async def later(work: Work) -> None:
    """Runs `work` after this task's unit of work has committed, outside it (the bus
    follows up once the unit is closed), or now if there is none. For what must not run
    inside a unit: a Stripe call, waiting for another task that writes."""
    unit = current()
    if unit is None:
        await work()
    else:
        unit.later(work)


async def one_unit(units: "UnitsOfWork | None", work: Callable[[], Awaitable[T]]) -> T:
    """Runs `work` in a unit of work of its own, commits it, then runs what it split off
    (`later`). A handler whose use case calls Stripe in the middle runs each side of the call
    so: one unit, the call, another unit. Inside a unit already open in this task, `work` is
    part of it; without units (tests of a single adapter) it runs as is."""
    if units is None or current() is not None:
        return await work()
    async with units() as unit:
        result = await work()
        await unit.commit()
    await unit.follow_up()
    return result


class CollectingNotifier:
    """The notifier handlers get: inside a unit of work a notice is recorded and delivered at
    its commit, in its transaction; outside one it is delivered at once."""

    def __init__(self, inner: Notifier) -> None:
        self.inner = inner

    async def notify(self, notice: Notice) -> None:
        unit = current()
        if unit is None:
            await self.inner.notify(notice)
        else:
            unit.record(notice, self.inner.notify)


class Collected:
    """The part of a unit of work every implementation shares: notices and callbacks."""

    def __init__(self) -> None:
        self.notices: list[tuple[Notice, Deliver]] = []
        self.callbacks: list[Callable[[], object]] = []
        self.follow_ups: list[Work] = []
        self.part_starts = 0  # where the current part's follow-ups start

    def record(self, notice: Notice, deliver: Deliver) -> None:
        self.notices.append((notice, deliver))

    def after_commit(self, callback: Callable[[], object]) -> None:
        self.callbacks.append(callback)

    def later(self, work: Work) -> None:
        self.follow_ups.append(work)

    def pending(self) -> bool:
        return len(self.follow_ups) > self.part_starts

    def mark(self) -> tuple[int, int, int]:
        """Where a part starts (see `part`)."""
        self.part_starts = len(self.follow_ups)
        return len(self.notices), len(self.callbacks), len(self.follow_ups)

    def undo(self, mark: tuple[int, int, int]) -> None:
        del self.notices[mark[0] :], self.callbacks[mark[1] :], self.follow_ups[mark[2] :]

    def split_off(self) -> list[Work]:
        taken, self.follow_ups = self.follow_ups, []
        return taken

    def take_follow_ups(self, mark: tuple[int, int, int]) -> list[Work]:
        taken = self.follow_ups[mark[2] :]
        del self.follow_ups[mark[2] :]
        return taken

    async def follow_up(self) -> None:
        while self.follow_ups:
            await self.follow_ups.pop(0)()

    async def deliver_notices(self) -> None:
        # A notifier may record more (a notice about a notice is not a thing today, but a
        # loop over a list that grows would miss them): taken until none are left.
        while self.notices:
            notice, deliver = self.notices.pop(0)
            await deliver(notice)

    def run_callbacks(self) -> None:
        callbacks, self.callbacks = self.callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # the change is committed: a failed wake-up must not undo it
                log.exception("after-commit callback failed")

    def forget(self) -> None:
        self.notices.clear()
        self.callbacks.clear()
        self.follow_ups.clear()
