"""One Stripe webhook, one transaction: stored once, applied to its order, marked processed
and its notices written, counted with SQLAlchemy's engine events on both databases. A first
Checkout that may have kept a card is split: the payment's transaction, the card read from
Stripe, then a second transaction that keeps the card and marks the event."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.orders import OrderStatus
from commerce.service_layer import one_message
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import SavedCard
from commerce.service_layer.results import OrderPaid, OrderView
from tests.conftest import test_settings
from tests.e2e.stripe_signing import SECRET, event_body, session, sign
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS

CARD = SavedCard("cus_anna", "pm_anna", "visa", "4242")


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


def bus_of(client: TestClient) -> MessageBus:  # type: ignore[type-arg]
    return client.server.app[BUS]


class Counter:
    """Transactions begun and statements run on an engine from now on, by the tasks that
    stored or marked the webhook's event (the app's background jobs run beside them)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.by_task: dict[int, tuple[list[int], list[str]]] = {}
        sa_event.listen(engine.sync_engine, "begin", self._begin)
        sa_event.listen(engine.sync_engine, "before_cursor_execute", self._statement)

    def _mine(self) -> tuple[list[int], list[str]]:
        return self.by_task.setdefault(id(asyncio.current_task()), ([0], []))

    def _begin(self, _conn: Any) -> None:
        self._mine()[0][0] += 1

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA")):
            self._mine()[1].append(statement)

    def _webhook(self) -> tuple[int, list[str]]:
        """What the tasks that stored or marked the event did (the request's, and the group
        commit's that applied it)."""
        tasks = [c for c in self.by_task.values() if any("payment_event" in s for s in c[1])]
        return sum(c[0][0] for c in tasks), [s for c in tasks for s in c[1]]

    @property
    def transactions(self) -> int:
        return self._webhook()[0]

    @property
    def statements(self) -> list[str]:
        return self._webhook()[1]


async def _order(bus: MessageBus, who: str = "web:anna") -> OrderView:
    await add_product(bus)
    await start_drop(bus, quantity=2)
    result = await buy(bus, who)
    assert result.order is not None
    return result.order


async def _post(client: TestClient, order: OrderView, n: int = 1) -> int:  # type: ignore[type-arg]
    body = event_body(
        f"evt_done_{order.ref}_{n}",
        "checkout.session.completed",
        session(order.ref, f"cs_{order.ref}"),
    )
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
    response = await client.post("/webhooks/stripe", data=body, headers=headers)
    return response.status


async def test_a_payment_webhook_is_one_transaction(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    notifier: FakeNotifier,
) -> None:
    bus = bus_of(client)
    order = await _order(bus)
    await one_message.card_saved("web:anna", CARD, bus.deps)  # a returning buyer
    counter = Counter(engine)
    assert await _post(client, order) == 200
    assert counter.transactions == 1, counter.statements
    paid = await bus.deps.store.order(order.ref)
    assert paid.status is OrderStatus.PAID
    assert [n.order.ref for n in notifier.of(OrderPaid)] == [order.ref]  # type: ignore[attr-defined]
    # A second delivery of the same event: one transaction that finds it processed.
    again = Counter(engine)
    assert await _post(client, order) == 200
    assert again.transactions == 1
    assert len(again.statements) <= 2  # the insert that does nothing, the claim that fails


async def test_a_first_checkout_keeps_the_card_after_the_commit(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    gateway: FakePaymentGateway,
) -> None:
    bus = bus_of(client)
    order = await _order(bus)
    gateway.cards[f"pi_{order.ref}"] = CARD
    counter = Counter(engine)
    assert await _post(client, order) == 200
    # The payment's unit; then, Stripe asked for the card, the card kept and the event
    # marked (the reads and writes of that follow-up commit one by one).
    assert counter.transactions >= 2
    assert (await bus.deps.store.order(order.ref)).status is OrderStatus.PAID
    assert bus.deps.cards is not None
    assert await bus.deps.cards.card("web:anna") is not None


async def test_concurrent_webhooks_are_committed_together_and_each_answered(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
) -> None:
    """Twenty deliveries at once: grouped into fewer transactions than deliveries, every one
    answered 200 once its group committed, every order paid once."""
    bus = bus_of(client)
    await add_product(bus, stock=20)
    await start_drop(bus, quantity=20)
    orders = []
    for n in range(20):
        result = await buy(bus, f"web:b{n}")
        assert result.order is not None
        orders.append(result.order)
        await one_message.card_saved(f"web:b{n}", CARD, bus.deps)  # returning buyers
    counter = Counter(engine)
    codes = await asyncio.gather(*(_post(client, order) for order in orders))
    assert codes == [200] * 20
    assert counter.transactions < 20
    for order in orders:
        assert (await bus.deps.store.order(order.ref)).status is OrderStatus.PAID
