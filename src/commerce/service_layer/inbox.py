"""The durable chat inbox: platform updates processed in their chat's order.

An adapter stores each update it receives (`ChatInbox.store`) before it acknowledges it to the
platform, then wakes the `InboxRunner`. Every worker runs one runner per platform: it takes
the next update of every chat whose turn it is and processes those chats side by side, each
chat's updates in turns, in the platform's numbering: a turn starts when the previous one has
finished. So a `#buy` posted while the same chat's `/drop` is still being handled (an admin
check under way) is decided after the drop opened, and a worker that dies between
acknowledging and processing leaves its updates to the next worker that looks.

A turn is one update, or a run of updates the adapter says may share it (`joins`: buyers'
claims and bids between two other messages). Those are started in order and decided side by
side, as the claim writer batches claims that arrive together; one at a time, a flash drop in
one chat would be as slow as one claim's round trip allows. An update whose processing fails
is tried again a little later (the chat waits for it), and given up after a few attempts so
one bad update cannot silence a chat.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from commerce.service_layer import reading
from commerce.service_layer.ports import Clock
from commerce.service_layer.reading import Reading

log = logging.getLogger(__name__)

ATTEMPTS = 3  # tries of one update before it is given up (logged with its error)
# Finished updates are kept this long: a platform delivers an update again within it
# (Telegram keeps one for 24 hours), and the stored id makes it a no-op.
KEEP = timedelta(days=2)
FORGET_EVERY = timedelta(hours=1)
READS_KEPT = 1000  # readings of updates not processed yet (a turn's refused follower)


@dataclass(frozen=True, slots=True)
class InboxItem:
    platform: str
    update_id: str
    chat: str
    seq: int  # the platform's numbering: a chat's updates are processed in its order
    payload: str  # the update as the platform sent it (JSON)
    attempt: int  # 1 for the first try


@dataclass(frozen=True, slots=True)
class InboxState:
    pending: int  # updates stored and not yet processed
    oldest: datetime | None  # when the oldest of them arrived


class ChatInbox(Protocol):
    async def store(
        self, platform: str, updates: list[tuple[str, str, int, str]], now: datetime
    ) -> int: ...
    async def heads(self, platform: str, now: datetime, limit: int) -> list[InboxItem]: ...
    async def next(self, platform: str, chat: str, now: datetime) -> InboxItem | None: ...
    async def followers(
        self, head: InboxItem, now: datetime, limit: int, joins: Callable[[InboxItem], bool]
    ) -> list[InboxItem]: ...
    async def done(self, item: InboxItem) -> None: ...
    async def finish(
        self, turn: list[InboxItem], finished: list[InboxItem], now: datetime | None
    ) -> InboxItem | None: ...
    async def retry(self, item: InboxItem, at: datetime, error: str) -> None: ...
    async def give_up(self, item: InboxItem, error: str) -> None: ...
    async def release(self, platform: str) -> int: ...
    async def forget(self, before: datetime) -> int: ...
    async def state(self, platform: str) -> InboxState: ...


Process = Callable[[InboxItem], Awaitable[None]]


class InboxRunner:
    def __init__(
        self,
        inbox: ChatInbox,
        platform: str,
        process: Process,
        clock: Clock,
        *,
        joins: Callable[[InboxItem], bool] = lambda item: False,
        chats: int = 64,  # chats processed side by side by this worker
        turn: int = 100,  # updates at most in one chat's turn
        poll: float = 1.0,  # seconds between looks when nobody wakes the runner
    ) -> None:
        self.inbox, self.platform, self.process, self.clock = inbox, platform, process, clock
        self.joins, self.chats, self.turn, self.poll = joins, chats, turn, poll
        self.running: dict[str, asyncio.Task[None]] = {}
        self.woken = asyncio.Event()
        self.processed = 0  # updates finished here, failed or not (tests wait on it)
        # What the adapter's `joins` read of an update (its text), by update id, until the
        # update is processed: its message is not read again (service_layer.reading).
        self.reads: dict[str, Reading] = {}
        self.forgot_at: datetime | None = None
        self.stopping = False

    def wake(self) -> None:
        """New updates were stored (or a chat's turn ended): look again now."""
        self.woken.set()

    async def stop(self, grace: float = 5.0) -> None:
        """Ends the runner's work without cutting an update short: no new update is taken and
        those under way finish (for `grace` seconds at most). A cancel in the middle of a
        transaction can leave SQLite's write lock with a connection nobody uses any more."""
        self.stopping = True
        self.wake()
        under_way = list(self.running.values())
        if under_way:
            await asyncio.wait(under_way, timeout=grace)

    async def run(self) -> None:
        released, self.stopping = False, False
        try:
            while not self.stopping:
                self.woken.clear()
                try:
                    if not released:  # what an earlier run here left taken and unfinished
                        await self.inbox.release(self.platform)
                        released = True
                    await self._forget()
                    await self._start_chats()
                except Exception:
                    log.exception("%s inbox: the next updates could not be taken", self.platform)
                if self.stopping:
                    break
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
                # that arrives with the wake-up, and the runner would never stop.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll):
                        await self.woken.wait()
        finally:
            for task in list(self.running.values()):
                task.cancel()
            for task in list(self.running.values()):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _forget(self) -> None:
        now = self.clock.now()
        if self.forgot_at is None or now - self.forgot_at >= FORGET_EVERY:
            self.forgot_at = now
            await self.inbox.forget(now - KEEP)

    async def _start_chats(self) -> None:
        spare = self.chats - len(self.running)
        if spare <= 0 or self.stopping:
            return
        for item in await self.inbox.heads(self.platform, self.clock.now(), spare):
            self.running[item.chat] = asyncio.create_task(self._chat(item))

    async def _chat(self, head: InboxItem) -> None:
        """One chat's turns while its updates keep coming."""
        chat = head.chat
        item: InboxItem | None = head
        turn: list[InboxItem] = []
        try:
            while item is not None:
                turn = [item]  # held by this worker until the turn ends
                turn = await self._turn(item)
                outcomes = await asyncio.gather(
                    *(self._one(i, self.reads.pop(i.update_id, None)) for i in turn),
                    return_exceptions=True,  # every update of the turn ended before it ends
                )
                failures = [o for o in outcomes if isinstance(o, BaseException)]
                if failures:  # a retry's or give-up's mark failed: the turn is let go
                    raise failures[0]
                results = [o is True for o in outcomes]
                finished = [i for i, ok in zip(turn, results, strict=True) if ok]
                # The chat's next row is taken as its turn is marked done, in one transaction;
                # none after a failure (the chat waits for its retry) or once stopping. The
                # turn's rows are held until then, even those an answer marked done already:
                # no look, here or in another worker, starts the chat's next update meanwhile.
                go_on = all(results) and not self.stopping
                now = self.clock.now() if go_on else None
                item = await self.inbox.finish(turn, finished, now)
                self.processed += len(turn)  # done, given up or set to retry: finished here
                turn = []
        except Exception:
            log.exception(
                "%s inbox: chat %s stopped; it goes on at the next look", self.platform, chat
            )
            await self._let_go(turn)
        finally:
            if self.running.get(chat) is asyncio.current_task():
                del self.running[chat]
            self.wake()  # a slot is free for another chat

    async def _let_go(self, turn: list[InboxItem]) -> None:
        """A turn that could not end (its end failed): its rows are let go, or this worker,
        alive, would hold them and their chat for as long as it runs. What was not marked
        done is taken again at the next look, as a dead worker's update would be."""
        if turn:
            try:
                await self.inbox.finish(turn, [], None)
            except Exception:
                log.exception("%s inbox: a turn could not be let go", self.platform)

    async def _turn(self, head: InboxItem) -> list[InboxItem]:
        """The updates of `head`'s turn: `head` and the run of followers `joins` lets share it."""
        turn: list[InboxItem] = [head]
        if self._joins(head):
            now, most = self.clock.now(), self.turn - 1
            turn += await self.inbox.followers(head, now, most, self._joins)
        return turn

    def _joins(self, item: InboxItem) -> bool:
        """The adapter's `joins`, with its reading of the update noted for the update's
        processing (or the one noted before: the update that ended a turn is asked again as
        the next one's head)."""
        with reading.ahead(self.reads.get(item.update_id)), reading.noting() as noted:
            joins = self.joins(item)
        if noted:
            self.reads[item.update_id] = noted[-1]
            while len(self.reads) > READS_KEPT:  # updates another worker took meanwhile
                del self.reads[next(iter(self.reads))]
        return joins

    async def _one(self, item: InboxItem, read: Reading | None = None) -> bool:
        try:
            with reading.ahead(read):
                await self.process(item)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if item.attempt >= ATTEMPTS:
                log.exception(
                    "%s update %s failed %d times: given up",
                    self.platform,
                    item.update_id,
                    ATTEMPTS,
                )
                await self.inbox.give_up(item, error)
                return True
            log.warning(
                "%s update %s failed (%s); trying again", self.platform, item.update_id, error
            )
            later = self.clock.now() + timedelta(seconds=2**item.attempt)
            await self.inbox.retry(item, later, error)
            return False
        return True
