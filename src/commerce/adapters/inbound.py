"""Users reachable privately (`bot_contact`). Platform updates are kept in the chat inbox
(chat_inbox.py)."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import sql

STARTED = sql(
    "INSERT INTO bot_contact (platform, identity, started_at) VALUES (:platform, :identity, :now)"
    " ON CONFLICT (platform, identity) DO NOTHING"
)
HAS_STARTED = sql("SELECT 1 FROM bot_contact WHERE platform = :platform AND identity = :identity")
STOPPED = sql("DELETE FROM bot_contact WHERE platform = :platform AND identity = :identity")


class SqlContacts:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def started(self, platform: str, identity: str, now: datetime) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(STARTED, {"platform": platform, "identity": identity, "now": now})

    async def has_started(self, platform: str, identity: str) -> bool:
        async with connection(self.engine) as conn:
            row = await conn.execute(HAS_STARTED, {"platform": platform, "identity": identity})
            return row.first() is not None

    async def stopped(self, platform: str, identity: str) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(STOPPED, {"platform": platform, "identity": identity})
