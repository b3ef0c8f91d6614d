"""News of a drop's units left, coalesced. A claim (on any platform) or a release changes
them; the overlay and the boards of every chat the drop runs in would show the count only at
the next start, payment or end, since a claim is answered in its own chat and is no notice.
One `UnitsLeft` notice per drop and round instead: the first change is told at once, those
that follow while it is told (a 10,000-claim flash drop) wait for the next round, at most one
every `every` seconds, and each round reads the drop afresh, so the last notice of a burst
carries the count after its last claim, whatever order the claims were answered in.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

from commerce.service_layer.results import (
    ClaimOutcome,
    ClaimResult,
    DropView,
    Notice,
    UnitsLeft,
)

log = logging.getLogger(__name__)
EVERY = 0.25  # seconds between two rounds: a few updates a second, per drop at most


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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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
                except Exception:  # the next change tells it again; a claim is unaffected
                    log.exception("could not tell the units left of %s", code)
            self.rounds += 1
            await self.pause()
