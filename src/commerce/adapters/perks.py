"""Discord role perks, kept in `app_setting` ("discord.perk.<SKU>" -> "<guild id>:<role id>"):
one small mapping that needs no table of its own."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import sql

PREFIX = "discord.perk."
GET = sql("SELECT value FROM app_setting WHERE key = :key")
PUT = sql(
    "INSERT INTO app_setting (key, value, updated_at) VALUES (:key, :value, :now)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)


class SqlPerks:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def role_for(self, sku: str) -> tuple[int, int] | None:
        async with connection(self.engine) as conn:
            value = (await conn.execute(GET, {"key": PREFIX + sku.upper()})).scalar()
        if value is None:
            return None
        guild, _, role = str(value).partition(":")
        return int(guild), int(role)

    async def set_role(self, sku: str, guild_id: int, role_id: int, now: datetime) -> None:
        row = {"key": PREFIX + sku.upper(), "value": f"{guild_id}:{role_id}", "now": now}
        async with transaction(self.engine) as conn:
            await conn.execute(PUT, row)
