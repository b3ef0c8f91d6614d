"""A round's "sent" marks are written behind its sends, several messages a transaction
(`SentMarks`), on SQLite and PostgreSQL, with the outbox's guarantees kept: a delivered
message waiting for its mark holds its chat back and is taken by no other worker, two
couriers send each message once and each chat in order, a crash between the delivery and the
mark loses nothing and resends only what was not marked, and a cancelled round marks what
the platform took."""

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.adapters.outbox import SqlOutbox
from commerce.service_layer.outbox import Courier, Delivered, Outgoing
from tests.fakes import FakeClock
from tests.integration.test_outbox import RecordingSender, text


class SlowMarks(SqlOutbox):
    """Counts its mark transactions (how many messages each); each waits `slow` seconds
    before it starts, as on a busy database, so that sends go on meanwhile."""

    def __init__(self, engine: AsyncEngine, slow: float = 0.0) -> None:
        super().__init__(engine)
        self.slow, self.marks = slow, list[int]()

    async def sent_all(self, delivered: Sequence[Delivered]) -> None:
        self.marks.append(len(delivered))
        await asyncio.sleep(self.slow)
        await super().sent_all(delivered)


def courier(outbox: SqlOutbox, clock: FakeClock, sender: RecordingSender) -> Courier:
    return Courier(outbox, sender, clock, per_second=10_000)


async def sent_texts(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sql_text("SELECT text FROM outbox WHERE status = 'sent'"))
        return {row[0] for row in rows}


def chats_in_order(sends: list[tuple[str, str, str]], messages: list[Outgoing]) -> bool:
    """Each chat got its messages in the order they were put."""
    for chat in {m.chat for m in messages}:
        put = [m.text for m in messages if m.chat == chat]
        got = [t for _, c, t in sends if c == chat]
        if got != put:
            return False
    return True


async def test_a_fast_platforms_round_is_marked_in_a_few_transactions(
    engine: AsyncEngine,
) -> None:
    """50 private answers to a platform without limits (the console): the marks follow the
    sends, so they take a few transactions, not 50 (one each, every one waiting its turn for
    the database, was the courier's bottleneck); the round ends with all of them marked."""
    clock, sender = FakeClock(), RecordingSender()
    outbox = SlowMarks(engine, slow=0.05)
    await outbox.put([text(str(i), f"m{i}") for i in range(50)], clock.now())
    assert await courier(outbox, clock, sender).deliver_due() == 50
    assert sum(outbox.marks) == 50
    assert len(outbox.marks) <= 5, outbox.marks
    counts = await outbox.counts()
    assert (counts.sent, counts.pending) == (50, 0)


async def test_a_message_waiting_for_its_mark_holds_its_chat_back_in_other_workers(
    database_url: str,
) -> None:
    """Delivered, its mark not yet written: the message stays pending under its lease, so the
    other worker neither sends it again nor sends the chat's next message before it is
    marked; another chat goes on."""
    clock, release = FakeClock(), asyncio.Event()
    engines = [create_engine(database_url) for _ in range(2)]  # as two processes would

    class HeldMarks(SqlOutbox):
        async def sent_all(self, delivered: Sequence[Delivered]) -> None:
            await release.wait()
            await super().sent_all(delivered)

    try:
        first, second = RecordingSender(), RecordingSender()
        await SqlOutbox(engines[0]).put(
            [text("1", "first"), text("1", "second"), text("2", "other")], clock.now()
        )
        held = courier(HeldMarks(engines[0]), clock, first)
        held.batch = 1  # takes "first" only
        round_ = asyncio.create_task(held.deliver_due())
        for _ in range(500):
            if first.calls:
                break
            await asyncio.sleep(0.01)
        assert first.calls == [("send", "1", "first")]
        other = courier(SqlOutbox(engines[1]), clock, second)
        assert await other.deliver_due() == 1
        assert second.calls == [("send", "2", "other")]  # not "first" again, not "second"
        assert not round_.done()  # the round waits for its mark
        release.set()
        assert await round_ == 1
        assert await other.deliver_due() == 1
        assert second.calls[-1] == ("send", "1", "second")
        assert (await SqlOutbox(engines[1]).counts()).pending == 0
    finally:
        release.set()
        for e in engines:
            await e.dispose()


async def test_two_couriers_with_marks_behind_their_sends_send_each_once_in_chat_order(
    database_url: str,
) -> None:
    """Both couriers' marks lag behind their sends (a slow database), so each one's rounds
    meet the other's delivered but unmarked messages: every message goes out once, each chat
    in the order its messages were put."""
    clock = FakeClock()
    engines = [create_engine(database_url) for _ in range(2)]
    try:
        messages = [text(str(i % 40), f"m{i}") for i in range(240)]
        await SqlOutbox(engines[0]).put(messages, clock.now())
        sends: list[tuple[str, str, str]] = []  # both couriers' sends, as they happen
        senders = [RecordingSender(calls=sends), RecordingSender(calls=sends)]
        outboxes = [SlowMarks(e, slow=0.01) for e in engines]
        couriers = [courier(o, clock, s) for o, s in zip(outboxes, senders, strict=True)]
        for c in couriers:
            c.batch = 7

        async def drain(c: Courier) -> None:
            while await c.deliver_due():
                pass

        await asyncio.gather(*(drain(c) for c in couriers))
        assert sorted(t for _, _, t in sends) == sorted(m.text for m in messages)
        assert chats_in_order(sends, messages)
        assert all(o.marks for o in outboxes)  # both took part
        assert any(n > 1 for o in outboxes for n in o.marks)  # and marked several at once
        assert (await outboxes[0].counts()).sent == len(messages)
    finally:
        for e in engines:
            await e.dispose()


async def test_a_crash_between_delivery_and_mark_resends_only_what_was_not_marked(
    database_url: str,
) -> None:
    """The worker's database goes away after its first mark (a crash: the later marks never
    commit). Its delivered messages stay leased; when the lease runs out another worker sends
    every message that was not marked, each chat in order, and none that was: nothing lost,
    nothing marked sent twice."""
    clock = FakeClock()
    engines = [create_engine(database_url) for _ in range(2)]

    class DiesAfterOneMark(SlowMarks):
        async def sent_all(self, delivered: Sequence[Delivered]) -> None:
            if self.marks:
                raise ConnectionError("the worker died before its mark committed")
            await super().sent_all(delivered)

    try:
        messages = [text(str(i % 5), f"m{i}") for i in range(20)]
        await SqlOutbox(engines[0]).put(messages, clock.now())
        dying, taking_over = RecordingSender(), RecordingSender()
        with pytest.raises(ConnectionError):
            await courier(DiesAfterOneMark(engines[0], slow=0.05), clock, dying).deliver_due()
        marked = await sent_texts(engines[1])
        delivered = {t for _, _, t in dying.calls}
        assert marked and marked < delivered  # some delivered messages were not marked

        other = courier(SqlOutbox(engines[1]), clock, taking_over)
        assert await other.deliver_due() == 0  # all still leased to the dead worker
        clock.advance(seconds=21)  # its leases run out
        while await other.deliver_due():
            pass
        resent = [t for _, _, t in taking_over.calls]
        assert set(resent) == {m.text for m in messages} - marked  # nothing lost
        assert len(resent) == len(set(resent))
        assert chats_in_order(taking_over.calls, [m for m in messages if m.text in resent])
        counts = await SqlOutbox(engines[1]).counts()
        assert (counts.sent, counts.pending) == (20, 0)
    finally:
        for e in engines:
            await e.dispose()


async def test_a_cancelled_round_marks_what_the_platform_took(engine: AsyncEngine) -> None:
    """A courier cancelled while its marks are still on their way (a worker's shutdown, the
    platform slow to answer the next message) writes them before it ends: the next worker
    sends only what the platform never took."""
    clock, started, never = FakeClock(), asyncio.Event(), asyncio.Event()

    class HangsOnTheFifth(RecordingSender):
        async def send(self, message: Outgoing) -> str:
            if message.text == "m4":
                started.set()
                await never.wait()  # the platform does not answer
            return await super().send(message)

    messages = [text(str(i % 3), f"m{i}") for i in range(8)]
    outbox = SlowMarks(engine, slow=0.2)
    await outbox.put(messages, clock.now())
    hanging = HangsOnTheFifth()
    round_ = asyncio.create_task(courier(outbox, clock, hanging).deliver_due())
    await asyncio.wait_for(started.wait(), 10)
    round_.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_
    assert await sent_texts(engine) == {"m0", "m1", "m2", "m3"}

    clock.advance(seconds=21)  # the lease of what the round did not deliver runs out
    after = RecordingSender()
    while await courier(SqlOutbox(engine), clock, after).deliver_due():
        pass
    assert [t for _, _, t in after.calls] == ["m4", "m5", "m6", "m7"]
