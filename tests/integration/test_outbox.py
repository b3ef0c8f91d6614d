"""The durable outbox on SQLite and PostgreSQL: order, board edits coalesced, 429s honoured,
dead chats recorded, and two couriers never sending the same message."""

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.adapters.outbox import DUE, DUE_PG, SqlOutbox
from commerce.service_layer.outbox import (
    Button,
    Courier,
    Outgoing,
    Queued,
    RetryLater,
    Undeliverable,
)
from tests.fakes import FakeClock


@dataclass
class RecordingSender:
    platform: str = "telegram"
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # (verb, chat, text)
    faults: dict[str, list[Exception]] = field(default_factory=dict)  # per chat, raised in order
    next_ref: int = 0
    shown: list[str | None] = field(default_factory=list)  # per edit: the picture posted before
    images: list[str | None] = field(default_factory=list)  # per send and edit: its picture

    def _fault(self, chat: str) -> None:
        pending = self.faults.get(chat)
        if pending:
            raise pending.pop(0)

    async def send(self, message: Outgoing) -> str:
        self._fault(message.chat)
        self.calls.append(("send", message.chat, message.text))
        self.images.append(message.image)
        self.next_ref += 1
        return str(self.next_ref)

    async def edit(
        self, message: Outgoing, message_ref: str, shown_image: str | None = None
    ) -> None:
        self._fault(message.chat)
        self.calls.append((f"edit {message_ref}", message.chat, message.text))
        self.shown.append(shown_image)
        self.images.append(message.image)

    def interval(self, chat: str) -> float:
        return 0.0


def courier(engine: AsyncEngine, clock: FakeClock, sender: RecordingSender) -> Courier:
    return Courier(SqlOutbox(engine), sender, clock, per_second=10_000)


def text(chat: str, body: str, board: str | None = None) -> Outgoing:
    return Outgoing("telegram", chat, body, (Button("Buy", action="buy:TEE"),), board=board)


async def test_messages_go_out_in_order_and_are_counted(engine: AsyncEngine) -> None:
    clock, sender = FakeClock(), RecordingSender()
    outbox = SqlOutbox(engine)
    await outbox.put([text("1", "a"), text("2", "b"), text("1", "c")], clock.now())
    await outbox.put([Outgoing("discord", "9", "elsewhere")], clock.now())

    assert await courier(engine, clock, sender).deliver_due() == 3
    assert sender.calls == [("send", "1", "a"), ("send", "2", "b"), ("send", "1", "c")]
    counts = await outbox.counts("telegram")
    assert (counts.pending, counts.sent, counts.edits, counts.undeliverable) == (0, 3, 0, 0)
    assert (await outbox.counts()).pending == 1  # the Discord one is not Telegram's to send


async def test_a_board_is_posted_once_then_edited_with_edits_coalesced(
    engine: AsyncEngine,
) -> None:
    clock, sender = FakeClock(), RecordingSender()
    outbox = SqlOutbox(engine)
    run = courier(engine, clock, sender)
    await outbox.put([text("-100", "10 left", board="drop:1")], clock.now())
    assert await run.deliver_due() == 1

    for left in (9, 8, 7):  # three claims right after the post: one edit, with the last text
        await outbox.put([text("-100", f"{left} left", board="drop:1")], clock.now())
    assert await run.deliver_due() == 0  # too soon after the last edit
    clock.advance(seconds=3)
    assert await run.deliver_due() == 1
    assert sender.calls == [("send", "-100", "10 left"), ("edit 1", "-100", "7 left")]
    counts = await outbox.counts()
    assert (counts.sent, counts.edits, counts.pending) == (2, 1, 0)


async def test_retry_after_postpones_the_chat_and_loses_nothing(engine: AsyncEngine) -> None:
    clock, sender = FakeClock(), RecordingSender()
    sender.faults["1"] = [RetryLater(5, "429 Too Many Requests")]
    outbox = SqlOutbox(engine)
    run = courier(engine, clock, sender)
    await outbox.put([text("1", "first"), text("1", "second")], clock.now())

    assert await run.deliver_due() == 0  # the 429 holds back the whole chat
    assert (await outbox.counts()).pending == 2
    clock.advance(seconds=4)
    assert await run.deliver_due() == 0
    clock.advance(seconds=1)
    assert await run.deliver_due() == 2
    assert [c[2] for c in sender.calls] == ["first", "second"]


async def test_an_unreachable_chat_is_recorded_and_does_not_stall_others(
    engine: AsyncEngine,
) -> None:
    clock, sender = FakeClock(), RecordingSender()
    sender.faults["blocked"] = [Undeliverable("Forbidden: bot was blocked by the user")]
    outbox = SqlOutbox(engine)
    await outbox.put([text("blocked", "your link"), text("2", "hello")], clock.now())

    assert await courier(engine, clock, sender).deliver_due() == 1
    assert sender.calls == [("send", "2", "hello")]
    counts = await outbox.counts()
    assert (counts.undeliverable, counts.pending) == (1, 0)


async def test_a_lease_that_is_not_settled_runs_out(engine: AsyncEngine) -> None:
    clock = FakeClock()
    outbox = SqlOutbox(engine)
    await outbox.put([text("1", "a")], clock.now())
    assert len(await outbox.take("telegram", clock.now(), 10)) == 1
    assert await outbox.take("telegram", clock.now(), 10) == []  # leased: a crashed worker
    clock.advance(seconds=61)
    assert [q.message.text for q in await outbox.take("telegram", clock.now(), 10)] == ["a"]


async def test_two_couriers_never_send_the_same_message(database_url: str) -> None:
    clock = FakeClock()
    engines = [create_engine(database_url) for _ in range(2)]  # as two processes would
    try:
        messages = [text(str(i % 50), f"m{i}") for i in range(300)]
        await SqlOutbox(engines[0]).put(messages, clock.now())
        senders = [RecordingSender(), RecordingSender()]
        couriers = [courier(e, clock, s) for e, s in zip(engines, senders, strict=True)]
        # Small batches so the two interleave many times.
        for c in couriers:
            c.batch = 7

        async def drain(c: Courier) -> None:
            while await c.deliver_due():  # each round awaits the database: they interleave
                pass

        await asyncio.gather(*(drain(c) for c in couriers))
        sent = [call[2] for s in senders for call in s.calls]
        assert sorted(sent) == sorted(m.text for m in messages)  # each exactly once
        assert all(s.calls for s in senders)  # both took part
    finally:
        for e in engines:
            await e.dispose()


async def test_a_running_courier_delivers_when_woken(engine: AsyncEngine) -> None:
    clock, sender = FakeClock(), RecordingSender()
    outbox = SqlOutbox(engine)
    run = courier(engine, clock, sender)
    task = asyncio.create_task(run.run(poll=30))  # only a wake-up can make it look again
    try:
        await asyncio.sleep(0.05)
        await outbox.put([text("1", "hi")], clock.now())
        run.wake()
        for _ in range(200):
            if sender.calls:
                break
            await asyncio.sleep(0.01)
        assert sender.calls == [("send", "1", "hi")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # off the engine before it closes


async def test_a_wake_during_a_round_is_not_lost(engine: AsyncEngine) -> None:
    """A message committed (and woken for) just after a round looked goes out at once, not at
    the next poll: the wake-up is cleared before the round, not after it."""
    clock, sender = FakeClock(), RecordingSender()

    class LateOutbox(SqlOutbox):
        looks = 0

        async def take(self, platform: str, now: datetime, limit: int) -> list[Queued]:
            taken = await super().take(platform, now, limit)
            LateOutbox.looks += 1
            if LateOutbox.looks == 1:  # the first round found nothing; a message comes now
                await SqlOutbox(engine).put([text("1", "hi")], clock.now())
                run.wake()
            return taken

    run = Courier(LateOutbox(engine), sender, clock, per_second=10_000)
    task = asyncio.create_task(run.run(poll=30))  # only a wake-up can make it look again
    try:
        for _ in range(200):
            if sender.calls:
                break
            await asyncio.sleep(0.01)
        assert sender.calls == [("send", "1", "hi")]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)  # off the engine before it closes


async def test_a_message_that_keeps_failing_is_given_up_and_recorded(
    engine: AsyncEngine,
) -> None:
    clock, sender = FakeClock(), RecordingSender()
    sender.faults["1"] = [RetryLater(0, "connection refused") for _ in range(20)]
    outbox = SqlOutbox(engine)
    run = courier(engine, clock, sender)
    await outbox.put([text("1", "hi")], clock.now())
    for _ in range(12):
        clock.advance(minutes=11)  # past the longest backoff
        await run.deliver_due()
    counts = await outbox.counts()
    assert (counts.pending, counts.sent, counts.undeliverable) == (0, 0, 1)
    assert len(sender.faults["1"]) == 20 - 12  # MAX_ATTEMPTS tries, then no more
    # Given up on, it holds nothing back: the chat's next message goes out at once.
    sender.faults["1"].clear()
    await outbox.put([text("1", "next")], clock.now())
    assert await run.deliver_due() == 1 and sender.calls == [("send", "1", "next")]


async def test_two_workers_keep_one_chats_pace(database_url: str) -> None:
    """A chat paced by one worker's send is paced for the other worker too."""
    clock = FakeClock()
    engines = [create_engine(database_url) for _ in range(2)]
    try:

        @dataclass
        class SlowChat(RecordingSender):
            def interval(self, chat: str) -> float:
                return 3.0

        senders = [SlowChat(), SlowChat()]
        couriers = [courier(e, clock, s) for e, s in zip(engines, senders, strict=True)]
        outbox = SqlOutbox(engines[0])
        await outbox.put([text("-100", "first")], clock.now())
        assert await couriers[0].deliver_due() == 1
        await outbox.put([text("-100", "second")], clock.now())
        assert await couriers[1].deliver_due() == 0  # the other worker sent a moment ago
        clock.advance(seconds=3)
        assert await couriers[1].deliver_due() == 1
        assert [c[2] for s in senders for c in s.calls] == ["first", "second"]
    finally:
        for e in engines:
            await e.dispose()


async def test_a_429_holds_the_chat_back_in_every_worker(database_url: str) -> None:
    clock = FakeClock()
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        throttled, other = RecordingSender(), RecordingSender()
        throttled.faults["-100"] = [RetryLater(10, "429")]
        outbox = SqlOutbox(engines[0])
        await outbox.put([text("-100", "hello")], clock.now())
        assert await courier(engines[0], clock, throttled).deliver_due() == 0
        await outbox.put([text("-100", "later")], clock.now())
        assert await courier(engines[1], clock, other).deliver_due() == 0
        clock.advance(seconds=10)
        assert await courier(engines[1], clock, other).deliver_due() == 2
        assert [c[2] for c in other.calls] == ["hello", "later"]
    finally:
        for e in engines:
            await e.dispose()


async def test_a_courier_stops_when_cancelled_just_after_a_wake(engine: AsyncEngine) -> None:
    """A message put right before the shutdown wakes the courier as it is cancelled; the
    cancel must still end it (Python 3.11's wait_for swallowed it, and a worker's shutdown
    then waited forever for its courier)."""
    clock, sender = FakeClock(), RecordingSender()
    for spins in range(4):  # the wake-up a few steps ahead of the cancel, or with it
        running = courier(engine, clock, sender)
        task = asyncio.create_task(running.run(poll=30))
        for _ in range(500):  # until it sleeps in its poll
            if _waiting(task):
                break
            await asyncio.sleep(0.01)
        running.wake()
        for _ in range(spins):
            await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        if not done:
            task.cancel()  # (no wake-up this time) not to outlive the test
        assert done == {task}, f"the courier ran on after its cancel ({spins} steps)"
        assert task.cancelled()


def _waiting(task: asyncio.Task[None]) -> bool:
    """The courier sleeps in its poll (not in a round of the outbox)."""
    names, awaiting = [], task.get_coro()
    while awaiting is not None:
        names.append(getattr(awaiting, "cr_code", None) and awaiting.cr_code.co_name)
        awaiting = getattr(awaiting, "cr_await", None)
    return len(names) > 1 and "deliver_due" not in names


async def test_a_message_that_fails_is_not_overtaken_by_the_next_one(engine: AsyncEngine) -> None:
    """Both taken in one round: the first fails for a moment (a connection reset), so the
    second waits for it instead of reaching the chat first."""
    clock, sender = FakeClock(), RecordingSender()
    sender.faults["1"] = [RetryLater(0, "connection reset")]
    outbox = SqlOutbox(engine)
    await outbox.put([text("1", "first"), text("1", "second")], clock.now())
    run = courier(engine, clock, sender)
    assert await run.deliver_due() == 0 and sender.calls == []
    for _ in range(3):
        clock.advance(seconds=2)
        await run.deliver_due()
    assert sender.calls == [("send", "1", "first"), ("send", "1", "second")]


async def test_a_paced_message_is_not_overtaken_when_its_wait_ends_mid_round(
    engine: AsyncEngine,
) -> None:
    """Both taken in one round while the chat is paced: the first is put back to wait, and
    the pause has ended by the time the round looks at the second (writing the first one's
    wait took that long). The second must still wait behind the first (a Telegram buyer got
    "Your orders: … cancelled" before "Order … cancelled.")."""
    clock, sender = FakeClock(), RecordingSender()
    outbox = SqlOutbox(engine)
    run = courier(engine, clock, sender)
    retry = outbox.retry

    async def slow_retry(*args: object, **kwargs: bool) -> None:
        await retry(*args, **kwargs)  # type: ignore[arg-type]
        clock.advance(seconds=2)  # the chat's pause is over meanwhile

    run.outbox.retry = slow_retry  # type: ignore[method-assign]
    await outbox.put([text("1", "first"), text("1", "second")], clock.now())
    run.next_at["1"] = clock.now() + timedelta(seconds=1)  # the chat was just written to
    await run.deliver_due()
    for _ in range(3):
        clock.advance(seconds=2)
        await run.deliver_due()
    assert sender.calls == [("send", "1", "first"), ("send", "1", "second")]


async def test_a_board_with_a_picture_tells_each_edit_what_the_message_shows(
    engine: AsyncEngine,
) -> None:
    """The picture goes out with the board, coalesced like its text; each edit learns which
    picture the posted message shows (to edit the caption, or replace the media), and a
    picture once posted stays when an edit carries none (media cannot be removed)."""
    clock, sender = FakeClock(), RecordingSender()
    outbox = SqlOutbox(engine)
    run = courier(engine, clock, sender)
    board = "drop:1"

    def pictured(body: str, image: str | None) -> Outgoing:
        return Outgoing("telegram", "-100", body, board=board, image=image)

    await outbox.put([pictured("10 left", "a" * 64 + ".png")], clock.now())
    await run.deliver_due()
    for body, image in (
        ("9 left", "a" * 64 + ".png"),  # the same picture: a caption edit
        ("8 left", "https://cdn.example.com/new.jpg"),  # another: the media is replaced
        ("7 left", None),  # none any more: the photo stays, its caption edited
        ("6 left", None),
    ):
        clock.advance(seconds=60)
        await outbox.put([pictured(body, "https://cdn.example.com/old.jpg")], clock.now())
        await outbox.put([pictured(body, image)], clock.now())  # coalesced into that one
        clock.advance(seconds=60)
        assert await run.deliver_due() == 1
    assert sender.images == [
        "a" * 64 + ".png",
        "a" * 64 + ".png",
        "https://cdn.example.com/new.jpg",
        None,
        None,
    ]
    assert sender.shown == [
        "a" * 64 + ".png",
        "a" * 64 + ".png",
        "https://cdn.example.com/new.jpg",
        "https://cdn.example.com/new.jpg",
    ]
    assert (await outbox.counts()).pending == 0


async def test_a_stopped_courier_marks_the_message_under_way_sent_before_it_ends(
    engine: AsyncEngine,
) -> None:
    """A platform that took a message must not get it again from the next worker: `stop`
    lets the round finish (cancelling between the send and its mark would resend it)."""
    clock, sent = FakeClock(), asyncio.Event()
    release = asyncio.Event()

    class SlowSender(RecordingSender):
        async def send(self, message: Outgoing) -> str:
            sent.set()
            await release.wait()  # the platform is slow to answer
            return await super().send(message)

    sender = SlowSender()
    outbox = SqlOutbox(engine)
    await outbox.put([text("1", "hi"), text("2", "ho")], clock.now())
    run = courier(engine, clock, sender)
    task = asyncio.create_task(run.run(poll=30))
    await asyncio.wait_for(sent.wait(), 10)
    run.stop()
    release.set()
    await asyncio.wait_for(task, 10)  # ends by itself, after the round
    counts = await outbox.counts()
    assert counts.sent == 2 and counts.pending == 0


async def test_the_check_for_a_chats_older_messages_reads_an_index(engine: AsyncEngine) -> None:
    """A round looks, for each due message, for an older one of its chat still waiting: by
    the chat's index, not by a scan of the platform's whole backlog (a flash drop leaves
    thousands of private answers pending; each round then cost the square of them). SQLite's
    plan is checked. PostgreSQL's planner picks by its statistics, and without them (a table
    that just filled: a new shop's first drop) it ran the check as a scan of the backlog per
    due row (2.3 s a round over 2,000 answers): there the round's query (DUE_PG) is checked to
    read the outbox once, not once per due row, whatever the plan."""
    clock = FakeClock()
    params = {"platform": "telegram", "now": clock.now(), "limit": 50}
    if engine.dialect.name == "postgresql":
        await SqlOutbox(engine).put([text(str(i % 30), f"m{i}") for i in range(300)], clock.now())
        async with engine.connect() as conn:
            plan = await conn.execute(sql_text("EXPLAIN (ANALYZE, FORMAT JSON) " + DUE_PG), params)
            reads = list(_reads_of(plan.scalar_one()[0]["Plan"], "outbox"))
        assert reads and all(loops == 1 for loops in reads), reads
        return
    async with engine.connect() as conn:
        plan = await conn.execute(sql_text("EXPLAIN QUERY PLAN " + DUE), params)
        lines = " ".join(str(row[-1]) for row in plan)
    assert "ix_outbox_chat_order" in lines, lines


def _reads_of(node: dict[str, Any], table: str) -> Iterator[int]:
    """How many times each scan of `table` in a PostgreSQL plan (EXPLAIN ANALYZE) ran."""
    if node.get("Relation Name") == table:
        yield int(node["Actual Loops"])
    for child in node.get("Plans", []):
        yield from _reads_of(child, table)
