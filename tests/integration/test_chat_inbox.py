"""The chat inbox on both databases: stored once, each chat in order and one update at a time
across workers, a dead worker's update taken again, a failing one retried then given up."""

import asyncio
import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.adapters.leases import SqlLeases
from commerce.service_layer.inbox import ATTEMPTS, InboxItem, InboxRunner
from tests.fakes import FakeClock
from tests.telegram.conftest import until

CHATS, PER_CHAT = 4, 25


def rows(chat: str, first: int, count: int) -> list[tuple[str, str, int, str]]:
    return [(f"u{n}", chat, n, f'{{"n": {n}}}') for n in range(first, first + count)]


async def test_an_update_is_stored_once(engine: AsyncEngine, clock: FakeClock) -> None:
    inbox = SqlChatInbox(engine, "w1")
    assert await inbox.store("telegram", rows("c", 1, 3), clock.now()) == 3
    assert await inbox.store("telegram", rows("c", 2, 3), clock.now()) == 1  # u2, u3 again
    state = await inbox.state("telegram")
    assert state.pending == 4 and state.oldest == clock.now()


async def test_two_workers_take_each_chat_in_order_one_at_a_time(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    for worker in ("w1", "w2"):  # both alive
        await SqlLeases(engine, f"{worker}:1:x").heartbeat(clock.now())
    inboxes = [SqlChatInbox(engine, f"{w}:1:x") for w in ("w1", "w2")]
    # The chats' updates interleaved, numbered as the platform numbers them, in batches.
    updates = [(f"u{n}", f"chat{n % CHATS}", n, "{}") for n in range(1, CHATS * PER_CHAT + 1)]
    seen: dict[str, list[int]] = defaultdict(list)
    busy: set[str] = set()
    overlaps: list[str] = []

    async def process(item: InboxItem) -> None:
        if item.chat in busy:
            overlaps.append(item.chat)
        busy.add(item.chat)
        await asyncio.sleep(random.random() / 500)  # processing takes a moment
        seen[item.chat].append(int(item.update_id[1:]))
        busy.discard(item.chat)

    runners = [InboxRunner(i, "telegram", process, clock, chats=3, poll=0.05) for i in inboxes]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        for start in range(0, len(updates), 10):
            await inboxes[start // 10 % 2].store(
                "telegram", updates[start : start + 10], clock.now()
            )
            for runner in runners:
                runner.wake()
        total = CHATS * PER_CHAT
        await until(lambda: sum(r.processed for r in runners) >= total, within=30)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert not overlaps
    for chat, numbers in seen.items():  # each chat in its numbering, every update once
        assert numbers == sorted(set(numbers)) and len(numbers) == PER_CHAT, chat
    assert all(r.processed > 0 for r in runners)  # both workers took part
    assert (await inboxes[0].state("telegram")).pending == 0


async def test_in_order_within_a_chat_even_when_stored_in_one_batch(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    inbox = SqlChatInbox(engine, "w1:1:x")
    await inbox.store("telegram", rows("c", 1, 5), clock.now())
    order: list[str] = []

    async def process(item: InboxItem) -> None:
        order.append(item.update_id)

    runner = InboxRunner(inbox, "telegram", process, clock, poll=0.05)
    task = asyncio.create_task(runner.run())
    try:
        await until(lambda: runner.processed == 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert order == ["u1", "u2", "u3", "u4", "u5"]


async def test_a_dead_workers_update_is_taken_again_and_its_chat_waits(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    await SqlLeases(engine, "dead:1:x").heartbeat(clock.now())
    dead, alive = SqlChatInbox(engine, "dead:1:x"), SqlChatInbox(engine, "alive:2:x")
    await alive.store("telegram", rows("c", 1, 2), clock.now())
    first = await dead.heads("telegram", clock.now(), 10)
    assert [i.update_id for i in first] == ["u1"]
    # While the taker lives, nobody else gets u1, nor u2 (its chat waits for u1).
    assert await alive.heads("telegram", clock.now(), 10) == []
    clock.advance(seconds=7)  # no heartbeat for longer than a worker lives without one
    again = await alive.heads("telegram", clock.now(), 10)
    assert [(i.update_id, i.attempt) for i in again] == [("u1", 2)]
    await alive.done(again[0])
    nxt = await alive.next("telegram", "c", clock.now())
    assert nxt is not None and nxt.update_id == "u2"


async def test_a_failing_update_is_retried_then_given_up(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    inbox = SqlChatInbox(engine, "w1:1:x")
    await inbox.store("telegram", rows("c", 1, 2), clock.now())
    order: list[str] = []

    async def process(item: InboxItem) -> None:
        order.append(item.update_id)
        if item.update_id == "u1":
            raise RuntimeError("the database went away")

    runner = InboxRunner(inbox, "telegram", process, clock, poll=0.02)
    task = asyncio.create_task(runner.run())
    try:
        for attempt in range(1, ATTEMPTS):
            await until(lambda a=attempt: order.count("u1") == a)  # type: ignore[misc]
            assert "u2" not in order  # its chat waits for u1
            clock.advance(seconds=2**attempt)  # past the retry's backoff
            runner.wake()
        await until(lambda: runner.processed == ATTEMPTS + 1)  # u2 done, not just begun
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert order == ["u1"] * ATTEMPTS + ["u2"]
    assert (await inbox.state("telegram")).pending == 0
    assert await inbox.forget(clock.now() + timedelta(days=3)) == 2


async def test_claims_between_two_commands_share_a_turn_and_commands_wait(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    inbox = SqlChatInbox(engine, "w1:1:x")
    kinds = ["drop", "buy", "buy", "buy", "end", "buy"]
    stored = [(f"u{n}", "c", n, kind) for n, kind in enumerate(kinds, 1)]
    await inbox.store("telegram", stored, clock.now())
    events: list[str] = []

    async def process(item: InboxItem) -> None:
        events.append(f"start {item.update_id}")
        await asyncio.sleep(0.02)
        events.append(f"end {item.update_id}")

    def joins(item: InboxItem) -> bool:
        return item.payload == "buy"

    runner = InboxRunner(inbox, "telegram", process, clock, joins=joins, poll=0.05)
    task = asyncio.create_task(runner.run())
    try:
        await until(lambda: runner.processed == 6)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert events[:2] == ["start u1", "end u1"]  # the /drop alone, first
    assert events[2:5] == ["start u2", "start u3", "start u4"]  # the claims together, in order
    assert sorted(events[5:8]) == ["end u2", "end u3", "end u4"]
    assert events[8:] == ["start u5", "end u5", "start u6", "end u6"]  # /end waits for them


async def test_a_chat_keeps_one_run_while_its_updates_keep_coming(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    """The chat's next update is taken as its turn is marked done, in one transaction: a look
    for new chats in between (woken by anything) would start a second run of the same chat,
    and the two runs' bookkeeping failed with a KeyError (seen in CI as replies out of order)."""
    inbox = SqlChatInbox(engine, "w1")
    await inbox.store("telegram", rows("c", 1, 30), clock.now())
    runs: list[asyncio.Task[None] | None] = []
    seen: list[int] = []
    runner: InboxRunner

    async def process(item: InboxItem) -> None:
        runs.append(runner.running.get(item.chat))  # the chat's run
        seen.append(int(item.update_id[1:]))
        runner.wake()  # other chats' updates arriving: the runner looks for heads
        await asyncio.sleep(0.002)

    runner = InboxRunner(inbox, "telegram", process, clock, poll=0.01)
    task = asyncio.create_task(runner.run())
    try:
        await until(lambda: runner.processed == 30, what="30 updates")
    finally:
        await runner.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert seen == list(range(1, 31))
    assert len(set(map(id, runs))) == 1, "the chat was run twice"
    assert runner.running == {}


async def test_a_turn_whose_end_fails_is_let_go_and_its_chat_goes_on(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    """A turn's rows are this worker's until the turn ends; when its end fails (the database
    went away a moment), they are let go, or the worker, alive, held the chat for good."""

    class EndFailsOnce(SqlChatInbox):
        failed = False

        async def finish(self, *args: Any) -> InboxItem | None:
            if not self.failed:
                self.failed = True
                raise RuntimeError("the connection was lost")
            return await super().finish(*args)

    inbox = EndFailsOnce(engine, "w1:1:x")
    await inbox.store("telegram", rows("c", 1, 2), clock.now())
    order: list[str] = []

    async def process(item: InboxItem) -> None:
        order.append(item.update_id)

    runner = InboxRunner(inbox, "telegram", process, clock, poll=0.02)
    task = asyncio.create_task(runner.run())
    try:
        await until(lambda: order == ["u1", "u1", "u2"], within=5, what="u1 again, then u2")
        await until(lambda: runner.running == {})
    finally:
        await runner.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert (await inbox.state("telegram")).pending == 0
