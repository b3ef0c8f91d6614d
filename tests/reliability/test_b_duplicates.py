"""Catalogue B, duplicates and concurrency (cases 14-22): the real app's webhook, its
checkout pages, its re-processing and reconciliation passes, and the outbox, with the fake
payment gateway and a recording chat sender, on SQLite and PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.adapters.outbox import SqlOutbox
from commerce.domain.orders import OrderStatus
from commerce.service_layer.outbox import RetryLater
from commerce.service_layer.ports import SessionState
from commerce.service_layer.results import OrderPaid, OrderView
from tests.conftest import test_settings
from tests.e2e import test_stripe_webhook as hooks
from tests.e2e.conftest import free_port
from tests.e2e.stripe_signing import SECRET, event_body, session, sign
from tests.e2e.test_stripe_webhook import (
    FlakyNotifier,
    bus_of,
    completed,
    post,
    status,
    test_processing_error_answers_500_and_the_event_is_kept,
    test_stored_but_unprocessed_events_are_picked_up,
)
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.helpers import add_product, buy, open_link, start_drop
from tests.integration.test_outbox import RecordingSender, courier
from tests.integration.test_outbox import text as message
from webhooks import stripe as stripe_routes
from webhooks.app import create_app, reconcile

pytestmark = pytest.mark.reliability

# The webhook tests' own fixtures: the app with the fake gateway, an order, its notifier.
client, order, flaky = hooks.client, hooks.order, hooks.flaky

S = OrderStatus


async def paid_moves(client: TestClient, order: OrderView) -> int:  # type: ignore[type-arg]
    history = await bus_of(client).deps.store.history(order.ref)
    return [e.to_status for e in history].count("paid")


def paid_notices(flaky: FlakyNotifier, order: OrderView) -> int:
    return sum(1 for n in flaky.of(OrderPaid) if n.order.ref == order.ref)  # type: ignore[attr-defined]


async def test_c014_the_same_event_twice_in_a_row_has_its_effects_once(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    flaky: FlakyNotifier,
) -> None:
    body = completed(order)
    first = await post(client, body, sign(body))
    second = await post(client, body, sign(body))
    assert first == (200, {"received": True})
    assert second == (200, {"received": True, "duplicate": True})
    assert await paid_moves(client, order) == 1
    assert paid_notices(flaky, order) == 1  # one chat message about it


async def test_c015_the_same_event_20_times_at_once_is_processed_once(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    flaky: FlakyNotifier,
) -> None:
    body = completed(order)
    replies = await asyncio.gather(*(post(client, body, sign(body)) for _ in range(20)))
    assert [code for code, _ in replies] == [200] * 20
    assert sum(not reply.get("duplicate") for _, reply in replies) == 1  # one processing run
    assert await paid_moves(client, order) == 1 and paid_notices(flaky, order) == 1
    async with engine.connect() as conn:
        query = text("SELECT attempts FROM payment_event")
        assert (await conn.execute(query)).scalars().all() == [1]


async def test_c016_completed_and_async_payment_succeeded_for_one_session_pay_once(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    flaky: FlakyNotifier,
) -> None:
    obj = session(order.ref, f"cs_{order.ref}")
    for event_id, type_ in [
        ("evt_c", "checkout.session.completed"),
        ("evt_a", "checkout.session.async_payment_succeeded"),
    ]:
        body = event_body(event_id, type_, obj)
        assert await post(client, body, sign(body)) == (200, {"received": True})
    assert await status(client, order) is S.PAID
    assert await paid_moves(client, order) == 1 and paid_notices(flaky, order) == 1


# 17: the webhook and the buyer's return at the same moment -------------------------------


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


@pytest.fixture
async def shop(
    database_url: str,
    engine: AsyncEngine,
    clock: FakeClock,
    flaky: FlakyNotifier,
    gateway: FakePaymentGateway,
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        notifier=flaky,
        payments=gateway,
        webhook_secret=SECRET,
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_c017_the_webhook_and_the_done_page_at_once_pay_once_and_both_see_paid(
    shop: TestClient,  # type: ignore[type-arg]
    gateway: FakePaymentGateway,
    flaky: FlakyNotifier,
) -> None:
    bus = bus_of(shop)
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=5)
    for n in range(5):
        won = await buy(bus, f"web:buyer{n}")
        assert won.order is not None
        await open_link(bus, won.order)  # the buyer opened the pay link: the session exists
        order = await bus.deps.store.order(won.order.ref)
        cs = order.checkout_session
        assert cs is not None
        # The buyer paid: Stripe says so to whoever asks, and sends its webhook.
        gateway.states[cs] = SessionState(cs, order.ref, "complete", "paid", f"pi_{order.ref}",
                                          2500, "eur")  # fmt: skip
        body = event_body(f"evt_{n}", "checkout.session.completed", session(order.ref, cs))
        hook, page = await asyncio.gather(
            post(shop, body, sign(body)), shop.get(f"/checkout/done?order={order.ref}")
        )
        assert hook == (200, {"received": True})
        assert page.status == 200 and f"Order {order.ref} is paid" in await page.text()
        assert await status(shop, order) is S.PAID
        assert await paid_moves(shop, order) == 1 and paid_notices(flaky, order) == 1


async def test_c017_the_done_page_alone_settles_a_paid_session_once(
    shop: TestClient,  # type: ignore[type-arg]
    gateway: FakePaymentGateway,
    flaky: FlakyNotifier,
) -> None:
    bus = bus_of(shop)
    await add_product(bus)
    await start_drop(bus)
    won = await buy(bus, "web:anna")
    assert won.order is not None
    await open_link(bus, won.order)
    order = await bus.deps.store.order(won.order.ref)
    page = await shop.get(f"/checkout/done?order={order.ref}")
    assert "Confirming your payment" in await page.text()  # not paid at Stripe: waits
    assert order.checkout_session is not None
    cs = order.checkout_session
    gateway.states[cs] = SessionState(cs, order.ref, "complete", "paid", "pi_1", 2500, "eur")
    pages = await asyncio.gather(
        *(shop.get(f"/checkout/done?order={order.ref}") for _ in range(3))
    )
    for page in pages:
        assert f"Order {order.ref} is paid" in await page.text()
    assert await paid_moves(shop, order) == 1 and paid_notices(flaky, order) == 1


# 18-21: re-driven, crashed, failing, unreachable --------------------------------------------


async def test_c018_reconciliation_re_driving_a_processed_event_is_a_no_op(
    shop: TestClient,  # type: ignore[type-arg]
    gateway: FakePaymentGateway,
    clock: FakeClock,
    flaky: FlakyNotifier,
) -> None:
    bus = bus_of(shop)
    await add_product(bus)
    await start_drop(bus)
    won = await buy(bus, "web:anna")
    assert won.order is not None
    await open_link(bus, won.order)
    order = await bus.deps.store.order(won.order.ref)
    cs = order.checkout_session
    assert cs is not None
    gateway.states[cs] = SessionState(cs, order.ref, "complete", "paid", f"pi_{order.ref}",
                                      2500, "eur")  # fmt: skip
    body = event_body("evt_1", "checkout.session.completed", session(order.ref, cs))
    assert (await post(shop, body, sign(body)))[0] == 200
    history = await bus.deps.store.history(order.ref)
    clock.advance(minutes=5)
    assert await stripe_routes.reprocess(bus) == 0
    assert await reconcile(bus) == []
    assert await bus.deps.store.history(order.ref) == history
    assert paid_notices(flaky, order) == 1


async def test_c019_a_crash_between_storing_and_processing_is_completed_exactly_once(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    clock: FakeClock,
    flaky: FlakyNotifier,
) -> None:
    # The reconciler's path: the stored event is picked up once its delivery is over.
    await test_stored_but_unprocessed_events_are_picked_up(client, order, clock)
    assert await paid_moves(client, order) == 1 and paid_notices(flaky, order) == 1


async def test_c019_stripes_retry_completes_an_event_left_by_a_crash(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    clock: FakeClock,
    flaky: FlakyNotifier,
) -> None:
    bus = bus_of(client)
    body = completed(order)
    ledger = bus.deps.ledger
    assert ledger is not None
    await ledger.store_event(f"evt_done_{order.ref}_1", "x", body.decode(), clock.now())
    assert await status(client, order) is S.CHECKOUT_OPEN  # the crash: stored, not applied
    clock.advance(seconds=61)  # the dead delivery's claim ran out
    assert await post(client, body, sign(body)) == (200, {"received": True})
    assert await post(client, body, sign(body)) == (200, {"received": True, "duplicate": True})
    assert await stripe_routes.reprocess(bus) == 0
    assert await paid_moves(client, order) == 1 and paid_notices(flaky, order) == 1


async def test_c020_a_handler_error_answers_500_keeps_the_error_and_the_retry_succeeds(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    flaky: FlakyNotifier,
) -> None:
    await test_processing_error_answers_500_and_the_event_is_kept(client, order, flaky)
    async with engine.connect() as conn:
        row = (await conn.execute(text("SELECT outcome, attempts FROM payment_event"))).one()
    # Two deliveries counted; the first rolled back with its notice (the payment and the
    # message it causes are one transaction), the retry paid the order and is done with.
    assert (row.attempts, row.outcome) == (2, "paid: order paid")
    assert await paid_moves(client, order) == 1


async def test_c020_the_error_is_persisted_on_the_event_row(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    flaky: FlakyNotifier,
) -> None:
    flaky.failures = 1
    body = completed(order)
    assert (await post(client, body, sign(body)))[0] == 500
    async with engine.connect() as conn:
        query = text("SELECT outcome, processed_at FROM payment_event")
        row = (await conn.execute(query)).one()
    assert row.outcome == "error: RuntimeError: notifier down" and row.processed_at is None


async def test_c021_a_database_that_fails_answers_5xx_never_2xx_and_drop(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
) -> None:
    body = completed(order)
    async with engine.begin() as conn:
        await conn.execute(text("ALTER TABLE payment_event RENAME TO payment_event_away"))
    try:
        code, reply = await post(client, body, sign(body))
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE payment_event_away RENAME TO payment_event"))
    assert code == 503 and "retry" in reply["error"]
    assert await status(client, order) is S.CHECKOUT_OPEN
    await engine.dispose()  # connections that cached the missing table start afresh
    # Stripe's retry, once the database is back, is applied.
    assert await post(client, body, sign(body)) == (200, {"received": True})
    assert await status(client, order) is S.PAID


async def test_c021_an_unreachable_database_answers_5xx(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
) -> None:
    ledger = bus_of(client).deps.ledger
    assert ledger is not None
    engine = ledger.engine  # type: ignore[attr-defined]
    # A database at a port nothing listens on: every connection is refused.
    refusing = create_engine(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    ledger.engine = refusing  # type: ignore[attr-defined]
    body = completed(order)
    try:
        code, reply = await post(client, body, sign(body))
    finally:
        ledger.engine = engine  # type: ignore[attr-defined]
        await refusing.dispose()
    assert code == 503 and "retry" in reply["error"]
    assert await post(client, body, sign(body)) == (200, {"received": True})
    assert await status(client, order) is S.PAID


async def test_c022_a_failing_chat_send_is_retried_until_sent_once_and_the_order_stays_paid(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    clock: FakeClock,
) -> None:
    body = completed(order)
    assert (await post(client, body, sign(body)))[0] == 200
    sender = RecordingSender()
    sender.faults["42"] = [RetryLater(0, "502 Bad Gateway"), RetryLater(0, "timed out")]
    outbox = SqlOutbox(engine)
    await outbox.put([message("42", f"Order {order.ref} is paid")], clock.now())
    run = courier(engine, clock, sender)
    delivered = 0
    for _ in range(6):
        delivered += await run.deliver_due()
        clock.advance(seconds=30)  # the back-off passes
    assert delivered == 1
    assert sender.calls == [("send", "42", f"Order {order.ref} is paid")]  # sent once
    counts = await outbox.counts()
    assert (counts.sent, counts.pending) == (1, 0)
    assert await status(client, order) is S.PAID  # the payment never depended on the chat
