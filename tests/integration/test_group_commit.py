"""Group commit: commands that arrive together share one unit of work, each in a savepoint.
One that fails is undone alone (its writes and its notices) and its caller gets the error;
the others commit together and are answered after that commit (SQLite and PostgreSQL)."""

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import sql
from commerce.adapters.unit_of_work import sql_units
from commerce.service_layer.group_commit import GroupCommit
from commerce.service_layer.results import DropEnded
from commerce.service_layer.unit_of_work import CollectingNotifier, current
from tests.fakes import FakeNotifier

KEEP = sql(
    "INSERT INTO app_setting (key, value, updated_at) VALUES (:key, 'x', CURRENT_TIMESTAMP)"
)
KEYS = sql("SELECT key FROM app_setting WHERE key LIKE 'group-%' ORDER BY key")


async def test_one_failing_command_is_undone_alone(engine: AsyncEngine) -> None:
    told = FakeNotifier()
    notifier = CollectingNotifier(told)
    committed: list[bool] = []

    async def handle(n: int) -> int:
        assert current() is not None  # inside the group's unit of work
        async with transaction(engine) as conn:
            await conn.execute(KEEP, {"key": f"group-{n}"})
        await notifier.notify(DropEnded(n))  # type: ignore[arg-type]
        if n == 2:
            raise ValueError("command 2 fails after writing")
        return n * 10

    group = GroupCommit(sql_units(engine), handle)

    async def submit(n: int) -> int:
        result, follow_ups = await group.submit(n)
        assert follow_ups == []
        async with connection(engine) as conn:  # answered after the commit: visible
            committed.append(f"group-{n}" in (await conn.execute(KEYS)).scalars().all())
        return int(result)

    try:
        outcomes = await asyncio.gather(*(submit(n) for n in range(5)), return_exceptions=True)
    finally:
        await group.close()
    assert outcomes[:2] == [0, 10] and outcomes[3:] == [30, 40]
    assert isinstance(outcomes[2], ValueError)
    assert group.batches == 1  # one transaction for the five
    assert committed == [True, True, True, True]
    async with connection(engine) as conn:
        keys = (await conn.execute(KEYS)).scalars().all()
    assert keys == ["group-0", "group-1", "group-3", "group-4"]
    assert [n.drop for n in told.notices] == [0, 1, 3, 4]  # type: ignore[attr-defined]


async def test_a_lone_command_that_fails_rolls_back(engine: AsyncEngine) -> None:
    async def handle(n: int) -> int:
        async with transaction(engine) as conn:
            await conn.execute(KEEP, {"key": f"group-{n}"})
        raise ValueError("alone")

    group = GroupCommit(sql_units(engine), handle)
    try:
        with pytest.raises(ValueError, match="alone"):
            await group.submit(7)
    finally:
        await group.close()
    async with connection(engine) as conn:
        assert (await conn.execute(KEYS)).scalars().all() == []


async def test_commands_still_queued_at_shutdown_are_answered(engine: AsyncEngine) -> None:
    """As the claim writer does: a caller whose command was queued when the group commit
    stopped hears so, instead of waiting for an answer that never comes."""
    started, release = asyncio.Event(), asyncio.Event()

    async def handle(n: int) -> int:
        started.set()
        await release.wait()
        return n

    group = GroupCommit(sql_units(engine), handle)
    first = asyncio.create_task(group.submit(1))
    await started.wait()  # the first is being handled; the next one waits in the queue
    queued = asyncio.create_task(group.submit(2))
    await asyncio.sleep(0)
    await group.close()
    with pytest.raises(RuntimeError, match="stopped"):
        await asyncio.wait_for(queued, 5)
    with pytest.raises(RuntimeError, match="stopped"):
        await first


async def test_a_failing_batch_path_is_undone_and_its_commands_go_one_by_one(
    engine: AsyncEngine,
) -> None:
    """The batch path of a group fails after writing (a deadlock with another worker on
    PostgreSQL): what it wrote is undone, and its commands are handled the usual way, in
    order, in the same unit, instead of every caller of the group getting the error."""

    async def handle(n: int) -> int:
        async with transaction(engine) as conn:
            await conn.execute(KEEP, {"key": f"group-{n}"})
        return n

    async def many(commands: list[int]) -> list[int]:
        async with transaction(engine) as conn:
            await conn.execute(KEEP, {"key": "group-batch"})
        raise RuntimeError("deadlock detected")

    group = GroupCommit(sql_units(engine), handle, handle_many=many)
    try:
        answers = await asyncio.gather(*(group.submit(n) for n in range(4)))
    finally:
        await group.close()
    assert [result for result, _ in answers] == [0, 1, 2, 3]
    async with connection(engine) as conn:
        keys = (await conn.execute(KEYS)).scalars().all()
    assert keys == ["group-0", "group-1", "group-2", "group-3"]  # no "group-batch"
