"""Puts into the outbox that come together (a flash drop's private answers) are stored
together, on SQLite and PostgreSQL: one transaction for many callers, in the order they came,
each answered once its messages are committed; a put that fails fails alone."""

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import ACTIVE, Active
from commerce.adapters.outbox import SqlOutbox
from commerce.adapters.sql import utc
from commerce.service_layer.outbox import Outgoing
from tests.fakes import FakeClock
from tests.integration.test_outbox import text


def commits(engine: AsyncEngine) -> list[int]:
    """A list that grows by one at each commit on the engine."""
    seen: list[int] = []

    @event.listens_for(engine.sync_engine, "commit")
    def _commit(_conn: Any) -> None:
        seen.append(1)

    return seen


async def stored(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(sql_text("SELECT text FROM outbox ORDER BY id"))
        return [row[0] for row in rows]


async def test_puts_that_come_together_are_stored_together_in_order(engine: AsyncEngine) -> None:
    """60 answers put at once take a few transactions, not 60 (each waited its turn for the
    database); each caller returns with its messages committed, in the order they came."""
    clock, outbox = FakeClock(), SqlOutbox(engine)
    seen = commits(engine)

    async def put(i: int) -> list[str]:
        await outbox.put([text(str(i), f"m{i}"), text(str(i), f"n{i}")], clock.now())
        return await stored(engine)  # already committed when put returns

    statements: list[str] = []

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _statement(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "outbox" in statement or "chat_pace" in statement:
            statements.append(statement)

    after = await asyncio.gather(*(put(i) for i in range(60)))
    assert all(f"n{i}" in rows for i, rows in enumerate(after))
    assert len(seen) <= 5, len(seen)
    # The chats' paces and the rows, a statement for all of them each (120 rows, 60 chats),
    # besides the callers' own reads.
    assert len(statements) - 60 <= 2 * len(seen), statements
    assert await stored(engine) == [t for i in range(60) for t in (f"m{i}", f"n{i}")]


async def test_a_put_that_fails_among_others_fails_alone(engine: AsyncEngine) -> None:
    clock, outbox = FakeClock(), SqlOutbox(engine)
    broken = Outgoing("telegram", "x", None)  # type: ignore[arg-type]  # text is NOT NULL
    puts = [outbox.put([text(str(i), f"m{i}")], clock.now()) for i in range(5)]
    puts.insert(2, outbox.put([broken], clock.now()))
    outcomes = await asyncio.gather(*puts, return_exceptions=True)
    assert [isinstance(o, Exception) for o in outcomes] == [False] * 2 + [True] + [False] * 3
    assert await stored(engine) == [f"m{i}" for i in range(5)]


async def test_a_put_inside_a_unit_of_work_is_in_its_transaction(engine: AsyncEngine) -> None:
    """Not stored with others: in the unit's own transaction (on SQLite its one connection),
    undone with it."""
    clock, outbox = FakeClock(), SqlOutbox(engine)
    conn = await engine.connect()
    await conn.begin()
    unit = ACTIVE.set(Active(engine, conn, asyncio.current_task()))
    try:
        async with asyncio.timeout(10):  # (in this task: wait_for would start another)
            await outbox.put([text("1", "undone")], clock.now())
        found = await conn.execute(sql_text("SELECT count(*) FROM outbox"))
        assert found.scalar_one() == 1  # seen inside the unit
    finally:
        ACTIVE.reset(unit)
        await conn.rollback()
        await conn.close()
    await outbox.put([text("1", "kept")], clock.now())
    assert await stored(engine) == ["kept"]


async def test_answers_stored_together_wait_for_their_chats_pace(engine: AsyncEngine) -> None:
    """A chat held back (a 429's retry_after, or the pause after a message) holds back the
    answers put for it together with others; the other chats' answers are due at once."""
    clock, outbox = FakeClock(), SqlOutbox(engine)
    await outbox.put([text("1", "a")], clock.now())
    (item,) = await outbox.take("telegram", clock.now(), 10)
    await outbox.retry(item, clock.now() + timedelta(seconds=5), "429", pace=True)
    await asyncio.gather(*(outbox.put([text(c, f"to {c}")], clock.now()) for c in "123"))
    async with engine.connect() as conn:
        rows = await conn.execute(
            sql_text("SELECT text, not_before FROM outbox WHERE text LIKE 'to %' ORDER BY id")
        )
        due = {t: utc(at) - clock.now() for t, at in rows}
    assert due == {"to 1": timedelta(seconds=5), "to 2": timedelta(0), "to 3": timedelta(0)}


async def test_closing_stores_what_was_put_before_the_shop_stops(engine: AsyncEngine) -> None:
    """A shop that stops while puts are being stored waits for them (the callers were cut
    off, the answers are stored all the same): left running, the storing task would be
    destroyed with the event loop in the middle of its transaction, its connection never
    given back (an unclosed aiosqlite connection, found by a later test)."""
    outbox, now = SqlOutbox(engine), FakeClock().now()
    callers = [
        asyncio.create_task(outbox.put([text("chat", f"answer {n}")], now)) for n in range(30)
    ]
    await asyncio.sleep(0)  # the puts are queued and their storing has begun
    for caller in callers:
        caller.cancel()  # the adapters' tasks end first at a shutdown
    await outbox.close()
    assert outbox.storing is not None and outbox.storing.done()
    assert await stored(engine) == [f"answer {n}" for n in range(30)]
