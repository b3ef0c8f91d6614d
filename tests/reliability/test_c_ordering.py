"""Catalogue C, ordering (cases 23-28): signed events in every order through the real app's
/webhooks/stripe (the fake payment gateway behind it), its re-processing pass and
reconciliation, on SQLite and PostgreSQL."""

import itertools
import json
import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.orders import OrderStatus
from commerce.service_layer.results import OrderPaid, OrderView
from tests.e2e import test_stripe_webhook as hooks
from tests.e2e.stripe_signing import charge, event_body, session, sign
from tests.e2e.test_stripe_webhook import FlakyNotifier, bus_of, post, status
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, buy, start_drop
from webhooks import stripe as stripe_routes
from webhooks.app import reconcile

pytestmark = pytest.mark.reliability

# The webhook tests' own fixtures: the app with the fake gateway, an order, its notifier.
client, order, flaky = hooks.client, hooks.order, hooks.flaky

S = OrderStatus


async def deliver(client: TestClient, *bodies: bytes) -> list[int]:  # type: ignore[type-arg]
    return [(await post(client, body, sign(body)))[0] for body in bodies]


async def moves(client: TestClient, ref: str) -> list[str]:  # type: ignore[type-arg]
    return [e.to_status for e in await bus_of(client).deps.store.history(ref)]


def paid_notices(flaky: FlakyNotifier, ref: str) -> int:
    return sum(1 for n in flaky.of(OrderPaid) if n.order.ref == ref)  # type: ignore[attr-defined]


def intent(ref: str) -> dict[str, Any]:
    """The PaymentIntent of a payment (Checkout's, or a one-message charge): it carries the
    order in its own metadata (payment_intent_data.metadata)."""
    return {
        "id": f"pi_{ref}",
        "object": "payment_intent",
        "amount": 2500,
        "amount_received": 2500,
        "currency": "eur",
        "status": "succeeded",
        "metadata": {"order_ref": ref},
    }


async def test_c023_async_success_before_completed_pays_once_and_is_never_undone(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    flaky: FlakyNotifier,
) -> None:
    cs = f"cs_{order.ref}"
    succeeded = event_body(
        "evt_a", "checkout.session.async_payment_succeeded", session(order.ref, cs)
    )
    unpaid = event_body("evt_c", "checkout.session.completed", session(order.ref, cs, paid=False))
    assert await deliver(client, succeeded, unpaid, succeeded, unpaid) == [200] * 4
    assert await status(client, order) is S.PAID
    assert (await moves(client, order.ref)).count("paid") == 1
    assert (await moves(client, order.ref))[-1] == "paid"  # the unpaid report moved nothing
    assert paid_notices(flaky, order.ref) == 1


async def test_c024_a_refund_before_completion_ends_refunded_never_paid_after(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
) -> None:
    refund = event_body("evt_r", "charge.refunded", charge(order.ref, 2500, 2500))
    done = event_body("evt_c", "checkout.session.completed", session(order.ref, f"cs_{order.ref}"))
    assert await deliver(client, refund) == [200]
    assert await status(client, order) is S.CHECKOUT_OPEN  # kept until the payment is known
    assert await deliver(client, done, refund, done) == [200] * 3
    assert await status(client, order) is S.REFUNDED
    history = await moves(client, order.ref)
    assert history[history.index("refunded") :] == ["refunded"]  # nothing after it
    assert "fulfilled" not in history


async def test_c025_an_expiry_after_the_payment_leaves_the_order_paid_and_its_units(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
) -> None:
    bus = bus_of(client)
    cs = f"cs_{order.ref}"
    done = event_body("evt_c", "checkout.session.completed", session(order.ref, cs))
    expired = session(order.ref, cs, paid=False) | {"status": "expired"}
    late = event_body("evt_x", "checkout.session.expired", expired)
    assert await deliver(client, done) == [200]
    drop_before = await bus.deps.store.product("TEE")
    assert await deliver(client, late, late) == [200, 200]
    assert await status(client, order) is S.PAID
    assert (await bus.deps.store.product("TEE")).stock == drop_before.stock  # nothing released
    # An unpaid reservation is released by its expiry, as ever.
    other = (await buy(bus, "web:ben")).order
    assert other is not None
    gone = session(other.ref, f"cs_{other.ref}", paid=False) | {"status": "expired"}
    assert await deliver(client, event_body("evt_y", "checkout.session.expired", gone)) == [200]
    assert await status(client, other) is S.EXPIRED


async def test_c026_payment_intent_succeeded_before_or_among_session_events_pays_once(
    client: TestClient,  # type: ignore[type-arg]
    flaky: FlakyNotifier,
) -> None:
    bus = bus_of(client)
    await add_product(bus, stock=30)
    await start_drop(bus, quantity=30)
    kinds = ["pi", "completed", "async", "pi again"]
    orders = []
    for n, sequence in enumerate(itertools.permutations(kinds, 3)):
        won = (await buy(bus, f"web:buyer{n}")).order
        assert won is not None
        ref, cs = won.ref, f"cs_{won.ref}"
        bodies = {
            "pi": event_body(f"evt_pi_{n}", "payment_intent.succeeded", intent(ref)),
            "pi again": event_body(f"evt_pi2_{n}", "payment_intent.succeeded", intent(ref)),
            "completed": event_body(f"evt_c_{n}", "checkout.session.completed", session(ref, cs)),
            "async": event_body(
                f"evt_a_{n}", "checkout.session.async_payment_succeeded", session(ref, cs)
            ),
        }
        assert await deliver(client, *(bodies[k] for k in sequence)) == [200] * 3
        orders.append((won, sequence))
    for won, sequence in orders:
        assert await status(client, won) is S.PAID, sequence
        assert (await moves(client, won.ref)).count("paid") == 1, sequence
        assert paid_notices(flaky, won.ref) == 1, sequence
        assert (await bus.deps.store.order(won.ref)).payment_ref == f"pi_{won.ref}"


async def test_c026_a_one_message_payment_intent_alone_pays_its_order(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    flaky: FlakyNotifier,
) -> None:
    # No session at all: the PaymentIntent's metadata names the order.
    body = event_body("evt_pi", "payment_intent.succeeded", intent(order.ref))
    assert await deliver(client, body, body) == [200, 200]
    assert await status(client, order) is S.PAID and paid_notices(flaky, order.ref) == 1


# 27: an order not known (yet) -------------------------------------------------------------


async def hide(engine: AsyncEngine, ref: str, hidden: str) -> None:
    """The order is not there for the shop to find: as if its commit had not landed yet."""
    async with engine.begin() as conn:
        query = text("UPDATE orders SET ref = :to WHERE ref = :ref")
        await conn.execute(query, {"ref": ref, "to": hidden})


async def event_row(engine: AsyncEngine, event_id: str) -> Any:
    async with engine.connect() as conn:
        query = text("SELECT outcome, processed_at, attempts FROM payment_event WHERE id = :id")
        return (await conn.execute(query, {"id": event_id})).one()


async def test_c027_an_event_racing_its_orders_commit_is_retried_and_not_lost(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    clock: FakeClock,
) -> None:
    body = hooks.completed(order)
    await hide(engine, order.ref, "ZZZZZZZZ")
    for _ in range(3):  # Stripe retries what is answered 5xx
        code, reply = await post(client, body, sign(body))
        assert code == 500 and "retry" in reply["error"]
    row = await event_row(engine, f"evt_done_{order.ref}_1")
    assert row.outcome == f"waiting: no order {order.ref} (yet)" and row.processed_at is None
    assert row.attempts == 0  # waiting is not failing: its retries are not used up
    await hide(engine, "ZZZZZZZZ", order.ref)  # the order's commit lands
    clock.advance(minutes=1)
    assert await stripe_routes.reprocess(bus_of(client)) == 1  # not even Stripe is needed
    assert await status(client, order) is S.PAID
    assert (await post(client, body, sign(body)))[1].get("duplicate") is True


async def test_c027_after_the_window_it_is_a_dead_letter_that_reconciliation_applies(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    body = hooks.completed(order)
    event_id = f"evt_done_{order.ref}_1"
    await hide(engine, order.ref, "ZZZZZZZZ")
    assert (await post(client, body, sign(body)))[0] == 500
    clock.advance(minutes=9)
    assert (await post(client, body, sign(body)))[0] == 500  # still within the window
    clock.advance(minutes=2)
    with caplog.at_level(logging.WARNING):
        assert await post(client, body, sign(body)) == (200, {"received": True})
    [alert] = [r for r in caplog.records if "dead letter" in r.getMessage()]
    assert alert.levelno == logging.ERROR and event_id in alert.getMessage()
    row = await event_row(engine, event_id)
    assert row.outcome == f"dead letter: no order {order.ref} (yet)" and row.processed_at
    bus = bus_of(client)
    assert await reconcile(bus) == []  # still unknown: kept
    assert (await event_row(engine, event_id)).outcome.startswith("dead letter: ")
    await hide(engine, "ZZZZZZZZ", order.ref)
    [line] = await reconcile(bus)
    assert line.startswith(f"{order.ref}: checkout.session.completed applied")
    assert await status(client, order) is S.PAID
    assert (await event_row(engine, event_id)).outcome == "paid: order paid"
    assert await reconcile(bus) == []  # applied once


async def test_c027_events_made_outside_this_shop_stay_acknowledged_and_ignored(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
) -> None:
    foreign = {
        "id": "cs_foreign",
        "object": "checkout.session",
        "payment_status": "paid",
        "amount_total": 999,
        "currency": "eur",
        "metadata": {},
    }
    body = event_body("evt_foreign", "checkout.session.completed", foreign)
    assert await post(client, body, sign(body)) == (200, {"received": True})
    row = await event_row(engine, "evt_foreign")
    assert row.outcome == "ignored: no order of ours" and row.processed_at


# 28: stale snapshots -------------------------------------------------------------------------


def created_at(body: bytes, created: int) -> bytes:
    return json.dumps(json.loads(body) | {"created": created}).encode()


async def test_c028_an_older_snapshot_after_a_newer_one_never_moves_the_order_back(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
) -> None:
    bus = bus_of(client)
    cs = f"cs_{order.ref}"
    paid = created_at(hooks.completed(order), 2_000)
    stale = [
        created_at(
            event_body("evt_old_c", "checkout.session.completed", session(order.ref, cs, False)),
            1_000,
        ),
        created_at(
            event_body("evt_old_r", "charge.refunded", charge(order.ref, 2500, 1000)), 1_500
        ),
    ]
    newer_refund = created_at(
        event_body("evt_new_r", "charge.refunded", charge(order.ref, 2500, 2500)), 3_000
    )
    assert await deliver(client, paid, newer_refund, *stale) == [200] * 4
    after = await bus.deps.store.order(order.ref)
    assert after.status is S.REFUNDED  # the full refund stands; the older partial one is past
    assert after.refunded is not None and after.refunded.minor == 2500
    assert (await moves(client, order.ref))[-1] == "refunded"
