"""K. Operations and configuration (catalogue cases 84-88)."""

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from commerce.adapters.app_settings import duty_done
from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.config import Settings
from commerce.service_layer.results import OrderView
from tests.conftest import test_settings
from tests.e2e import test_stripe_webhook as webhook
from tests.e2e.stripe_signing import sign
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop
from tests.network_guard import GUARD, OffNetwork
from webhooks.app import create_app
from webhooks.cli import app as cli
from webhooks.health import BACKLOG_ALERT

pytestmark = pytest.mark.reliability

# The webhook tests' app (real signature checks, a fake gateway) and an order waiting to pay.
client = webhook.client
order = webhook.order
flaky = webhook.flaky

LIVE = "sk_live_" + "a" * 24


def live(**env: str) -> dict[str, str]:
    """A live-key configuration that is right, with `env` changed."""
    return {
        "STRIPE_SECRET_KEY": LIVE,
        "STRIPE_WEBHOOK_SECRET": "whsec_live_endpoint",
        "PUBLIC_BASE_URL": "https://shop.example",
        "STRIPE_API_BASE": "https://api.stripe.com",
        "LIVEBUY_EMULATOR_PUBLIC": "false",
    } | env


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"STRIPE_API_BASE": "http://127.0.0.1:9/stripe-emulator"}, "STRIPE_API_BASE must be"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "needs STRIPE_WEBHOOK_SECRET"),
        ({"PUBLIC_BASE_URL": "http://shop.example"}, "needs an https:// PUBLIC_BASE_URL"),
        ({"LIVEBUY_EMULATOR_PUBLIC": "true"}, "cannot run with LIVEBUY_EMULATOR_PUBLIC"),
        ({"STRIPE_SECRET_KEY": "rk_live_" + "b" * 24, "PUBLIC_BASE_URL": "http://x"}, "https"),
    ],
)
def test_c084_a_live_key_in_a_test_setup_refuses_to_start(
    env: dict[str, str], problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer .env
    database = f"sqlite:///{tmp_path}/shop.db"
    result = CliRunner().invoke(cli, ["run"], env=live(**env) | {"DATABASE_URL": database})
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()  # one line, no traceback
    assert line.startswith("error: bad configuration: ") and problem in line
    assert LIVE not in result.output
    assert not (tmp_path / "shop.db").exists()  # refused before touching anything


def test_c084_live_keys_set_up_right_and_test_keys_anywhere_are_accepted() -> None:
    def settings(**env: str) -> Settings:
        return Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})  # type: ignore[arg-type]

    assert settings(**live()).live_key_problem() is None
    test_key = live(
        STRIPE_SECRET_KEY="sk_test_x",
        PUBLIC_BASE_URL="http://127.0.0.1:8080",
        STRIPE_API_BASE="http://127.0.0.1:9",
    )
    assert settings(**test_key).live_key_problem() is None
    assert settings().live_key_problem() is None  # local mode: the emulator


async def test_c085_a_webhook_in_flight_at_shutdown_is_answered_or_kept(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    """A delivery under way when the server stops: either it finished (2xx, the order paid)
    or Stripe sees no 2xx, and the stored event is processed after the restart."""

    def make() -> TestServer:
        app = create_app(
            test_settings(database_url),
            engine=engine,
            clock=clock,
            payments=FakePaymentGateway(),
            webhook_secret=webhook.SECRET,
            sweep_every=3600,
        )
        return TestServer(app)

    async with TestClient(make()) as first:
        shop = webhook.bus_of(first)
        await add_product(shop)
        await start_drop(shop)
        paying = (await buy(shop, "web:anna")).order
        assert paying is not None
        body = webhook.completed(paying)
        delivery = asyncio.create_task(webhook.post(first, body, sign(body)))
        await asyncio.sleep(0)
    try:
        code, _ = await delivery
    except Exception:
        code = None  # the connection went with the server: Stripe retries
    async with TestClient(make()) as second:
        bus = webhook.bus_of(second)
        paid = (await bus.deps.store.order(paying.ref)).status is webhook.S.PAID
        if code != 200:
            code, _ = await webhook.post(second, body, sign(body))  # Stripe's retry
            assert code == 200
            paid = (await bus.deps.store.order(paying.ref)).status is webhook.S.PAID
        assert paid


async def test_c086_health_reports_backlogs_and_degrades_on_a_stuck_event(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    clock: FakeClock,
    order: OrderView,
) -> None:
    fresh = await client.get("/healthz/backlog")
    report = await fresh.json()
    assert fresh.status == 200 and report["status"] == "ok" and report["alerts"] == []
    assert report["payment_events"] == {"unprocessed": 0, "oldest_age_s": None}
    assert report["last_reconciliation"] is None
    assert set(report["outbox"]) == set(report["chat_inbox"]) == {"telegram", "discord"}

    # An event stored and never processed (its worker died), a chat update waiting, a run of
    # reconciliation.
    bus = webhook.bus_of(client)
    body = webhook.completed(order)
    ledger = bus.deps.ledger
    assert ledger is not None
    await ledger.store_event("evt_stuck", "checkout.session.completed", body.decode(), clock.now())
    await SqlChatInbox(engine, "w1").store("telegram", [("1", "-100", 1, "{}")], clock.now())
    await duty_done(engine, "reconcile", clock.now())
    clock.advance(minutes=5)
    report = await (await client.get("/healthz/backlog")).json()
    assert report["status"] == "ok"
    assert report["payment_events"] == {"unprocessed": 1, "oldest_age_s": 300.0}
    assert report["chat_inbox"]["telegram"] == {"waiting": 1, "oldest_age_s": 300.0}
    assert report["last_reconciliation_age_s"] == 300.0

    clock.advance(seconds=BACKLOG_ALERT.total_seconds())
    degraded = await client.get("/healthz/backlog")
    report = await degraded.json()
    assert degraded.status == 503 and report["status"] == "degraded"
    assert any("payment event(s) unprocessed" in a for a in report["alerts"])
    assert any("telegram update(s) waiting" in a for a in report["alerts"])
    # The liveness probe is not affected: the process itself is fine.
    assert (await client.get("/healthz")).status == 200


async def test_c087_a_processed_event_and_its_transition_are_traceable_without_pii(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = webhook.completed(order)
    with caplog.at_level(logging.INFO):
        code, _ = await webhook.post(client, body, sign(body))
    assert code == 200
    event_id = json.loads(body)["id"]
    processed = [r for r in caplog.records if getattr(r, "event", None) == event_id]
    assert processed, "no log line names the event"
    assert all(getattr(r, "order", None) == order.ref for r in processed)
    assert all(getattr(r, "session", None) == f"cs_{order.ref}" for r in processed)
    assert any(event_id in r.getMessage() for r in processed)
    # The line says what the event did to the order (the transition).
    assert any("order paid" in r.getMessage() for r in processed)
    # No card data and no address in any line (the session carried a shipping address).
    everything = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    for private in ("Street 1", "10115", "Anna Buyer", "4242"):
        assert private not in everything


def test_c088_a_connection_off_this_machine_fails_the_test() -> None:
    with pytest.raises(OffNetwork):
        socket.create_connection(("203.0.113.1", 443), timeout=1)
    with socket.socket() as sock, pytest.raises(OffNetwork):
        sock.connect_ex(("198.51.100.7", 80))
    assert GUARD.take() == [
        "connection to 203.0.113.1:443 (not this machine)",
        "connection to 198.51.100.7:80 (not this machine)",
    ]


async def test_c088_asyncio_clients_are_guarded_too_and_loopback_is_not() -> None:
    with pytest.raises(OffNetwork):
        await asyncio.wait_for(asyncio.open_connection("203.0.113.1", 443), 5)
    assert GUARD.take() == ["connection to 203.0.113.1:443 (not this machine)"]
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    assert GUARD.take() == []
