"""The Alembic migrations build exactly the schema the tables declare, on both databases."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.adapters.migrate import alembic_config, upgrade
from commerce.adapters.tables import metadata
from tests.conftest import PG_ADMIN_DB, PG_HOST, PG_PROBLEM


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrated_schema_matches_the_tables(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


async def test_upgrade_twice_is_harmless(database_url: str, engine: AsyncEngine) -> None:
    await asyncio.to_thread(upgrade, database_url)  # at head already: nothing to do
    async with engine.connect() as conn:
        assert await conn.run_sync(_diff) == []


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, not migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    if PG_PROBLEM:
        pytest.skip(f"PostgreSQL unreachable: {PG_PROBLEM}")
    name = f"livebuy_blank_{uuid.uuid4().hex[:10]}"

    async def admin(statement: str) -> None:
        conn = await asyncpg.connect(f"{PG_HOST}/{PG_ADMIN_DB}")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_HOST}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_ROWS_0016 = (
    "INSERT INTO product (id, sku, name, price_minor, currency, option, digital, created_at)"
    " VALUES (1, 'CARD', 'Card', 1500, 'EUR', '', false, :now)",
    "INSERT INTO variant (id, product_id, label, stock) VALUES (1, 1, '', 5)",
    "INSERT INTO drops (id, code, product_id, price_minor, currency, quantity, remaining,"
    " policy, hold_seconds, status, waitlist_len, started_by, starts_at, confirm, promo)"
    " VALUES (1, 'D1', 1, 1500, 'EUR', 5, 4, 'hold', 600, 'live', 0, '', :now, 'always', false)",
    "INSERT INTO customer (id, display_name, origin_key, disputes, created_at)"
    " VALUES (1, 'Ann', 'telegram:1', 0, :now)",
    "INSERT INTO show (id, code, title, status, starts_at, created_by, created_at)"
    " VALUES (1, 'SUN', 'Sunday', 'scheduled', :now, 'telegram:9', :now)",
    "INSERT INTO orders (id, ref, drop_id, product_id, variant_id, customer_id, identity, chat,"
    " quantity, unit_price_minor, amount_minor, currency, status, holds_stock, refunded_minor,"
    " payment_attempts, created_at, updated_at) VALUES (1, 'K7P2QX9M', 1, 1, 1, 1,"
    " 'telegram:1', 'telegram:-100', 1, 1500, 1500, 'EUR', 'paid', true, 0, 0, :now, :now)",
)


async def _rows(database_url: str, statements: tuple[str, ...]) -> list[Any]:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement), {"now": datetime.now(UTC)})
            found = await conn.execute(
                text(
                    "SELECT p.ship_units, s.shipping, o.bundle_id, o.shipping_amount,"
                    " o.tax_amount FROM orders o, product p, show s"
                )
            )
            return list(found.one())
    finally:
        await engine.dispose()


async def test_0017_keeps_a_shops_data_and_charges_no_shipping(blank_database_url: str) -> None:
    """A shop upgraded from 0016: its products count one unit, its shows let buyers pay
    shipping (with no zone, none is charged), its orders carry no shipping and no tax."""
    await asyncio.to_thread(upgrade, blank_database_url, "0016")
    engine = create_engine(blank_database_url)
    try:
        async with engine.begin() as conn:
            for statement in _ROWS_0016:
                await conn.execute(text(statement), {"now": datetime.now(UTC)})
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade, blank_database_url)
    assert await _rows(blank_database_url, ()) == [1, "buyer", None, 0, 0]


async def test_0017_goes_down_and_up_again(blank_database_url: str) -> None:
    await asyncio.to_thread(upgrade, blank_database_url)
    config = alembic_config(blank_database_url)
    await asyncio.to_thread(command.downgrade, config, "0016")
    await asyncio.to_thread(upgrade, blank_database_url)
    engine = create_engine(blank_database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


_ROWS_0022 = (
    *_ROWS_0016[:3],
    "INSERT INTO outbox (id, platform, chat, text, buttons, board, status, attempts,"
    " not_before, edit, error, created_at) VALUES (1, 'telegram', '-100', 'Card · €15',"
    " '[]', 'drop:1', 'pending', 0, :now, false, '', :now)",
    "INSERT INTO board_message (platform, chat, board, message_ref, last_sent_at)"
    " VALUES ('telegram', '-100', 'drop:1', '77', :now)",
)


async def test_0023_gives_existing_products_and_boards_no_picture(
    blank_database_url: str,
) -> None:
    """A shop upgraded from 0022: its products have no picture and an empty description,
    its waiting board texts and posted boards stay text messages; pictures can be set."""
    await asyncio.to_thread(upgrade, blank_database_url, "0022")
    engine = create_engine(blank_database_url)
    try:
        async with engine.begin() as conn:
            for statement in _ROWS_0022:
                await conn.execute(text(statement), {"now": datetime.now(UTC)})
        await asyncio.to_thread(upgrade, blank_database_url)
        async with engine.begin() as conn:
            found = await conn.execute(
                text(
                    "SELECT p.sku, p.image, p.description, o.text, o.image, b.message_ref,"
                    " b.image FROM product p, outbox o, board_message b"
                )
            )
            assert list(found.one()) == ["CARD", None, "", "Card · €15", None, "77", None]
            await conn.execute(
                text("UPDATE product SET image = :image, description = 'Holo.' WHERE id = 1"),
                {"image": "https://cdn.example.com/card.png"},
            )
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


_ROWS_0024 = (
    *_ROWS_0016[:4],
    _ROWS_0016[5],
    "INSERT INTO saved_card (customer_id, payment_customer, payment_method, brand, last4,"
    " saved_at) VALUES (1, 'cus_1', 'pm_1', 'visa', '4242', :now)",
)


async def test_0025_keeps_paid_orders_and_saved_cards_without_a_payer(
    blank_database_url: str,
) -> None:
    """A shop upgraded from 0024: its paid orders and saved cards know no card fingerprint
    or email (they count for no card's limit), and new payments record them."""
    await asyncio.to_thread(upgrade, blank_database_url, "0024")
    engine = create_engine(blank_database_url)
    try:
        async with engine.begin() as conn:
            for statement in _ROWS_0024:
                await conn.execute(text(statement), {"now": datetime.now(UTC)})
        await asyncio.to_thread(upgrade, blank_database_url)
        async with engine.begin() as conn:
            found = await conn.execute(
                text(
                    "SELECT o.ref, o.status, o.card_fingerprint, o.payer_email, s.last4,"
                    " s.fingerprint FROM orders o, saved_card s"
                )
            )
            assert list(found.one()) == ["K7P2QX9M", "paid", None, None, "4242", None]
            await conn.execute(
                text("UPDATE orders SET card_fingerprint = 'fp1', payer_email = 'a@b.c'")
            )
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_0026_takes_youtube_live_chat_ids_in_every_chat_column(
    blank_database_url: str,
) -> None:
    """A shop upgraded from 0025 keeps its orders, and its chat columns take a YouTube live
    chat id (about 80 characters; PostgreSQL refused more than 64 or 80 before)."""
    await asyncio.to_thread(upgrade, blank_database_url, "0025")
    engine = create_engine(blank_database_url)
    live_chat = "Cg0KC2xpdmVidXl0ZXN0KicKGFVDbGl2ZWJ1eVRlc3RDaGFubmVsMDAwMRILbGl2ZWJ1eXRlc3Q" * 2
    try:
        async with engine.begin() as conn:
            for statement in _ROWS_0024:
                await conn.execute(text(statement), {"now": datetime.now(UTC)})
            before = (await conn.execute(text("SELECT ref, chat FROM orders"))).one()
        await engine.dispose()  # its prepared statements know the old column types
        await asyncio.to_thread(upgrade, blank_database_url)
        async with engine.begin() as conn:
            assert (await conn.execute(text("SELECT ref, chat FROM orders"))).one() == before
            await conn.execute(
                text("UPDATE orders SET chat = :chat"), {"chat": f"youtube:{live_chat}"}
            )
            await conn.execute(
                text(
                    "INSERT INTO outbox (platform, chat, text, buttons, status, attempts,"
                    " not_before, edit, error, created_at) VALUES ('youtube', :chat, 'hi',"
                    " '[]', 'pending', 0, :now, false, '', :now)"
                ),
                {"chat": live_chat, "now": datetime.now(UTC)},
            )
            chats = await conn.execute(text("SELECT o.chat, b.chat FROM orders o, outbox b"))
            assert chats.one() == (f"youtube:{live_chat}", live_chat)
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()
