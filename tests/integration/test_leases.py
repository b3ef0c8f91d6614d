"""Singleton duties through leases, on SQLite and PostgreSQL: one holder at a time, taken
over when the holder stops renewing (a dead worker) or lets go (a graceful shutdown)."""

import asyncio
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.adapters.leases import SqlLeases, worker_id
from tests.fakes import FakeClock

TTL = timedelta(seconds=6)


async def test_one_holder_until_it_dies_or_lets_go(engine: AsyncEngine) -> None:
    clock = FakeClock()
    a = SqlLeases(engine, "host:1:aaaaaa", TTL)
    b = SqlLeases(engine, "host:2:bbbbbb", TTL)
    assert await a.hold("sweeper", clock.now())
    assert not await b.hold("sweeper", clock.now())
    clock.advance(seconds=5)
    assert await a.hold("sweeper", clock.now())  # renewed: good for six more seconds
    clock.advance(seconds=5)
    assert not await b.hold("sweeper", clock.now())
    clock.advance(seconds=2)  # a stopped renewing (killed): its lease ran out
    assert await b.hold("sweeper", clock.now())
    assert not await a.hold("sweeper", clock.now())
    [lease] = await a.leases()
    assert (lease.name, lease.holder, lease.taken_at) == ("sweeper", b.holder, clock.now())

    await b.release_all(clock.now())  # a graceful shutdown: no waiting for the lease to end
    assert await a.hold("sweeper", clock.now())


async def test_heartbeats_list_the_workers(engine: AsyncEngine) -> None:
    clock = FakeClock()
    me = SqlLeases(engine, worker_id())
    await me.heartbeat(clock.now())
    clock.advance(seconds=2)
    await me.heartbeat(clock.now())
    [worker] = await me.workers()
    assert worker.id == me.holder and worker.seen_at == clock.now()
    assert worker.seen_at - worker.started_at == timedelta(seconds=2)
    await me.release_all(clock.now())
    assert await me.workers() == []


async def test_racing_workers_never_share_a_duty(database_url: str) -> None:
    clock = FakeClock()
    engines = [create_engine(database_url) for _ in range(3)]
    try:
        workers = [SqlLeases(e, f"host:{i}:x", TTL) for i, e in enumerate(engines)]
        for _ in range(20):
            clock.advance(seconds=7)  # every round the lease is free for the taking
            won = await asyncio.gather(*(w.hold("sweeper", clock.now()) for w in workers))
            assert sum(won) == 1
    finally:
        for e in engines:
            await e.dispose()
