"""SqlChatInbox: chat updates stored before the platform is told they arrived (`chat_inbox`).

A platform update is written here first (Telegram: before the next getUpdates offset confirms
it, or before the webhook's 200), so a crash after the acknowledgement loses nothing. Every
worker then processes rows, and one chat's rows strictly one at a time in the platform's
order: a row is taken only when no earlier row of its chat is unfinished. A row belongs to
the worker that took it while that worker's heartbeat lives (`worker` table, see leases.py):
one killed mid-update leaves its row to whoever looks next, with no per-row lease to renew.
A turn's rows stay their taker's until the runner ends the turn (`finish`), even once marked
done: an update is marked done with its answer (the outbox's `put`), while its processing and
its turn's other updates may still go on, and the chat's next row must wait for all of them.
On PostgreSQL the candidates are locked with `FOR UPDATE SKIP LOCKED`; SQLite serialises
writers (BEGIN IMMEDIATE). The guarded UPDATE settles any remaining race: one taker wins.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, TextClause
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import sql, utc
from commerce.service_layer.inbox import InboxItem, InboxState

# A worker whose heartbeat is older than this is gone (leases.py renews every 2 s).
ALIVE_FOR = timedelta(seconds=6)

STORE = sql(
    "INSERT INTO chat_inbox (platform, update_id, chat, seq, payload, done, taken_by, attempts,"
    " not_before, received_at, error) VALUES (:platform, :update_id, :chat, :seq, :payload,"
    " false, NULL, 0, :now, :now, '') ON CONFLICT (platform, update_id) DO NOTHING"
)
# Free: nobody's, ours to retry, or taken by a worker that stopped beating.
FREE = """(i.taken_by IS NULL OR (i.taken_by <> :me AND NOT EXISTS (
        SELECT 1 FROM worker w WHERE w.id = i.taken_by AND w.seen_at > :stale)))"""
# No earlier row of its chat unfinished, nor still held in a live worker's turn: the chat's
# last done row before it (a turn's rows are a run; the runner lets go of them all at once).
FIRST_OF_ITS_CHAT = """NOT EXISTS (SELECT 1 FROM chat_inbox e WHERE e.platform = i.platform
        AND e.done = false AND e.chat = i.chat AND e.seq < i.seq)
      AND NOT EXISTS (SELECT 1 FROM chat_inbox h WHERE h.platform = i.platform
        AND h.update_id = (SELECT l.update_id FROM chat_inbox l WHERE l.platform = i.platform
          AND l.done = true AND l.chat = i.chat AND l.seq < i.seq ORDER BY l.seq DESC LIMIT 1)
        AND (h.taken_by = :me OR EXISTS (
          SELECT 1 FROM worker w WHERE w.id = h.taken_by AND w.seen_at > :stale)))"""
# The first unfinished row of every chat whose turn it is.
HEADS = f"""
    SELECT i.update_id, i.chat, i.seq, i.payload, i.attempts FROM chat_inbox i
    WHERE i.platform = :platform AND i.done = false AND i.not_before <= :now AND {FREE}
      AND {FIRST_OF_ITS_CHAT}
    ORDER BY i.seq LIMIT :limit
"""
# One chat's next row, by the index (platform, done, chat, seq).
NEXT = f"""
    SELECT i.update_id, i.chat, i.seq, i.payload, i.attempts FROM chat_inbox i
    WHERE i.platform = :platform AND i.done = false AND i.chat = :chat AND i.not_before <= :now
      AND {FREE} AND {FIRST_OF_ITS_CHAT}
    ORDER BY i.seq LIMIT 1
"""
# The rows right after a chat's head (ours), with what decides whether they may join its turn.
FOLLOWERS = sql(f"""
    SELECT i.update_id, i.chat, i.seq, i.payload, i.attempts,
      CASE WHEN i.not_before <= :now AND {FREE} THEN 1 ELSE 0 END AS ready
    FROM chat_inbox i
    WHERE i.platform = :platform AND i.done = false AND i.chat = :chat AND i.seq > :seq
    ORDER BY i.seq LIMIT :limit
""")
TAKE = sql(
    "UPDATE chat_inbox SET taken_by = :me, attempts = attempts + 1 WHERE platform = :platform"
    " AND update_id = :update_id AND done = false AND (taken_by IS NULL OR taken_by <> :me"
    " AND NOT EXISTS (SELECT 1 FROM worker w WHERE w.id = taken_by AND w.seen_at > :stale))"
)
# Processed (with its answer, adapters/outbox.py): never taken again, and still its taker's
# until its turn ends (FIRST_OF_ITS_CHAT).
DONE = sql(
    "UPDATE chat_inbox SET done = true WHERE platform = :platform AND update_id = :update_id"
)
# The end of its turn: marked done (if not yet) or let go (to be retried), and not held.
FINISH = sql(
    "UPDATE chat_inbox SET done = true, taken_by = NULL WHERE platform = :platform"
    " AND update_id = :update_id"
)
LET_GO = sql(
    "UPDATE chat_inbox SET taken_by = NULL WHERE platform = :platform AND update_id = :update_id"
)
RETRY = sql(
    "UPDATE chat_inbox SET not_before = :at, error = :error"
    " WHERE platform = :platform AND update_id = :update_id"
)
GIVE_UP = sql(
    "UPDATE chat_inbox SET done = true, error = :error"
    " WHERE platform = :platform AND update_id = :update_id"
)
# Done rows too: a turn cut short leaves them held, and its chat would wait for ever.
RELEASE = sql(
    "UPDATE chat_inbox SET taken_by = NULL WHERE platform = :platform AND taken_by = :me"
)
FORGET = sql("DELETE FROM chat_inbox WHERE done = true AND received_at < :before")
STATE = sql(
    "SELECT COUNT(*), MIN(received_at) FROM chat_inbox WHERE platform = :platform AND done = false"
)


class SqlChatInbox:
    def __init__(self, engine: AsyncEngine, worker: str) -> None:
        self.engine, self.worker = engine, worker
        lock = " FOR UPDATE OF i SKIP LOCKED" if engine.dialect.name == "postgresql" else ""
        self._heads, self._next = sql(HEADS + lock), sql(NEXT + lock)

    async def store(
        self, platform: str, updates: list[tuple[str, str, int, str]], now: datetime
    ) -> int:
        """Stores (update id, chat, seq, payload) rows in one transaction; returns how many
        were new (a redelivered update is stored once)."""
        if not updates:
            return 0
        rows = [
            {"platform": platform, "update_id": u, "chat": c, "seq": s, "payload": p, "now": now}
            for u, c, s, p in updates
        ]
        new = 0
        async with transaction(self.engine) as conn:
            for row in rows:  # one by one: rowcount tells the new from the redelivered
                new += (await conn.execute(STORE, row)).rowcount
        return new

    async def heads(self, platform: str, now: datetime, limit: int) -> list[InboxItem]:
        """Takes the next row of up to `limit` chats."""
        return await self._take(self._heads, {"platform": platform, "limit": limit}, now)

    async def next(self, platform: str, chat: str, now: datetime) -> InboxItem | None:
        """Takes the next row of one chat, if it is free and due."""
        taken = await self._take(self._next, {"platform": platform, "chat": chat}, now)
        return taken[0] if taken else None

    async def followers(
        self, head: InboxItem, now: datetime, limit: int, joins: Callable[[InboxItem], bool]
    ) -> list[InboxItem]:
        """Takes the rows right after `head` (taken by this worker) that `joins` lets share
        its turn, up to `limit`: a run without gaps, ending before the first that may not."""
        params: dict[str, object] = {
            "platform": head.platform,
            "chat": head.chat,
            "seq": head.seq,
            "limit": limit,
            "me": self.worker,
            "now": now,
            "stale": now - ALIVE_FOR,
        }
        taken: list[InboxItem] = []
        async with transaction(self.engine) as conn:
            for row in (await conn.execute(FOLLOWERS, params)).all():
                if not row.ready or not joins(_item(head.platform, row)):
                    break
                item = await self._claim(conn, params, row)
                if item is None:
                    break
                taken.append(item)
        return taken

    async def _take(
        self, query: TextClause, params: dict[str, object], now: datetime
    ) -> list[InboxItem]:
        params |= {"me": self.worker, "now": now, "stale": now - ALIVE_FOR}
        async with transaction(self.engine) as conn:
            rows = (await conn.execute(query, params)).all()
            return [item for row in rows if (item := await self._claim(conn, params, row))]

    async def _claim(
        self, conn: AsyncConnection, params: dict[str, object], row: Row[Any]
    ) -> InboxItem | None:
        taken = await conn.execute(TAKE, params | {"update_id": row.update_id})
        if not taken.rowcount:  # another worker was quicker
            return None
        return _item(str(params["platform"]), row, taken=True)

    async def done(self, item: InboxItem) -> None:
        await self.finish([item], [item], None)

    async def finish(
        self, turn: list[InboxItem], finished: list[InboxItem], now: datetime | None
    ) -> InboxItem | None:
        """Ends a turn: marks its `finished` rows done, lets go of all its rows (one set to
        retry waits for its time) and, given `now`, takes their chat's next row in the same
        transaction: between the two the chat's next row would be free, and a look for new
        chats (here or in another worker) would start a second run of the same chat."""
        ended = {item.update_id for item in finished}
        async with transaction(self.engine) as conn:
            for item in turn:
                statement = FINISH if item.update_id in ended else LET_GO
                await conn.execute(
                    statement, {"platform": item.platform, "update_id": item.update_id}
                )
            if now is None or not turn:
                return None
            head = turn[0]
            params: dict[str, object] = {"platform": head.platform, "chat": head.chat}
            params |= {"me": self.worker, "now": now, "stale": now - ALIVE_FOR}
            row = (await conn.execute(self._next, params)).first()
            return None if row is None else await self._claim(conn, params, row)

    async def retry(self, item: InboxItem, at: datetime, error: str) -> None:
        """Sets the row to be tried again at `at` (it is let go as its turn ends); the chat's
        later rows wait for it."""
        params = {"platform": item.platform, "update_id": item.update_id, "at": at}
        async with transaction(self.engine) as conn:
            await conn.execute(RETRY, params | {"error": error[:300]})

    async def give_up(self, item: InboxItem, error: str) -> None:
        """Marks the row done unprocessed (it failed every time), so its chat goes on once
        the turn ends."""
        params = {"platform": item.platform, "update_id": item.update_id, "error": error[:300]}
        async with transaction(self.engine) as conn:
            await conn.execute(GIVE_UP, params)

    async def release(self, platform: str) -> int:
        """Gives back what this worker had taken and not finished (its runner stopped in
        the middle: a lost lease, a reconnect), so that it is taken again."""
        async with transaction(self.engine) as conn:
            params = {"platform": platform, "me": self.worker}
            return int((await conn.execute(RELEASE, params)).rowcount)

    async def forget(self, before: datetime) -> int:
        """Drops finished rows older than any redelivery."""
        async with transaction(self.engine) as conn:
            return int((await conn.execute(FORGET, {"before": before})).rowcount)

    async def state(self, platform: str) -> InboxState:
        async with connection(self.engine) as conn:
            count, oldest = (await conn.execute(STATE, {"platform": platform})).one()
        return InboxState(int(count), None if oldest is None else utc(oldest))


def _item(platform: str, row: Row[Any], taken: bool = False) -> InboxItem:
    """A row as an item; `taken`: just taken, one more attempt than the row said."""
    attempt = int(row.attempts) + (1 if taken else 0)
    return InboxItem(platform, row.update_id, row.chat, int(row.seq), row.payload, attempt)
