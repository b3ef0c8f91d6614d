"""Where the reading of a polled chat stands (YouTube's nextPageToken and the count of
messages read), kept in `app_setting` so a restarted or another worker resumes there; and
which lines in it the bot posted itself (the outbox's sent messages)."""

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import sql

READ = sql("SELECT value FROM app_setting WHERE key = :key")
SAVE = sql(
    "INSERT INTO app_setting (key, value, updated_at) VALUES (:key, :value, :now)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
)

OURS = sql(
    "SELECT 1 FROM outbox WHERE platform = :platform AND chat = :chat AND text = :text"
    " AND status = 'sent' LIMIT 1"
)


class SqlPageTokens:
    def __init__(self, engine: AsyncEngine, platform: str = "youtube") -> None:
        self.engine, self.platform = engine, platform

    def _key(self, chat: str) -> str:
        # A liveChatId is longer than the key column allows: its digest names it.
        return f"{self.platform}.page.{hashlib.sha256(chat.encode()).hexdigest()[:32]}"

    async def load(self, chat: str) -> tuple[str | None, int]:
        async with connection(self.engine) as conn:
            value = (await conn.execute(READ, {"key": self._key(chat)})).scalar()
        if value is None:
            return None, 0
        data = json.loads(value)
        return data.get("token"), int(data.get("seq", 0))

    async def save(self, chat: str, token: str | None, seq: int) -> None:
        value = json.dumps({"chat": chat, "token": token, "seq": seq})
        row = {"key": self._key(chat), "value": value, "now": datetime.now(UTC)}
        async with transaction(self.engine) as conn:
            await conn.execute(SAVE, row)

    async def ours(self, chat: str, text: str) -> bool:
        """Whether the bot sent this line to the chat (it posts as the channel's owner)."""
        row = {"platform": self.platform, "chat": chat, "text": text}
        async with connection(self.engine) as conn:
            return (await conn.execute(OURS, row)).first() is not None
