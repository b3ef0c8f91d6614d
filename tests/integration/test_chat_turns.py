"""A stress test of the chat inbox's turns on both databases: chats' updates stored in batches
while two workers' runners (two engines, as two processes) process them, each update answered
through the outbox, which marks it done in the answer's transaction as every adapter does
(bots/*/core.py `put(..., done=PROCESSING.get())`), its processing going on a moment after.

Every update is processed once, each chat's in its numbering, and an update that does not
share its turn (a seller command) overlaps no other update of its chat (claims that share a
turn are decided side by side by design)."""

import asyncio
import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.adapters.db import create_engine
from commerce.adapters.leases import SqlLeases
from commerce.adapters.outbox import SqlOutbox
from commerce.service_layer.inbox import InboxItem, InboxRunner
from commerce.service_layer.outbox import Outgoing
from tests.fakes import FakeClock
from tests.telegram.conftest import until

CHATS, PER_CHAT, BATCH = 5, 24, 8


@dataclass(frozen=True, slots=True)
class Run:
    chat: str
    seq: int
    update_id: str
    kind: str  # "buy" shares its turn with its neighbouring buys, "cmd" is alone
    start: int  # ticks of one counter shared by both workers (one event loop)
    end: int


async def test_each_update_once_in_its_chats_order_and_commands_alone(
    database_url: str, clock: FakeClock
) -> None:
    engines = [create_engine(database_url) for _ in range(2)]
    workers = [f"w{n}:{n}:stress" for n in (1, 2)]
    for engine, worker in zip(engines, workers, strict=True):
        await SqlLeases(engine, worker).heartbeat(clock.now())  # both alive (the clock stays)
    rng = random.Random(22)
    updates = [
        (f"u{n}", f"chat{n % CHATS}", n, rng.choice(["buy", "buy", "cmd"]))
        for n in range(1, CHATS * PER_CHAT + 1)
    ]
    tick = itertools.count()
    runs: list[Run] = []
    under_way: set[str] = set()
    runners: list[InboxRunner] = []

    def worker(engine: AsyncEngine, name: str) -> InboxRunner:
        outbox = SqlOutbox(engine)

        async def process(item: InboxItem) -> None:
            start = next(tick)
            under_way.add(item.update_id)
            await asyncio.sleep(rng.random() / 2000)
            answer = Outgoing("telegram", item.chat, f"answer to {item.update_id}")
            await outbox.put([answer], clock.now(), done=item)  # as the adapters answer
            for runner in runners:  # other chats' updates arriving: each runner looks
                runner.wake()
            await asyncio.sleep(rng.random() / 200)  # the update's processing goes on
            under_way.discard(item.update_id)
            runs.append(Run(item.chat, item.seq, item.update_id, item.payload, start, next(tick)))

        inbox = SqlChatInbox(engine, name)
        joins = lambda item: item.payload == "buy"  # noqa: E731
        return InboxRunner(inbox, "telegram", process, clock, joins=joins, chats=4, poll=0.02)

    runners += [worker(e, w) for e, w in zip(engines, workers, strict=True)]
    tasks = [asyncio.create_task(r.run()) for r in runners]
    try:
        stores = [SqlChatInbox(e, w) for e, w in zip(engines, workers, strict=True)]
        for n, start in enumerate(range(0, len(updates), BATCH)):
            await stores[n % 2].store("telegram", updates[start : start + BATCH], clock.now())
            for runner in runners:
                runner.wake()
            await asyncio.sleep(0.003)
        done = {u[0] for u in updates}
        await until(lambda: {r.update_id for r in runs} >= done, within=20, what="every update")
    finally:
        for runner in runners:
            await runner.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        pending = (await SqlChatInbox(engines[0], "look").state("telegram")).pending
        for engine in engines:
            await engine.dispose()

    twice = [u for u, n in Counter(r.update_id for r in runs).items() if n > 1]
    assert not twice, f"processed more than once: {twice}"
    assert not under_way, f"still processing after the runners stopped: {under_way}"
    assert pending == 0
    by_chat: dict[str, list[Run]] = defaultdict(list)
    for run in sorted(runs, key=lambda r: r.start):
        by_chat[run.chat].append(run)
    for chat, chat_runs in by_chat.items():
        assert [r.seq for r in chat_runs] == sorted(r.seq for r in chat_runs), chat
        for command in (r for r in chat_runs if r.kind == "cmd"):
            beside = [
                r.update_id
                for r in chat_runs
                if r is not command and r.start < command.end and command.start < r.end
            ]
            assert not beside, f"{chat}: {command.update_id} overlapped {beside}"
    assert all(r.processed > 0 for r in runners)  # both workers took part
    assert all(r.running == {} for r in runners)
