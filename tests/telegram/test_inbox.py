"""The chat inbox: one chat's updates decided in Telegram's order, and none lost when a
worker dies after Telegram was told they arrived."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp import ClientSession
from sqlalchemy import text

from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.adapters.db import create_engine
from commerce.adapters.inbound import SqlContacts
from commerce.bootstrap import bootstrap
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.e2e.test_workers import ready
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, WEBHOOK_SECRET, ShopFactory, until
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from webhooks.keys import ENGINE
from webhooks.telegram import SECRET_HEADER

SELLER = FakeUser(1, "Sam", "sam")
BUYERS = [FakeUser(100 + i, f"Buyer{i}", f"buyer{i}") for i in range(12)]
LIVEBUY = Path(sys.executable).parent / "livebuy"


async def started(engine_url: str, buyers: list[FakeUser]) -> None:
    """The buyers opened the bot's private chat before: their answers come privately."""
    engine = create_engine(engine_url)
    try:
        contacts = SqlContacts(engine)
        for buyer in buyers:
            await contacts.started("telegram", f"telegram:{buyer.id}", datetime.now(UTC))
    finally:
        await engine.dispose()


async def test_a_buy_during_the_drops_admin_check_is_decided_after_it(
    shop_factory: ShopFactory, api: FakeBotApi, database_url: str
) -> None:
    shop = await shop_factory()
    await add_product(shop.bus, stock=5)
    await started(database_url, BUYERS[:3])
    api.admins[GROUP] = {SELLER.id}
    checking = api.hold("getChatMember")  # the seller's admin check takes its time
    adapter = shop.runtime.adapter
    assert adapter is not None
    target = adapter.finished + 4
    api.push(
        api.message(GROUP, SELLER, "/drop TEE 5 25"),
        *(api.message(GROUP, buyer, "#buy") for buyer in BUYERS[:3]),
    )
    await until(lambda: bool(api.of("getChatMember")), what="the admin check")
    await until(lambda: api.confirmed > 0 and not api.pending, what="the updates stored")
    await asyncio.sleep(0.3)  # time enough to answer the buys, were they not waiting
    assert adapter.finished == target - 4  # nothing decided while /drop is being handled
    checking.set()
    await until(lambda: adapter.finished >= target, what="the four updates")
    await shop.settle()

    orders = await shop.bus.deps.store.orders(None, None)
    assert sorted(o.identity for o in orders) == [f"telegram:{b.id}" for b in BUYERS[:3]]
    for buyer in BUYERS[:3]:  # each got their link, nobody "No drop is live here"
        texts = api.texts_to(buyer.id)
        assert len(texts) == 1 and "/pay/" in texts[0], texts
    board = api.board(GROUP)
    assert board is not None and "2 of 5 left" in board.text


@pytest.fixture
def workers_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "LIVEBUY_"))}
    yield env | {
        "PTB_TIMEDELTA": "true",
        "LIVEBUY_ADMIN_TOKEN": "inbox-test-admin-token-0123456789",
    }


def _start(env: dict[str, str], cwd: Path, log: Path) -> tuple[str, "subprocess.Popen[bytes]"]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as output:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            [str(LIVEBUY), "run", "--port", str(port)],
            cwd=cwd,
            env=env | {"PUBLIC_BASE_URL": base},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return base, process


@pytest.mark.slow
async def test_a_worker_killed_after_the_updates_were_confirmed_loses_none(
    database_url: str, tmp_path: Path, workers_env: dict[str, str]
) -> None:
    """SQLite: one worker, killed and started again; PostgreSQL: three workers, the one
    deciding the chat's first update killed. Telegram was told (getUpdates offset) of every
    update before the kill; each buyer is still answered exactly once."""
    several = database_url.startswith("postgresql")
    api = FakeBotApi()
    await api.start()
    env = workers_env | {
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_BASE_URL": api.url,
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        async with ClientSession() as http:
            count = 3 if several else 1
            for i in range(count):  # one after another: local mode seeds its demo once
                base, process = _start(env, tmp_path, tmp_path / f"worker{i}.log")
                processes.append(process)
                await ready(http, base, process)
            engine = create_engine(database_url)
            bus = bootstrap(test_settings(database_url), engine)
            try:
                await add_product(bus, sku="CAP", stock=8)
                await started(database_url, BUYERS)
                api.admins[GROUP] = {SELLER.id}
                checking = api.hold("getChatMember")
                updates = [api.message(GROUP, SELLER, "/drop CAP 8 25 limit 1")]
                updates += [api.message(GROUP, b, "#buy") for b in BUYERS]
                api.push(*updates)
                last = updates[-1]["update_id"]
                await until(lambda: api.confirmed > last, within=20, what="updates confirmed")
                await until(lambda: bool(api.of("getChatMember")), within=20, what="the check")
                async with engine.connect() as conn:
                    taker = (
                        await conn.execute(
                            text("SELECT taken_by FROM chat_inbox WHERE update_id = :u"),
                            {"u": str(updates[0]["update_id"])},
                        )
                    ).scalar_one()
                pid = int(taker.split(":")[1])
                victim = next(p for p in processes if p.pid == pid)
                os.kill(pid, signal.SIGKILL)
                victim.wait()
                checking.set()  # the next worker's admin check is answered at once
                if not several:  # the shop starts again, on the same database
                    base, process = _start(env, tmp_path, tmp_path / "restarted.log")
                    processes.append(process)
                    await ready(http, base, process)

                def answered() -> bool:
                    return all(api.texts_to(b.id) for b in BUYERS)

                await until(answered, within=60, what="every buyer answered")
                await asyncio.sleep(1.0)  # a second answer would come about now
                orders = await bus.deps.store.orders(None, None)
            finally:
                await bus.deps.store.close()
                await engine.dispose()
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        await api.close()

    answers = {b.id: api.texts_to(b.id) for b in BUYERS}
    assert all(len(texts) == 1 for texts in answers.values()), answers
    won = [b for b in BUYERS if "waitlist" not in answers[b.id][0]]
    assert len(won) == 8 and len(orders) == 8  # the drop opened first: 8 won, 4 wait
    assert {o.identity for o in orders} == {f"telegram:{b.id}" for b in won}


async def test_a_webhook_update_is_stored_before_telegram_gets_its_answer(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory(
        public_base_url="https://shop.example", telegram_webhook_secret=WEBHOOK_SECRET
    )
    await add_product(shop.bus)
    api.admins[GROUP] = {SELLER.id}
    checking = api.hold("getChatMember")  # processing the /drop waits on the admin check
    update = api.message(GROUP, SELLER, "/drop TEE 3 25")
    response = await shop.client.post(
        "/webhooks/telegram",
        data=json.dumps(update),
        headers={"Content-Type": "application/json", SECRET_HEADER: WEBHOOK_SECRET},
    )
    assert response.status == 200  # answered while the update is still being processed
    engine = shop.client.server.app[ENGINE]
    async with engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT done FROM chat_inbox WHERE update_id = :u"),
                {"u": str(update["update_id"])},
            )
        ).scalar_one()
    assert not stored  # kept, to be processed by any worker should this one die now
    checking.set()
    await until(lambda: api.board(GROUP) is not None, what="the drop's board")
    state = await SqlChatInbox(engine, "-").state("telegram")
    assert state.pending == 0
