"""A web chat room's latest public lines, kept in the database (table room_line) so that a
restart does not empty the room for whoever joins next. Written in batches (the web chat
flushes what its rooms said about once a second), pruned to the latest lines of each room."""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import sql

KEEP = 50  # lines kept per room: what a newcomer is shown
INSERT = sql("INSERT INTO room_line (room, line, at) VALUES (:room, :line, :at)")
# Everything older than the room's KEEP latest lines.
PRUNE = sql(
    "DELETE FROM room_line WHERE room = :room AND id <= (SELECT id FROM room_line"
    " WHERE room = :room ORDER BY id DESC LIMIT 1 OFFSET :keep)"
)
LATEST = sql("SELECT line FROM room_line WHERE room = :room ORDER BY id DESC LIMIT :limit")


class SqlRoomLines:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def keep(self, lines: Sequence[tuple[str, dict[str, Any]]], now: datetime) -> None:
        """Adds (room, line) pairs in order, in one transaction, and prunes their rooms."""
        if not lines:
            return
        rows = [{"room": room, "line": json.dumps(line), "at": now} for room, line in lines]
        async with transaction(self.engine) as conn:
            await conn.execute(INSERT, rows)
            for room in sorted({room for room, _ in lines}):
                await conn.execute(PRUNE, {"room": room, "keep": KEEP})

    async def latest(self, room: str, limit: int = KEEP) -> list[dict[str, Any]]:
        """The room's latest lines, oldest first."""
        async with connection(self.engine) as conn:
            found = (await conn.execute(LATEST, {"room": room, "limit": limit})).scalars().all()
        return [json.loads(line) for line in reversed(found)]
