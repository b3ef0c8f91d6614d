"""The sweeper's pass (ExpireHolds) in units of work: the holds it gives back, the drops it
ends and what their buyers are told commit together or not at all; the pay links a failure
kept back go out each with its message (SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.outbox import SqlOutbox
from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Courier
from commerce.service_layer.results import ClaimResult
from tests.fakes import FakeClock
from tests.integration.outbox_notices import ready_drop
from tests.integration.test_outbox import RecordingSender
from tests.integration.test_unit_of_work import outbox_bus


async def messages(bus: MessageBus, engine: AsyncEngine) -> list[str]:
    """What the outbox sends now (each message once)."""
    sender = RecordingSender()
    clock = bus.deps.clock
    assert isinstance(clock, FakeClock)
    await Courier(SqlOutbox(engine), sender, clock, per_second=10_000).deliver_due()
    return [body for _, _, body in sender.calls]


async def order_status(engine: AsyncEngine, ref: str) -> str:
    async with engine.connect() as conn:
        query = text("SELECT status FROM orders WHERE ref = :ref")
        return str((await conn.execute(query, {"ref": ref})).scalar_one())


async def claim(bus: MessageBus, n: int) -> str:
    won: ClaimResult = await bus.handle(c.Claim(f"telegram:1:{n}", "telegram:1", f"telegram:{n}"))
    assert won.order is not None
    return won.order.ref


async def test_an_expired_hold_and_its_message_commit_together(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, notifier = outbox_bus(database_url, engine)
    try:
        await ready_drop(bus.handle)
        ref = await claim(bus, 5)
        await messages(bus, engine)  # the drop's announcement, delivered
        clock = bus.deps.clock
        assert isinstance(clock, FakeClock)
        clock.advance(minutes=11)  # past the 10-minute hold

        notifier.fail = True  # the message cannot be written: the expiry is undone too
        with pytest.raises(RuntimeError, match="notifier failed"):
            await bus.handle(c.ExpireHolds())
        assert await order_status(engine, ref) == OrderStatus.RESERVED
        assert await messages(bus, engine) == []

        notifier.fail = False
        [release] = await bus.handle(c.ExpireHolds())
        assert release.order.ref == ref
        assert await order_status(engine, ref) == OrderStatus.EXPIRED
        assert await messages(bus, engine) == ["HoldExpired"]
    finally:
        await bus.close()


async def test_an_overdue_drop_ends_with_its_message_or_not_at_all(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, notifier = outbox_bus(database_url, engine)
    try:
        await ready_drop(bus.handle)
        await messages(bus, engine)
        async with engine.begin() as conn:  # the drop was started for ten minutes
            await conn.execute(text("UPDATE drops SET ends_at = starts_at"))
        clock = bus.deps.clock
        assert isinstance(clock, FakeClock)
        clock.advance(minutes=1)

        notifier.fail = True
        with pytest.raises(RuntimeError, match="notifier failed"):
            await bus.handle(c.ExpireHolds())
        async with engine.connect() as conn:
            status = (await conn.execute(text("SELECT status FROM drops"))).scalar_one()
        assert status == "live"
        assert await messages(bus, engine) == []

        notifier.fail = False
        await bus.handle(c.ExpireHolds())
        async with engine.connect() as conn:
            status = (await conn.execute(text("SELECT status FROM drops"))).scalar_one()
        assert status == "ended"
        assert await messages(bus, engine) == ["DropEnded"]
    finally:
        await bus.close()
