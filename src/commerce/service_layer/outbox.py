"""The durable outbox: every message a chat platform must get goes through it.

Adapters put `Outgoing` messages; a `Courier` per platform takes the due ones and hands them
to that platform's `Sender`, honouring rate limits and `retry_after`. A board message (one per
drop and chat) is posted once and then edited in place; while an edit is waiting, newer board
texts replace it (coalescing), so a busy drop costs a few edits, not one message per claim.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from commerce.service_layer.inbox import InboxItem
from commerce.service_layer.ports import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: opens `url`, or sends `action` (callback data such as "buy:TEE")."""

    label: str
    url: str | None = None
    action: str | None = None


@dataclass(frozen=True, slots=True)
class Invoice:
    """A platform's native invoice (Telegram's sendInvoice) for one order."""

    title: str
    description: str
    payload: str  # the order ref: comes back with the pre-checkout query and the payment
    currency: str  # ISO code, lower case
    prices: tuple[tuple[str, int], ...]  # (label, amount in minor units)
    need_shipping_address: bool = False  # goods to ship (not digital)

    def json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "description": self.description,
            "payload": self.payload,
            "currency": self.currency,
            "prices": [list(p) for p in self.prices],
            "need_shipping_address": self.need_shipping_address,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Invoice":
        return cls(
            title=data["title"],
            description=data["description"],
            payload=data["payload"],
            currency=data["currency"],
            prices=tuple((str(label), int(amount)) for label, amount in data["prices"]),
            need_shipping_address=bool(data.get("need_shipping_address")),
        )


@dataclass(frozen=True, slots=True)
class Outgoing:
    platform: str  # "telegram", "discord"
    chat: str  # the platform's chat (or private chat) id, as text
    text: str  # an invoice's: for the log and platforms without invoices
    buttons: tuple[Button, ...] = ()
    board: str | None = None  # e.g. "drop:12": one message per (platform, chat, board)
    reply_to: str | None = None  # a platform message id to answer
    invoice: Invoice | None = None  # sent as the platform's invoice instead of a text
    # A picture shown with the text (a board's product): an https URL or a media folder file
    # (commerce.domain.media). Telegram sends a photo with the text as its caption.
    image: str | None = None


@dataclass(frozen=True, slots=True)
class Queued:
    """An outgoing message leased to one courier."""

    id: int
    message: Outgoing
    attempts: int
    message_ref: str | None  # a board already posted: edit this message
    shown_image: str | None = None  # the picture that posted board shows (None: text only)


@dataclass(frozen=True, slots=True)
class Delivered:
    """A leased message the platform took: to be marked sent."""

    item: Queued
    message_ref: str  # the platform's message id (a board's, to edit next time)
    at: datetime
    pace_until: datetime | None = None  # the chat takes nothing more before then


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    pending: int
    sent: int
    edits: int  # sends that were board edits
    undeliverable: int


class Outbox(Protocol):
    async def put(
        self, messages: list[Outgoing], now: datetime, done: InboxItem | None = None
    ) -> None:
        """Stores the messages (in one transaction). A board text replaces the pending one
        for the same board; a new one waits until `board_every` after the last edit. `done`:
        the stored chat update they answer, marked processed in the same transaction."""
        ...

    async def take(self, platform: str, now: datetime, limit: int) -> list[Queued]:
        """Leases up to `limit` due messages, oldest first (several workers never get the
        same message; a lease that is not settled runs out and the message comes back)."""
        ...

    async def sent_all(self, delivered: Sequence[Delivered]) -> None:
        """Marks them sent, in one transaction; each one's `pace_until`: its chat takes
        nothing more before then (from any worker)."""
        ...

    async def retry(
        self, item: Queued, at: datetime, error: str, attempt: bool = True, pace: bool = False
    ) -> None:
        """Puts the message back until `at`; `attempt=False` for pacing, not a failure;
        `pace`: the whole chat waits until `at` (a 429), in every worker."""
        ...

    async def move_chat(self, platform: str, old: str, new: str) -> int:
        """A chat got a new id: its waiting messages, drops, shows, auctions, giveaways
        and polls follow it; its boards are posted anew (the old messages stay behind)."""
        ...

    async def undeliverable(self, item: Queued, error: str) -> None:
        """The chat is gone or blocked the bot: recorded, never retried."""
        ...

    async def counts(self, platform: str | None = None) -> OutboxCounts: ...


class RetryLater(Exception):
    """The platform asked to wait (HTTP 429 retry_after) or could not be reached."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason or f"retry in {seconds}s")
        self.seconds = seconds


class Undeliverable(Exception):
    """The chat will never take this message (bot removed, user blocked the bot)."""


class ChatMoved(Exception):
    """The chat has a new id (a Telegram group upgraded to a supergroup): the message, and
    everything else kept for the chat, goes to `new_chat` instead."""

    def __init__(self, new_chat: str) -> None:
        super().__init__(f"the chat moved to {new_chat}")
        self.new_chat = new_chat


class Sender(Protocol):
    platform: str

    async def send(self, message: Outgoing) -> str:
        """Posts the message; returns its platform message id."""
        ...

    async def edit(
        self, message: Outgoing, message_ref: str, shown_image: str | None = None
    ) -> None:
        """Replaces the text, buttons (and picture) of a posted message ("not modified" is
        fine); `shown_image`: the picture the posted message shows now (None: text only)."""
        ...

    def interval(self, chat: str) -> float:
        """Seconds to leave between two messages to this chat (platform limits)."""
        ...


MAX_ATTEMPTS = 12  # about an hour of backoff; then the message is given up and recorded


class Courier:
    """Delivers one platform's outbox: paces each chat, honours retry_after, never drops
    a message on a fault (it goes back to the outbox with a backoff)."""

    def __init__(
        self,
        outbox: Outbox,
        sender: Sender,
        clock: Clock,
        *,
        per_second: float = 25.0,  # below Telegram's 30/s overall
        batch: int = 50,
    ) -> None:
        self.outbox, self.sender, self.clock = outbox, sender, clock
        self.per_second, self.batch = per_second, batch
        self.next_at: dict[str, datetime] = {}  # per chat: not before
        self.woken = asyncio.Event()
        self.throttled = 0  # 429s (retry_after) from the platform, for /metrics
        self.stopping = False

    def wake(self) -> None:
        """Something was put: deliver now instead of at the next poll."""
        self.woken.set()

    def stop(self) -> None:
        """`run` returns after the round under way: a message the platform took is marked
        sent first (a courier cancelled between the two sends it again from the next
        worker)."""
        self.stopping = True
        self.wake()

    async def run(self, poll: float = 1.0) -> None:
        self.stopping = False
        while not self.stopping:
            # Cleared before the round, not after: a message put and woken for while the
            # round runs (committed just after its look) must not wait for the next poll.
            self.woken.clear()
            try:
                delivered = await self.deliver_due()
            except Exception:
                log.exception("%s outbox round failed", self.sender.platform)
                delivered = 0
            if delivered or self.stopping:
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # comes with the wake-up (a message put just before the shutdown), and the
            # courier would then never stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll):
                    await self.woken.wait()

    async def deliver_due(self) -> int:
        """One round: takes the due messages and sends them; returns how many went out.
        The round ends when all it delivered is marked sent (cancelled too: see SentMarks)."""
        now = self.clock.now()
        items = await self.outbox.take(self.sender.platform, now, self.batch)
        if not items:
            return 0
        delivered = 0
        waiting: set[str] = set()  # chats one of whose messages waits, in this round
        marks = SentMarks(self.outbox)
        try:
            for item in items:
                marks.check()  # a mark that failed ends the round, as it always did
                delivered += await self._deliver(item, waiting, marks)
        finally:
            await marks.settle()
        return delivered

    async def _deliver(self, item: Queued, waiting: set[str], marks: "SentMarks") -> int:
        chat, now = item.message.chat, self.clock.now()
        ready = self.next_at.get(chat, now)
        # Once one of a chat's messages waits, its newer ones of the round wait too, even if
        # the time it waits for has come meanwhile (the retry's write took that long): they
        # must not overtake it.
        if ready > now or chat in waiting:
            waiting.add(chat)
            await self.outbox.retry(item, max(ready, now), "", attempt=False)
            return 0
        try:
            if item.message_ref is not None:
                await self.sender.edit(item.message, item.message_ref, item.shown_image)
                ref = item.message_ref
            else:
                ref = await self.sender.send(item.message)
        except RetryLater as exc:
            wait = max(exc.seconds, _backoff(item.attempts))
            at = self.clock.now() + timedelta(seconds=wait)
            if exc.seconds:  # a 429 speaks for the whole chat, not just this message
                self.throttled += 1
            if item.attempts + 1 >= MAX_ATTEMPTS:
                log.error("giving up on outbox message %s to %s: %s", item.id, chat, exc)
                await self.outbox.undeliverable(item, f"gave up: {exc}")
                if not exc.seconds:
                    self.next_at.pop(chat, None)  # nothing waits for it any more
            else:
                # Either way the chat's newer messages taken in this round wait behind this
                # one: they must not overtake it.
                self.next_at[chat] = at
                waiting.add(chat)
                await self.outbox.retry(item, at, str(exc), pace=bool(exc.seconds))
            return 0
        except ChatMoved as exc:
            # The chat's messages delivered in this round are marked first (under the old
            # id, with their board), before the move forgets the old chat's boards.
            await marks.settle()
            moved = await self.outbox.move_chat(self.sender.platform, chat, exc.new_chat)
            log.warning("chat %s moved to %s (%d rows follow it)", chat, exc.new_chat, moved)
            self.next_at.pop(chat, None)
            await self.outbox.retry(item, self.clock.now(), str(exc), attempt=False)
            return 0
        except Undeliverable as exc:
            log.warning("chat %s cannot be reached (%s); message %s dropped", chat, exc, item.id)
            await self.outbox.undeliverable(item, str(exc))
            return 0
        now = self.clock.now()
        # The pace is kept here (for the rest of this round) and in the outbox (for every
        # worker: several may deliver the same platform's messages).
        self.next_at[chat] = now + timedelta(seconds=self.sender.interval(chat))
        marks.add(Delivered(item, ref, now, self.next_at[chat]))
        await asyncio.sleep(1 / self.per_second)
        return 1


def _backoff(attempts: int) -> float:
    return float(min(2**attempts, 600))


class SentMarks:
    """A round's "sent" marks, written behind its sends: while one transaction marks what
    was delivered, the next messages go out, and all they deliver meanwhile is marked
    together in the next transaction. A platform slower than a mark (every real one: an HTTP
    call and the pause between messages, against a few milliseconds) still has each message
    marked before the next one is sent; a fast one (the console) has a round marked in a few
    transactions instead of one per message (each waiting its turn for the database).

    Until it is marked, a delivered message stays pending under its lease, so no worker
    takes it, or its chat's newer messages, meanwhile. A worker killed in between leaves
    those messages to be sent again when their lease runs out (as a kill between a send and
    its own transaction did): at most what went out during one mark. A round that ends,
    stops or is cancelled writes every mark first, so nothing the platform took is sent
    again then."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.waiting: list[Delivered] = []
        self.writing: asyncio.Task[None] | None = None
        self.failed: Exception | None = None

    def add(self, delivered: Delivered) -> None:
        self.waiting.append(delivered)
        if self.writing is None or self.writing.done():
            self.writing = asyncio.create_task(self._write())

    def check(self) -> None:
        """Raises the error of a mark that failed (its messages come back with their lease)."""
        if self.failed is not None:
            raise self.failed

    async def _write(self) -> None:
        while self.waiting and self.failed is None:
            batch, self.waiting = self.waiting, []
            try:
                await self.outbox.sent_all(batch)
            except Exception as exc:  # told by check() and settle()
                self.failed = exc

    async def settle(self) -> None:
        """Every mark so far written, even when the round is cancelled meanwhile (the
        cancellation is passed on after)."""
        await _uninterrupted(self._settle())

    async def _settle(self) -> None:
        if self.writing is not None:
            await asyncio.wait({self.writing})
        if self.waiting:  # left by a failed write (one more try) or added just now
            batch, self.waiting = self.waiting, []
            await self.outbox.sent_all(batch)
        self.check()


T = TypeVar("T")


async def _uninterrupted(work: Awaitable[T]) -> T:
    """Runs `work` to its end in a task a cancellation cannot interrupt; a cancellation that
    came meanwhile is passed on once it has ended."""
    running = asyncio.ensure_future(work)
    cancelled = False
    while True:
        try:
            await asyncio.shield(running)
            break
        except asyncio.CancelledError:
            cancelled = True
            if running.done():
                break
    if cancelled:
        raise asyncio.CancelledError
    return running.result()
