"""News of a drop's units left, coalesced. A claim (on any platform) or a release changes
them; the overlay and the boards of every chat the drop runs in would show the count only at
the next start, payment or end, since a claim is answered in its own chat and is no notice.
One `UnitsLeft` notice per drop and round instead: the first change is told at once, those
that follow while it is told (a 10,000-claim flash drop) wait for the next round, at most one
every `every` seconds, and each round reads the drop afresh, so the last notice of a burst
carries the count after its last claim, whatever order the claims were answered in.

A drop whose round fails (the database did not answer the read) stays pending: it is tried
again after a pause that doubles up to `RETRY_AT_MOST` (or at once by its next change), and
the failure is logged once, until the drop is told again. Dropped, the overlay and boards
would show a stale count until the next claim, which at the end of a drop may never come.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from commerce.service_layer.group_commit import stop
from commerce.service_layer.results import (
    ClaimOutcome,
    ClaimResult,
    DropView,
    Notice,
    UnitsLeft,
)

log = logging.getLogger(__name__)
EVERY = 0.25  # seconds between two rounds: a few updates a second, per drop at most
RETRY_AT_MOST = 10.0  # seconds between two tries of a drop whose round keeps failing


class UnitsLeftNews:
    """`changed(code)` marks a drop (`claimed`: a committed batch of claims); a task of its
    own tells its notice, round by round."""

    def __init__(
        self,
        read: Callable[[str], Awaitable[DropView | None]],
        notify: Callable[[Notice], Awaitable[None]],
        every: float = EVERY,
    ) -> None:
        self.read, self.notify = read, notify
        # Between two rounds (tests hold it to see what a burst becomes).
        self.pause: Callable[[], Awaitable[None]] = lambda: asyncio.sleep(every)
        self.rounds = 0  # for tests: how many rounds told something
        self.retry_after = every  # the first pause before a failed drop is tried again
        self._failures: dict[str, int] = {}  # drop code: rounds failed in a row
        self._retries: dict[str, asyncio.TimerHandle] = {}
        self._dirty: dict[str, None] = {}  # drop codes, in the order they changed
        self._wake: asyncio.Event | None = None  # made in the loop that runs the task
        self._task: asyncio.Task[None] | None = None

    def changed(self, code: str) -> None:
        """A claim or a release changed the units left of the drop with this code (cheap:
        called once per claim, from the claim's task)."""
        self._dirty[code.upper()] = None
        if self._task is None or self._task.done():
            self._wake = asyncio.Event()
            self._task = asyncio.create_task(self._run(self._wake), name="units-left-news")
        assert self._wake is not None
        self._wake.set()

    def claimed(self, results: Iterable[ClaimResult]) -> None:
        """A batch of claims committed (the claim writer's hook): each drop a unit was held
        from, or whose waitlist grew, is marked once."""
        for result in results:
            drop = result.drop
            if drop and not result.duplicate and result.outcome is not ClaimOutcome.REFUSED:
                self.changed(drop.code)

    async def close(self) -> None:
        for retry in self._retries.values():
            retry.cancel()
        self._retries.clear()
        await stop(self._task)
        self._task = None

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            codes, self._dirty = list(self._dirty), {}
            for code in codes:
                try:
                    drop = await self.read(code)
                    if drop is not None:
                        await self.notify(UnitsLeft(drop))
                except Exception:  # a claim is unaffected: the drop is tried again later
                    self._failed(code)
                else:
                    self._told(code)
            self.rounds += 1
            await self.pause()

    def _failed(self, code: str) -> None:
        failures = self._failures[code] = self._failures.get(code, 0) + 1
        if failures == 1:  # once, not every few seconds while the database is away
            log.exception("could not tell the units left of %s; trying again", code)
        delay = min(self.retry_after * 2 ** (failures - 1), RETRY_AT_MOST)
        if code not in self._retries:
            loop = asyncio.get_running_loop()
            self._retries[code] = loop.call_later(delay, self._retry, code)

    def _retry(self, code: str) -> None:
        del self._retries[code]
        self.changed(code)

    def _told(self, code: str) -> None:
        if self._failures.pop(code, 0):
            log.info("the units left of %s are told again", code)
        retry = self._retries.pop(code, None)
        if retry is not None:  # told by a change before its retry came
            retry.cancel()
