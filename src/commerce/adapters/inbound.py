"""Platform updates seen once (`inbound_update`) and users reachable privately
(`bot_contact`)."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.sql import sql

FIRST_TIME = sql(
    "INSERT INTO inbound_update (platform, update_id, received_at)"
    " VALUES (:platform, :update_id, :now) ON CONFLICT (platform, update_id) DO NOTHING"
)
FORGET = sql("DELETE FROM inbound_update WHERE platform = :platform AND received_at < :before")
STARTED = sql(
    "INSERT INTO bot_contact (platform, identity, started_at) VALUES (:platform, :identity, :now)"
    " ON CONFLICT (platform, identity) DO NOTHING"
)
HAS_STARTED = sql("SELECT 1 FROM bot_contact WHERE platform = :platform AND identity = :identity")
STOPPED = sql("DELETE FROM bot_contact WHERE platform = :platform AND identity = :identity")


class SqlInbound:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def first_time(self, platform: str, update_id: str, now: datetime) -> bool:
        """Records the update id; False when it was recorded before (a redelivery)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                FIRST_TIME, {"platform": platform, "update_id": update_id, "now": now}
            )
        return bool(result.rowcount)

    async def forget(self, platform: str, before: datetime) -> int:
        """Drops ids older than any redelivery (Telegram keeps an update for 24 hours)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(FORGET, {"platform": platform, "before": before})
        return int(result.rowcount)


class SqlContacts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def started(self, platform: str, identity: str, now: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(STARTED, {"platform": platform, "identity": identity, "now": now})

    async def has_started(self, platform: str, identity: str) -> bool:
        async with self.engine.connect() as conn:
            row = await conn.execute(HAS_STARTED, {"platform": platform, "identity": identity})
            return row.first() is not None

    async def stopped(self, platform: str, identity: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(STOPPED, {"platform": platform, "identity": identity})
