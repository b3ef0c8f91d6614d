"""The database guards behind a batch: a wrong decision in Python cannot oversell, and a
batch that trips a guard is retried claim by claim."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.claim_batch import ClaimWriter, DropState, GuardFailed, _write
from commerce.adapters.sql import SELECT_DROP
from commerce.domain.commands import Claim
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import ClaimOutcome, ClaimResult
from tests.integration.helpers import add_product, start_drop


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
        async with engine.begin() as conn:
            await _write(conn, [state], [])
    assert (await bus.deps.store.drops())[0].remaining == 2  # nothing was written


async def test_the_variant_guard(bus: MessageBus, engine: AsyncEngine) -> None:
    await add_product(bus, stock=1, variants=("S",))
    drop = await start_drop(bus, quantity=1)
    async with engine.connect() as conn:
        row = (await conn.execute(SELECT_DROP, {"id": drop.id})).one()
        variant_id = (await conn.execute(text("SELECT id FROM variant"))).scalar_one()
    state = DropState(row, (), {}, {}, {}, remaining=1, taken=0, variant_taken={variant_id: 2})
    with pytest.raises(GuardFailed):
        async with engine.begin() as conn:
            await _write(conn, [state], [])
    assert (await bus.deps.store.product("TEE")).stock == 1


class FlakyWriter(ClaimWriter):
    """Trips a guard on the first batch, as a stale read would."""

    tripped = False

    async def _decide(self, batch: list[tuple[Claim, datetime]]) -> list[ClaimResult]:
        if not self.tripped:
            self.tripped = True
            raise GuardFailed("simulated")
        return await super()._decide(batch)


async def test_a_tripped_batch_is_retried_one_by_one(bus: MessageBus, engine: AsyncEngine) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=2)
    writer = FlakyWriter(engine)
    now = datetime.now(UTC)
    claims = [Claim(f"web:demo:{i}", "web:demo", f"web:b{i}") for i in range(4)]
    results = await asyncio.gather(*(writer.submit(c, now) for c in claims))
    await writer.close()
    assert writer.tripped
    assert [r.outcome for r in results] == [ClaimOutcome.WON] * 2 + [ClaimOutcome.WAITLISTED] * 2
    assert writer.batches == 4  # one transaction per claim after the failed batch


async def test_claims_queued_at_shutdown_are_answered(engine: AsyncEngine) -> None:
    writer = ClaimWriter(engine)
    future: asyncio.Future[ClaimResult] = asyncio.get_running_loop().create_future()
    await writer._queue.put((Claim("web:x:1", "web:x", "web:a"), datetime.now(UTC), future))
    await writer.close()
    with pytest.raises(RuntimeError, match="stopped"):
        await future
