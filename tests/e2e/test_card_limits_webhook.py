"""The card's fingerprint is asked of Stripe before a Checkout's webhook is applied (#18): a
delivery during which Stripe cannot say who paid is answered 500 and kept, never applied
without the card; Stripe's retry (or the re-processing duty) applies it once Stripe answers.
On SQLite and PostgreSQL."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.orders import OrderStatus
from tests.conftest import test_settings
from tests.e2e.stripe_signing import SECRET, event_body, session, sign
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.devtools.emulator.state import card_fingerprint
from webhooks.keys import BUS
from webhooks.stripe import reprocess

VISA = "4242424242424242"


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


@pytest.fixture
async def client(
    database_url: str,
    engine: AsyncEngine,
    clock: FakeClock,
    notifier: FakeNotifier,
    gateway: FakePaymentGateway,
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        notifier=notifier,
        payments=gateway,
        webhook_secret=SECRET,
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_a_checkout_is_applied_only_once_stripe_says_who_paid(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    gateway: FakePaymentGateway,
    clock: FakeClock,
) -> None:
    bus = client.server.app[BUS]
    await add_product(bus)
    await start_drop(bus, quantity=2, limit=1)
    claimed = await buy(bus, "web:v_anna")
    assert claimed.order is not None
    order = claimed.order
    completed = session(order.ref, f"cs_{order.ref}")
    completed["customer_details"] = {"email": "Anna+drops@Example.com"}
    body = event_body(f"evt_{order.ref}", "checkout.session.completed", completed)
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
    gateway.paid_with[f"pi_{order.ref}"] = (VISA, None)

    gateway.down = True  # Stripe's API cannot be reached: who paid is not known
    answer = await client.post("/webhooks/stripe", data=body, headers=headers)
    assert answer.status == 500
    assert (await bus.deps.store.order(order.ref)).status is OrderStatus.CHECKOUT_OPEN
    async with engine.connect() as conn:
        kept = await conn.execute(text("SELECT payload, processed_at FROM payment_event"))
        payload, processed = kept.one()
    assert json.loads(payload)["id"] == f"evt_{order.ref}" and processed is None

    gateway.down = False  # back: the re-processing duty applies it, with the card
    clock.advance(minutes=1)
    assert await reprocess(bus, older_than=timedelta(seconds=30)) == 1
    assert (await bus.deps.store.order(order.ref)).status is OrderStatus.PAID
    assert gateway.payer_asks == [f"pi_{order.ref}"]  # answered once Stripe was back
    async with engine.connect() as conn:
        payer = await conn.execute(text("SELECT card_fingerprint, payer_email FROM orders"))
        assert payer.one() == (card_fingerprint(VISA), "anna@example.com")
