"""The Alembic migrations build exactly the schema the tables declare, on both databases."""

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.migrate import upgrade
from commerce.adapters.tables import metadata


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
