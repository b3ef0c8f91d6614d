"""One command, one transaction: the state change and the chat messages it causes (outbox
rows) commit together, the couriers are woken after the commit, and a change that rolls back
sends nothing. A crash between the commit and the delivery loses nothing: the message is sent
after the restart, once."""

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.outbox import SqlOutbox
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.drops import DropStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Courier
from tests.conftest import test_settings
from tests.fakes import FakeClock
from tests.integration.outbox_notices import OutboxNotifier, ready_drop
from tests.integration.test_outbox import RecordingSender

ROOT = Path(__file__).resolve().parents[2]


def outbox_bus(database_url: str, engine: AsyncEngine) -> tuple[MessageBus, OutboxNotifier]:
    clock = FakeClock()
    notifier = OutboxNotifier(SqlOutbox(engine), clock)
    settings = test_settings(database_url)
    return bootstrap(settings, engine, clock=clock, notifier=notifier), notifier


def count_transactions(engine: AsyncEngine) -> list[int]:
    """Counts every transaction begun on the engine (reads included)."""
    begun = [0]

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(_conn: Any) -> None:
        begun[0] += 1

    return begun


async def _status(bus: MessageBus) -> str:
    [drop] = [d for d in await bus.deps.store.drops() if d.code == "TEE"]
    return drop.status


async def _messages(engine: AsyncEngine) -> list[str]:
    sender = RecordingSender()
    await Courier(SqlOutbox(engine), sender, FakeClock(), per_second=10_000).deliver_due()
    return [body for _, _, body in sender.calls]


async def test_a_command_its_notices_and_their_messages_are_one_transaction(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, notifier = outbox_bus(database_url, engine)
    await ready_drop(bus.handle)
    begun = count_transactions(engine)
    await bus.handle(c.EndDrop("TEE"))
    assert begun[0] == 1  # the drop ended, its notice rendered and put in the outbox
    assert notifier.wakes[-1] is False  # the courier was woken once nothing was open
    assert await _status(bus) == DropStatus.ENDED
    assert await _messages(engine) == ["DropStarted", "DropEnded"]


async def test_a_change_that_rolls_back_sends_nothing(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, notifier = outbox_bus(database_url, engine)
    await ready_drop(bus.handle)
    await _messages(engine)  # the start's announcement, delivered
    wakes = len(notifier.wakes)
    assert bus.deps.units is not None
    with pytest.raises(RuntimeError, match="after the change"):
        async with bus.deps.units() as unit:
            await bus.handle(c.EndDrop("TEE"))  # inside the unit: part of it
            raise RuntimeError("after the change")
        await unit.commit()  # pragma: no cover (never reached)
    assert await _status(bus) == DropStatus.LIVE
    assert await _messages(engine) == []
    assert len(notifier.wakes) == wakes


async def test_a_notice_that_cannot_be_written_undoes_the_change(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, notifier = outbox_bus(database_url, engine)
    await ready_drop(bus.handle)
    notifier.fail = True
    with pytest.raises(RuntimeError, match="notifier failed"):
        await bus.handle(c.EndDrop("TEE"))
    assert await _status(bus) == DropStatus.LIVE


async def test_a_cancelled_command_leaves_the_next_one_free(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, _ = outbox_bus(database_url, engine)
    await ready_drop(bus.handle)
    assert bus.deps.units is not None
    inside = asyncio.Event()

    async def stuck() -> None:
        async with bus.deps.units() as unit:
            await bus.handle(c.EndDrop("TEE"))
            inside.set()
            await asyncio.Event().wait()
            await unit.commit()  # pragma: no cover

    task = asyncio.create_task(stuck())
    await inside.wait()
    while not task.done():
        task.cancel()
        await asyncio.sleep(0)
    async with asyncio.timeout(2):
        await bus.handle(c.SetStock("TEE", 7))
    assert await _status(bus) == DropStatus.LIVE


async def test_a_claim_inside_a_unit_is_refused_not_deadlocked(
    database_url: str, engine: AsyncEngine
) -> None:
    """The claim writer is another task that writes: a unit waiting for it would wait for
    itself on SQLite."""
    bus, _ = outbox_bus(database_url, engine)
    await ready_drop(bus.handle)
    assert bus.deps.units is not None
    try:
        async with asyncio.timeout(5):
            with pytest.raises(RuntimeError, match="claim writer"):
                async with bus.deps.units():
                    await bus.handle(
                        c.Claim("telegram:1:9", "telegram:1", "telegram:7", code="TEE")
                    )
    finally:
        await bus.deps.store.close()


async def test_a_crash_after_the_commit_delivers_the_message_after_restart_once(
    database_url: str, engine: AsyncEngine
) -> None:
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tests.integration.outbox_notices", database_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -9, done.stderr  # SIGKILL, right after the commit
    # The restarted process: the change is there and so is its message, sent once.
    bus, _ = outbox_bus(database_url, engine)
    assert await _status(bus) == DropStatus.ENDED
    assert await _messages(engine) == ["DropStarted", "DropEnded"]
    assert await _messages(engine) == []
