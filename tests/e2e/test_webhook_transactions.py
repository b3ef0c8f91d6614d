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
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.orders import OrderStatus
from commerce.service_layer import one_message
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import SavedCard
from commerce.service_layer.results import OrderPaid, OrderView
from tests.conftest import test_settings
from tests.e2e.stripe_signing import SECRET, charge, event_body, session, sign
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


# asyncpg asks the server about a type the first time a connection meets it: its own
# catalogue reads, not the webhook's.
INTROSPECTION = ("typeinfo_tree", "current_setting('jit')", "set_config('jit'")


class Counter:
    """Transactions and statements of the webhook's work on an engine from `start()` on,
    counted where the driver runs them: the batch path (adapters/payment_batch.py) talks to
    the driver directly, beside SQLAlchemy. SQLite: every statement of the one pooled
    sqlite3 connection (its trace callback), cut into transactions; the webhook's are those
    that touch payment_event (the app's background jobs run beside them). PostgreSQL: what
    SQLAlchemy runs in the tasks that stored, marked or group-committed events, and what
    asyncpg runs directly (its query logger: only the batch path does so here)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self.traced: list[str] = []  # SQLite: every statement, in order
        self.by_task: dict[int, tuple[list[int], list[str], str]] = {}
        self.direct: list[str] = []  # PostgreSQL: asyncpg's own statements
        self._logged: set[int] = set()

    async def start(self) -> "Counter":
        if self.sqlite:
            async with self.engine.connect() as conn:
                pooled: Any = await conn.get_raw_connection()
                driver = pooled.driver_connection
                await driver._execute(driver._conn.set_trace_callback, self.traced.append)
            return self
        sa_event.listen(self.engine.sync_engine, "begin", self._begin)
        sa_event.listen(self.engine.sync_engine, "before_cursor_execute", self._statement)
        sa_event.listen(self.engine.sync_engine.pool, "checkout", self._checkout)
        return self

    def _checkout(self, dbapi_connection: Any, *_: Any) -> None:
        asyncpg_conn = dbapi_connection.driver_connection
        if id(asyncpg_conn) not in self._logged:
            self._logged.add(id(asyncpg_conn))
            asyncpg_conn.add_query_logger(lambda record: self.direct.append(record.query))

    def _mine(self) -> tuple[list[int], list[str], str]:
        task = asyncio.current_task()
        name = task.get_name() if task is not None else ""
        return self.by_task.setdefault(id(task), ([0], [], name))

    def _begin(self, _conn: Any) -> None:
        self._mine()[0][0] += 1

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not statement.startswith(("BEGIN", "PRAGMA")):
            self._mine()[1].append(statement)

    def _webhook(self) -> tuple[int, list[str]]:
        if self.sqlite:
            transactions, current = [], None
            for statement in self.traced:
                if statement.startswith("BEGIN"):
                    current = []
                elif statement.startswith(("COMMIT", "ROLLBACK")) and current is not None:
                    transactions.append(current)
                    current = None
                elif current is not None:
                    current.append(statement)
            mine = [t for t in transactions if any("payment_event" in s for s in t)]
            return len(mine), [s for t in mine for s in t]
        tasks = [
            c for c in self.by_task.values()
            if c[2] == "group-commit" or any("payment_event" in s for s in c[1])
        ]  # fmt: skip
        direct = [
            s for s in self.direct
            if not s.startswith(("BEGIN", "COMMIT", "ROLLBACK"))
            and not any(mark in s for mark in INTROSPECTION)
        ]  # fmt: skip
        return sum(c[0][0] for c in tasks), [s for c in tasks for s in c[1]] + direct

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
    counter = await Counter(engine).start()
    assert await _post(client, order) == 200
    assert counter.transactions == 1, counter.statements
    # Nine statements: whether the event is stored, the order read once with its lock, the
    # event stored processed, the provider's customer, the address (the buyer locked, the
    # order's, the buyer's newest), the order paid and its history row. (About 22, the
    # order read seven times, before the batch path.)
    assert len(counter.statements) <= 9, "\n".join(s[:90] for s in counter.statements)
    paid = await bus.deps.store.order(order.ref)
    assert paid.status is OrderStatus.PAID
    assert [n.order.ref for n in notifier.of(OrderPaid)] == [order.ref]  # type: ignore[attr-defined]
    # A second delivery of the same event: one transaction that finds it processed.
    again = await Counter(engine).start()
    assert await _post(client, order) == 200
    assert again.transactions == 1
    assert len(again.statements) <= 1, again.statements  # stored already and processed


async def test_a_first_checkout_keeps_the_card_after_the_commit(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    gateway: FakePaymentGateway,
) -> None:
    bus = bus_of(client)
    order = await _order(bus)
    gateway.cards[f"pi_{order.ref}"] = CARD
    counter = await Counter(engine).start()
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
    counter = await Counter(engine).start()
    codes = await asyncio.gather(*(_post(client, order) for order in orders))
    assert codes == [200] * 20
    assert counter.transactions < 20
    for order in orders:
        assert (await bus.deps.store.order(order.ref)).status is OrderStatus.PAID


async def test_a_batch_mixing_both_paths_keeps_every_rule(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
) -> None:
    """Twenty deliveries at once, each payment twice: the batch path pays the orders that
    hold their units and answers the duplicates; the orders whose refund was reported before
    their payment are left to the usual path (the refund applies once they are paid), in
    the same groups. Every order paid exactly once, every second delivery a duplicate."""
    bus = bus_of(client)
    await add_product(bus, stock=10)
    await start_drop(bus, quantity=10)
    orders = []
    for n in range(10):
        result = await buy(bus, f"web:m{n}")
        assert result.order is not None
        orders.append(result.order)
        await one_message.card_saved(f"web:m{n}", CARD, bus.deps)
    for order in orders[::2]:  # a partial refund reported before the payment
        body = event_body(
            f"evt_refund_{order.ref}", "charge.refunded", charge(order.ref, 2500, 500)
        )
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
        assert (await client.post("/webhooks/stripe", data=body, headers=headers)).status == 200
    counter = await Counter(engine).start()

    async def deliver(order: OrderView) -> dict[str, Any]:
        body = event_body(
            f"evt_done_{order.ref}_1", "checkout.session.completed",
            session(order.ref, f"cs_{order.ref}"),
        )  # fmt: skip
        headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
        response = await client.post("/webhooks/stripe", data=body, headers=headers)
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
        return answer

    answers = await asyncio.gather(*(deliver(order) for order in orders + orders))
    assert sum(bool(a.get("duplicate")) for a in answers) == 10
    assert counter.transactions < 20
    statements = counter.statements  # both paths ran: the batch's store, the usual path's part
    assert any(
        s.startswith("INSERT INTO payment_event") and "processed_at" in s for s in statements
    )
    assert any(s.startswith("SAVEPOINT") for s in statements)
    for n, order in enumerate(orders):
        status = (await bus.deps.store.order(order.ref)).status
        assert status is (OrderStatus.PARTIALLY_REFUNDED if n % 2 == 0 else OrderStatus.PAID)
        history = [e.to_status for e in await bus.deps.store.history(order.ref)]
        assert history.count(OrderStatus.PAID) == 1, history


async def test_a_redelivery_after_a_failure_is_applied_by_the_batch_path(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    gateway: FakePaymentGateway,
) -> None:
    """A delivery that failed (Stripe could not say who paid: 500, the event kept
    unprocessed) is applied by its redelivery in the batch path: the stored event taken and
    marked, the payer recorded (a drop without a per-buyer limit), the order paid once."""
    bus = bus_of(client)
    order = await _order(bus)
    await one_message.card_saved("web:anna", CARD, bus.deps)
    gateway.down = True
    assert await _post(client, order) == 500
    assert (await bus.deps.store.order(order.ref)).status is not OrderStatus.PAID
    gateway.down = False
    gateway.paid_with[f"pi_{order.ref}"] = ("4242424242424242", "Anna@Example.com")
    counter = await Counter(engine).start()
    assert await _post(client, order) == 200
    assert counter.transactions == 1
    statements = counter.statements
    assert not any(s.startswith("SAVEPOINT") for s in statements)  # not the usual path
    assert len(statements) <= 10, statements  # as the first delivery's, the payer besides
    assert any(s.startswith("UPDATE payment_event SET processed_at") for s in statements)
    assert any(s.startswith("UPDATE orders SET card_fingerprint") for s in statements)
    history = [e.to_status for e in await bus.deps.store.history(order.ref)]
    assert history.count(OrderStatus.PAID) == 1
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text("SELECT o.payer_email, e.attempts, e.processed_at IS NOT NULL"
                     " FROM orders o, payment_event e WHERE o.ref = :ref AND e.id = :id"),
                {"ref": order.ref, "id": f"evt_done_{order.ref}_1"},
            )
        ).one()  # fmt: skip
    assert tuple(row) == ("anna@example.com", 2, True)
