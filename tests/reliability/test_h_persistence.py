"""H. Persistence (catalogue cases 63-67), on SQLite and PostgreSQL."""

import asyncio

import pytest
from aiohttp.test_utils import TestClient
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.migrate import alembic_config
from commerce.domain.errors import InvalidInput
from commerce.domain.money import Money
from commerce.service_layer.results import OrderView
from tests.e2e import test_stripe_webhook as webhook
from tests.e2e.stripe_signing import sign
from tests.fakes import FakeClock
from tests.integration import test_migrations as migrations
from tests.integration.helpers import buy

pytestmark = pytest.mark.reliability

client = webhook.client
order = webhook.order
flaky = webhook.flaky
S = webhook.S


async def test_c063_a_crash_after_the_claim_rolls_back_and_the_retry_applies_it(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    flaky: webhook.FlakyNotifier,
) -> None:
    await webhook.test_processing_error_answers_500_and_the_event_is_kept(client, order, flaky)


async def test_c063_an_event_stored_before_a_crash_is_processed_later(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    clock: FakeClock,
) -> None:
    await webhook.test_stored_but_unprocessed_events_are_picked_up(client, order, clock)


async def test_c064_concurrent_webhook_and_bot_writes_do_not_raise(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    database_url: str,
) -> None:
    if database_url.startswith("sqlite"):
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert int((await conn.execute(text("PRAGMA busy_timeout"))).scalar() or 0) >= 5000
    bus = webhook.bus_of(client)
    body = webhook.completed(order)
    # One payment webhook, a second buyer's claim and repeated deliveries, all at once.
    results = await asyncio.gather(
        webhook.post(client, body, sign(body)),
        buy(bus, "web:bert"),
        *(webhook.post(client, body, sign(body)) for _ in range(5)),
        return_exceptions=True,
    )
    assert not [r for r in results if isinstance(r, BaseException)], results
    codes = [r[0] for r in results if isinstance(r, tuple)]
    assert codes == [200] * 6
    assert await webhook.status(client, order) is S.PAID


async def test_c065_concurrent_transitions_of_one_order_apply_once(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    flaky: webhook.FlakyNotifier,
) -> None:
    """Ten different events that each pay the same order, delivered at once: the order moves
    to paid once (one history row, one paid notice)."""
    bodies = [webhook.completed(order, n) for n in range(1, 11)]
    replies = await asyncio.gather(*(webhook.post(client, b, sign(b)) for b in bodies))
    assert [code for code, _ in replies] == [200] * 10
    history = await webhook.bus_of(client).deps.store.history(order.ref)
    assert [h.to_status for h in history].count("paid") == 1
    assert [n.order.ref for n in flaky.of(webhook.OrderPaid)] == [order.ref]  # type: ignore[attr-defined]


def _uniques(connection: Connection) -> dict[str, set[tuple[str, ...]]]:
    found: dict[str, set[tuple[str, ...]]] = {}
    inspector = inspect(connection)
    for table in inspector.get_table_names():
        keys = {tuple(inspector.get_pk_constraint(table)["constrained_columns"])}
        keys |= {tuple(u["column_names"]) for u in inspector.get_unique_constraints(table)}
        keys |= {tuple(i["column_names"]) for i in inspector.get_indexes(table) if i["unique"]}
        found[table] = keys
    return found


async def test_c066_migrations_make_the_schema_with_its_unique_keys_and_one_head(
    database_url: str, engine: AsyncEngine
) -> None:
    await migrations.test_migrated_schema_matches_the_tables(engine)
    async with engine.connect() as conn:
        uniques = await conn.run_sync(_uniques)
    assert ("id",) in uniques["payment_event"]  # a Stripe event is stored once
    assert ("ref",) in uniques["orders"]
    assert ("checkout_session",) in uniques["orders"]  # a session pays one order
    assert ("platform", "update_id") in uniques["chat_inbox"]  # a chat update once
    script = ScriptDirectory.from_config(alembic_config(database_url))
    assert len(script.get_heads()) == 1, script.get_heads()


async def test_c067_money_is_integer_minor_units_with_a_currency(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        columns = await conn.run_sync(
            lambda c: {x["name"]: x["type"] for x in inspect(c).get_columns("orders")}
        )
    for name in ("unit_price_minor", "amount_minor"):
        assert columns[name].python_type is int
    assert "currency" in columns
    assert Money.parse("1500", "jpy").minor == 1500  # zero-decimal: no cents
    assert Money.parse("15.00", "eur").minor == 1500
    with pytest.raises(InvalidInput):
        Money.parse("15.5", "jpy")
