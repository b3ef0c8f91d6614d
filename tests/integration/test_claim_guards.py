"""The database guards behind a batch: a wrong decision in Python cannot oversell, and a
batch that trips a guard is retried claim by claim."""

import asyncio
import sqlite3
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters import claim_postgres, claim_sqlite
from commerce.adapters.claim_batch import DropState, GuardFailed, Links
from commerce.adapters.claim_writer import ClaimWriter
from commerce.adapters.sql import SELECT_DROP
from commerce.domain.commands import Claim
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import ClaimOutcome, ClaimResult
from tests.integration.helpers import add_product, start_drop


async def write(engine: AsyncEngine, state: DropState) -> None:
    """The batch's writes for a drop state, as the claim writer of this database runs them
    (plain sqlite3, or asyncpg), in a transaction that a failed guard rolls back."""
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        assert path is not None
        db = sqlite3.connect(path, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                claim_sqlite._write(db, [state], [], claim_sqlite.Stamps())
            finally:
                db.execute("ROLLBACK")
        finally:
            db.close()
        return
    async with engine.connect() as conn:
        pooled: Any = await conn.get_raw_connection()
        driver = pooled.driver_connection
        async with driver.transaction():
            await claim_postgres._write(driver, [state], [])


async def test_the_drop_guard_refuses_more_units_than_are_left(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    await add_product(bus)
    drop = await start_drop(bus, quantity=2)
    async with engine.connect() as conn:
        row = (await conn.execute(SELECT_DROP, {"id": drop.id})).one()
    # A state that believes in more units than the database has (a bug, or a stale read).
    state = DropState(row, (), {}, {}, {}, remaining=5, taken=3)
    with pytest.raises(GuardFailed):
        await write(engine, state)
    assert (await bus.deps.store.drops())[0].remaining == 2  # nothing was written


async def test_the_variant_guard(bus: MessageBus, engine: AsyncEngine) -> None:
    await add_product(bus, stock=1, variants=("S",))
    drop = await start_drop(bus, quantity=1)
    async with engine.connect() as conn:
        row = (await conn.execute(SELECT_DROP, {"id": drop.id})).one()
        variant_id = (await conn.execute(text("SELECT id FROM variant"))).scalar_one()
    state = DropState(row, (), {}, {}, {}, remaining=1, taken=0, variant_taken={variant_id: 2})
    with pytest.raises(GuardFailed):
        await write(engine, state)
    assert (await bus.deps.store.product("TEE")).stock == 1


class FlakyWriter(ClaimWriter):
    """Trips a guard on the first batch, as a stale read would."""

    tripped = False

    async def _decide(
        self, batch: list[tuple[Claim, datetime]], links: Links | None = None
    ) -> list[ClaimResult]:
        if not self.tripped:
            self.tripped = True
            raise GuardFailed("simulated")
        return await super()._decide(batch, links)


async def test_a_tripped_batch_is_retried_one_by_one(bus: MessageBus, engine: AsyncEngine) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=2)
    writer = FlakyWriter(engine)
    committed: list[list[ClaimResult]] = []
    writer.after_batch.append(committed.append)
    now = datetime.now(UTC)
    claims = [Claim(f"web:demo:{i}", "web:demo", f"web:b{i}") for i in range(4)]
    results = await asyncio.gather(*(writer.submit(c, now) for c in claims))
    await writer.close()
    assert writer.tripped
    assert [r.outcome for r in results] == [ClaimOutcome.WON] * 2 + [ClaimOutcome.WAITLISTED] * 2
    assert writer.batches == 4  # one transaction per claim after the failed batch
    # The hook after each commit hears every claim once, the failed batch's never.
    assert [r for batch in committed for r in batch] == results


async def test_the_hook_after_a_batch_hears_its_answers_and_cannot_break_it(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=5)
    writer = ClaimWriter(engine)
    committed: list[list[ClaimResult]] = []

    def broken(_: list[ClaimResult]) -> None:
        raise RuntimeError("a hook that fails")

    writer.after_batch += [broken, committed.append]
    now = datetime.now(UTC)
    claims = [Claim(f"web:demo:{i}", "web:demo", f"web:b{i}") for i in range(6)]
    results = await asyncio.gather(*(writer.submit(c, now) for c in claims))
    await writer.close()
    assert len(committed) == writer.batches and [r for b in committed for r in b] == results
    assert {r.drop.code for r in results if r.drop} == {"TEE"}  # the drops each batch touched


async def test_claims_queued_at_shutdown_are_answered(engine: AsyncEngine) -> None:
    writer = ClaimWriter(engine)
    future: asyncio.Future[ClaimResult] = asyncio.get_running_loop().create_future()
    claim = Claim("web:x:1", "web:x", "web:a")
    await writer._queue.put((claim, datetime.now(UTC), None, future))
    await writer.close()
    with pytest.raises(RuntimeError, match="stopped"):
        await future


# SQLite runs a batch with plain sqlite3 (claim_sqlite.py): the whole batch, new customers
# included, is one transaction.


def sqlite_file(engine: AsyncEngine) -> str:
    if engine.dialect.name != "sqlite":
        pytest.skip("the plain-sqlite3 batch runs on SQLite only")
    path = engine.url.database
    assert path is not None
    return path


async def test_a_failed_sqlite_batch_leaves_nothing_behind(
    bus: MessageBus, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sqlite_file(engine)
    await add_product(bus)
    await start_drop(bus, quantity=2)
    # The drop's guard finds the drop changed: after the batch created its customers.
    never = "UPDATE drops SET remaining = remaining WHERE 0 AND ? AND ? AND ? AND ? RETURNING 1"
    monkeypatch.setattr(claim_sqlite, "TAKE_BATCH", never)
    now = datetime.now(UTC)
    batch = [(Claim(f"web:demo:{i}", "web:demo", f"web:b{i}"), now) for i in range(3)]
    db = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(GuardFailed):
            claim_sqlite.decide_sqlite(db, batch)
        counts = [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES]
        assert not db.in_transaction
    finally:
        db.close()
    assert counts == [0, 0, 0, 0, 0]


TABLES = ("customer", "identity", "claim", "orders", "drop_buyer")


async def test_a_sqlite_batch_is_one_transaction_and_answers_repeats(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    sqlite_file(engine)
    await add_product(bus)
    await start_drop(bus, quantity=1)
    writer = ClaimWriter(engine)
    now = datetime.now(UTC)
    claims = [Claim(f"web:demo:{i}", "web:demo", f"web:b{i}") for i in range(3)]
    first = await asyncio.gather(*(writer.submit(c, now) for c in claims + claims[:1]))
    again = await writer.submit(claims[1], now)  # redelivered in a later batch
    await writer.close()
    assert [r.outcome for r in first] == [
        ClaimOutcome.WON,
        ClaimOutcome.WAITLISTED,
        ClaimOutcome.WAITLISTED,
        ClaimOutcome.WON,
    ]
    assert first[3].duplicate and first[3].order == first[0].order
    assert again.duplicate and (again.outcome, again.position) == (ClaimOutcome.WAITLISTED, 1)
    assert writer.batches == 2
    assert first[0].order is not None and len(first[0].order.ref) == 8
    assert first[0].drop is not None and first[0].drop.remaining == 0
