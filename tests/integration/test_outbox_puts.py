"""Puts into the outbox that come together (a flash drop's private answers) are stored
together, on SQLite and PostgreSQL: one transaction for many callers, in the order they came,
each answered once its messages are committed; a put that fails fails alone."""

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import ACTIVE, Active
from commerce.adapters.outbox import SqlOutbox
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

    after = await asyncio.gather(*(put(i) for i in range(60)))
    assert all(f"n{i}" in rows for i, rows in enumerate(after))
    assert len(seen) <= 5, len(seen)
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
