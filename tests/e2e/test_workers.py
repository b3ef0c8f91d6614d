"""Three `livebuy run` processes on one PostgreSQL: a drop's claims spread over them, the
sweeper's holder killed with SIGKILL mid-drop, one Stripe event delivered to two workers at
once, and /metrics after the run."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp import ClientConnectionError, ClientSession, web
from aiohttp.test_utils import TestServer

from commerce.adapters.db import create_engine
from commerce.adapters.leases import SqlLeases
from commerce.adapters.outbox import SqlOutbox
from commerce.bootstrap import bootstrap
from commerce.service_layer.outbox import Outgoing
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.e2e.stripe_signing import event_body, session, sign
from tests.integration.helpers import add_product, start_drop
from tests.live_events import issued_cookie
from tests.telegram.fake_bot_api import FakeBotApi
from webhooks.devtools.emulator import create_emulator

LIVEBUY = Path(sys.executable).parent / "livebuy"
WORKERS, CLAIMS, UNITS, CHATS = 3, 500, 100, 100
SECRET = "whsec_workers"
Worker = tuple[str, "subprocess.Popen[bytes]"]  # base URL, process


@pytest.fixture
def stripe_port() -> int:
    return free_port()


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi()
    await api.start()
    yield api
    await api.close()


@pytest.fixture
def workers(
    pg_url: str, stripe_port: int, tmp_path: Path, bot_api: FakeBotApi
) -> Iterator[list[Worker]]:
    """The workers' base URLs and processes, all on one database and one (emulated) Stripe."""
    ports = [free_port() for _ in range(WORKERS)]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STRIPE_", "LIVEBUY_"))}
    env |= {
        "DATABASE_URL": pg_url,
        "STRIPE_SECRET_KEY": "sk_test_workers",
        "STRIPE_WEBHOOK_SECRET": SECRET,
        "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}/stripe-emulator",
        "TELEGRAM_BOT_TOKEN": bot_api.token,
        "TELEGRAM_API_BASE_URL": bot_api.url,
        "PTB_TIMEDELTA": "true",
        # The workers race for units that claims hold (an anonymous web claim holds nothing by
        # default, LIVEBUY_WEB_CLAIMS=first-paid: tests/e2e/test_web_claims.py).
        "LIVEBUY_WEB_CLAIMS": "hold",
    }
    logs = [(tmp_path / f"worker{i}.log").open("w") for i in range(WORKERS)]
    running = [
        (
            f"http://127.0.0.1:{port}",
            subprocess.Popen(
                [str(LIVEBUY), "run", "--port", str(port)],
                cwd=tmp_path,
                env=env | {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"},
                stdout=log,
                stderr=subprocess.STDOUT,
            ),
        )
        for port, log in zip(ports, logs, strict=True)
    ]
    try:
        yield running
    finally:
        for _, process in running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process in running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()


async def ready(http: ClientSession, base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            async with http.get(f"{base}/readyz") as response:
                if response.status == 200:
                    return
        except ClientConnectionError:
            pass
        assert process.poll() is None, f"{base} exited: see worker*.log in the test's tmp_path"
        assert time.monotonic() < deadline, f"{base} did not come up"
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_three_workers_share_a_drop_and_a_dead_ones_duties(
    workers: list[Worker],
    pg_url: str,
    stripe_port: int,
    bot_api: FakeBotApi,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stripe = web.Application()
    stripe.add_subapp(
        "/stripe-emulator",
        create_emulator(
            public_base_url=f"http://127.0.0.1:{stripe_port}",
            webhook_url=f"{workers[0][0]}/webhooks/stripe",
            webhook_secret=SECRET,
            api_key="sk_test_workers",  # the workers' STRIPE_SECRET_KEY
        ),
    )
    engine = create_engine(pg_url)
    bus = bootstrap(test_settings(pg_url), engine)
    leases = SqlLeases(engine, "test:0:x")
    try:
        async with (
            TestServer(stripe, host="127.0.0.1", port=stripe_port),
            ClientSession() as http,
        ):
            for base, process in workers:
                await ready(http, base, process)
            await add_product(bus, stock=UNITS)
            await start_drop(bus, quantity=UNITS, limit=1, channels=("web:show",))

            alive = {base: process for base, process in workers}
            answered: dict[int, int] = {}
            # Each viewer's cookie, issued by the workers (a cookie they never issued is
            # a new identity on every page).
            cookies = await asyncio.gather(
                *(issued_cookie(http, workers[v % WORKERS][0], "show") for v in range(CLAIMS))
            )

            async def claim(viewer: int) -> None:
                """Posts `#buy` to a worker; one that is down gets the message no more."""
                for attempt in range(WORKERS * 2):
                    base = list(alive)[(viewer + attempt) % len(alive)]
                    try:
                        async with http.post(
                            f"{base}/chat/show/messages",
                            data={"name": f"v{viewer}", "text": "#buy"},
                            cookies={"livebuy_viewer": cookies[viewer]},
                        ) as response:
                            assert response.status == 200, await response.text()
                            answered[viewer] = answered.get(viewer, 0) + 1
                            return
                    except ClientConnectionError:
                        await asyncio.sleep(0.05)
                raise AssertionError(f"viewer {viewer} got no answer")

            gate = asyncio.Semaphore(40)

            async def paced(viewer: int) -> None:
                async with gate:
                    await claim(viewer)

            await asyncio.gather(*(paced(v) for v in range(CLAIMS // 2)))
            # Chat messages waiting in the shared outbox, which every worker delivers.
            messages = [Outgoing("telegram", str(10 + i % CHATS), f"m{i}") for i in range(300)]
            await SqlOutbox(engine).put(messages, bus.deps.clock.now())
            await asyncio.sleep(0.3)  # some are under way when the worker dies
            # Kill the worker that holds the sweeper, mid-drop, without a chance to clean up.
            holder = next(d.holder for d in await leases.leases() if d.name == "sweeper")
            pid = int(holder.split(":")[1])
            victim = next(b for b, p in alive.items() if p.pid == pid)
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            del alive[victim]
            await asyncio.gather(*(paced(v) for v in range(CLAIMS // 2, CLAIMS)))
            while True:
                now = bus.deps.clock.now()
                duty = next(d for d in await leases.leases() if d.name == "sweeper")
                if duty.holder != holder and duty.expires_at > now:
                    break
                assert time.monotonic() - killed_at < 10, "nobody took over the sweeper"
                await asyncio.sleep(0.1)
            takeover = time.monotonic() - killed_at

            # The same Stripe event at two workers at once: processed once.
            orders = await bus.deps.store.orders(None, None, 1000)
            winner = orders[0]
            body = event_body(
                "evt_twice", "checkout.session.completed",
                session(winner.ref, winner.checkout_session or "cs_x") | {
                    "amount_total": winner.amount.minor},
            )  # fmt: skip
            replies = await asyncio.gather(
                *(
                    http.post(f"{base}/webhooks/stripe", data=body,
                              headers={"Stripe-Signature": sign(body, SECRET)})
                    for base in alive
                )
            )  # fmt: skip
            assert [r.status for r in replies] == [200, 200]
            bodies = [await r.json() for r in replies]
            assert sum(bool(b.get("duplicate")) for b in bodies) == 1
            metrics = await (await http.get(f"{next(iter(alive))}/metrics")).text()
            outbox = SqlOutbox(engine)
            deadline = time.monotonic() + 60  # a dead worker's leased messages come back
            while (await outbox.counts("telegram")).pending:
                assert time.monotonic() < deadline, "the outbox did not drain"
                await asyncio.sleep(0.5)
    finally:
        await bus.deps.store.close()
        await engine.dispose()

    assert sorted(answered) == list(range(CLAIMS)) and set(answered.values()) == {1}
    assert len(orders) == UNITS  # one order per unit: no oversell, nobody twice
    assert len({o.identity for o in orders}) == UNITS
    assert 'livebuy_claims{result="won"} 100.0' in metrics
    assert f'livebuy_claims{{result="waitlisted"}} {CLAIMS - UNITS}.0' in metrics
    assert 'livebuy_orders{state="paid"} 1.0' in metrics
    sent = [c.params["text"] for c in bot_api.of("sendMessage")]
    assert set(sent) == {m.text for m in messages}  # nothing lost
    again = len(sent) - len(set(sent))  # sent twice: the dead worker had sent, not recorded
    with capsys.disabled():
        print(f"\n  {WORKERS} workers, {CLAIMS} claims: sweeper taken over {takeover:.1f}s"
              f" after SIGKILL; {len(messages)} outbox messages, none lost,"
              f" {again} sent twice")  # fmt: skip
