"""Transactions end cleanly whatever happens to the task that runs them.

A task cancelled in the middle of a transaction (a shutdown, a client that went away, a
timeout) must roll it back and give its connection back: on SQLite a transaction left open
keeps the write lock, and every other writer fails after busy_timeout (30 s) with 'database
is locked'; on PostgreSQL it keeps its row locks. The cancellation is repeated while the
rollback runs, as a task group or a runner that gives up twice does.
"""

import asyncio
import time

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, create_engine, transaction
from commerce.adapters.sql import sql

SEED = sql(
    "INSERT INTO app_setting (key, value, updated_at) VALUES ('probe', '0', CURRENT_TIMESTAMP)"
)
BUMP = sql("UPDATE app_setting SET value = :value WHERE key = 'probe'")
VALUE = sql("SELECT value FROM app_setting WHERE key = 'probe'")


async def _seed(engine: AsyncEngine) -> None:
    async with transaction(engine) as conn:
        await conn.execute(SEED)


async def _stuck_writer(engine: AsyncEngine, inside: asyncio.Event) -> None:
    async with transaction(engine) as conn:
        await conn.execute(BUMP, {"value": "stuck"})
        inside.set()
        await asyncio.Event().wait()  # never: cancelled in here, holding the write lock


async def _cancel_hard(task: asyncio.Task[None]) -> None:
    """Cancels the task, and again at every step of the loop until it has ended."""
    while not task.done():
        task.cancel()
        await asyncio.sleep(0)
    assert task.cancelled()


async def _write_within(engine: AsyncEngine, value: str, seconds: float) -> float:
    started = time.monotonic()
    async with asyncio.timeout(seconds):
        async with transaction(engine) as conn:
            await conn.execute(BUMP, {"value": value})
    return time.monotonic() - started


async def test_a_cancelled_transaction_leaves_no_lock(database_url: str) -> None:
    engine, other = create_engine(database_url), create_engine(database_url)
    try:
        await _seed(engine)
        inside = asyncio.Event()
        stuck = asyncio.create_task(_stuck_writer(engine, inside))
        await inside.wait()
        await _cancel_hard(stuck)
        # Another process's writer (its own engine) and this one's next writer both proceed
        # at once: nothing holds the lock or the pool's connection.
        assert await _write_within(other, "other", 3) < 2
        assert await _write_within(engine, "same", 3) < 2
        async with connection(other) as conn:
            assert (await conn.execute(VALUE)).scalar_one() == "same"
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
        await other.dispose()


async def test_cancelled_while_its_statement_runs_leaves_no_lock(database_url: str) -> None:
    """Cancelled while the database is still running its statement (a shutdown during a slow
    query): the connection was thrown away as broken, and on SQLite its transaction kept the
    write lock for good ('database is locked' 30 s later for every writer)."""
    engine, other = create_engine(database_url), create_engine(database_url)
    slow = sql(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000)"
        " SELECT count(*) FROM n"
        if engine.dialect.name == "sqlite"
        else "SELECT pg_sleep(0.5)"
    )
    try:
        await _seed(engine)

        async def write_then_wait() -> None:
            async with transaction(engine) as conn:
                await conn.execute(BUMP, {"value": "cancelled"})
                await conn.execute(slow)

        task = asyncio.create_task(write_then_wait())
        await asyncio.sleep(0.2)  # inside the slow statement
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()
        assert await _write_within(other, "other", 5) < 4
        assert await _write_within(engine, "same", 5) < 4
        async with connection(other) as conn:
            assert (await conn.execute(VALUE)).scalar_one() == "same"
    finally:
        await engine.dispose()
        await other.dispose()


async def test_cancelled_at_every_step_leaves_no_lock(database_url: str) -> None:
    """Cancelled after 0, 1, 2, ... turns of the loop: wherever the cancellation lands
    (connecting, BEGIN, the statement, the commit), the next writer is not kept waiting."""
    engine = create_engine(database_url)
    try:
        await _seed(engine)
        for turns in range(12):

            async def write(n: int = turns) -> None:
                async with transaction(engine) as conn:
                    await conn.execute(BUMP, {"value": str(n)})

            task = asyncio.create_task(write())
            for _ in range(turns):
                await asyncio.sleep(0)
            if not task.done():
                await _cancel_hard(task)
            assert await _write_within(engine, f"after {turns}", 3) < 2
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_failed_block_rolls_back(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await _seed(engine)
        try:
            async with transaction(engine) as conn:
                await conn.execute(BUMP, {"value": "lost"})
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        async with connection(engine) as conn:
            assert (await conn.execute(VALUE)).scalar_one() == "0"
    finally:
        await engine.dispose()
