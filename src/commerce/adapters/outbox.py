"""SqlOutbox: the outbox table (see `commerce.service_layer.outbox` for the rules).

Several workers may share it: on PostgreSQL `take` locks the due rows with
`FOR UPDATE SKIP LOCKED` and leases them; SQLite serialises writers (BEGIN IMMEDIATE).
"""

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.chat_inbox import DONE
from commerce.adapters.db import active, connection, transaction
from commerce.adapters.sql import sql, utc
from commerce.service_layer.group_commit import answer
from commerce.service_layer.inbox import InboxItem
from commerce.service_layer.outbox import (
    Button,
    Delivered,
    Invoice,
    OutboxCounts,
    Outgoing,
    Queued,
)

# A worker that dies mid-send gives its messages back after this (a send takes a second at
# most; discord.py waits out short 429s itself, up to 5 s).
LEASE = timedelta(seconds=20)

INSERT = sql(
    "INSERT INTO outbox (platform, chat, text, buttons, board, reply_to, invoice, image,"
    " status, attempts, not_before, edit, error, created_at)"
    " VALUES (:platform, :chat, :text, :buttons, :board, :reply_to, :invoice, :image,"
    " 'pending', 0, :at, false, '', :now)"
)
# A board text waiting to go out (not leased) is replaced by the newer one: coalescing. Into
# the newest such row: an older one (sent, refused with a 429 and waiting again) goes out
# first, so the last edit shows the latest text.
COALESCE = sql(
    "UPDATE outbox SET text = :text, buttons = :buttons, image = :image WHERE id = ("
    " SELECT id FROM outbox WHERE platform = :platform AND chat = :chat AND board = :board"
    " AND status = 'pending' AND (lease_until IS NULL OR lease_until <= :now)"
    " ORDER BY id DESC LIMIT 1)"
)
LAST_BOARD_EDIT = sql(
    "SELECT last_sent_at FROM board_message WHERE platform = :platform AND chat = :chat"
    " AND board = :board"
)
# A chat's messages leave in the order they were put: one that waits (paced, retried later or
# under way) holds back the chat's newer ones, and a round takes them oldest first.
DUE = """
    SELECT o.id, o.chat, o.text, o.buttons, o.board, o.reply_to, o.invoice, o.image,
      o.attempts, b.message_ref, b.image AS shown_image
    FROM outbox o LEFT JOIN board_message b
      ON b.platform = o.platform AND b.chat = o.chat AND b.board = o.board
    LEFT JOIN chat_pace c ON c.platform = o.platform AND c.chat = o.chat
    WHERE o.platform = :platform AND o.status = 'pending' AND o.not_before <= :now
      AND (o.lease_until IS NULL OR o.lease_until <= :now)
      AND (c.next_at IS NULL OR c.next_at <= :now)
      AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.platform = o.platform AND p.chat = o.chat
                      AND p.status = 'pending' AND p.id < o.id
                      AND (p.not_before > :now OR p.lease_until > :now))
    ORDER BY o.id LIMIT :limit
"""
# The same on PostgreSQL, the chats that have a message waiting, and those paced, found
# first, with one pass over the platform's pending rows and one over its paces: without
# statistics on a table that just filled (a new shop's first drop: thousands of answers in a
# second), the planner ran DUE's check as a scan of the whole backlog for each due row, the
# chat a filter and not an index condition (2.3 s a round over 2,000 pending answers; 3.5 ms
# this way, whatever it estimates). A chat's due message goes when it is older than the
# chat's first waiting one.
DUE_PG = """
    WITH waiting AS MATERIALIZED (
      SELECT chat, min(id) AS first FROM outbox
      WHERE platform = :platform AND status = 'pending'
        AND (not_before > :now OR lease_until > :now)
      GROUP BY chat),
    paced AS MATERIALIZED (
      SELECT chat FROM chat_pace WHERE platform = :platform AND next_at > :now)
    SELECT o.id, o.chat, o.text, o.buttons, o.board, o.reply_to, o.invoice, o.image,
      o.attempts, b.message_ref, b.image AS shown_image
    FROM outbox o LEFT JOIN board_message b
      ON b.platform = o.platform AND b.chat = o.chat AND b.board = o.board
    LEFT JOIN paced c ON c.chat = o.chat
    LEFT JOIN waiting w ON w.chat = o.chat
    WHERE o.platform = :platform AND o.status = 'pending' AND o.not_before <= :now
      AND (o.lease_until IS NULL OR o.lease_until <= :now)
      AND c.chat IS NULL AND (w.first IS NULL OR o.id < w.first)
    ORDER BY o.id LIMIT :limit
"""
TAKE_PG = sql(DUE_PG + " FOR UPDATE OF o SKIP LOCKED")
TAKE_SQLITE = sql(DUE)
LEASE_ROWS = sql("UPDATE outbox SET lease_until = :lease WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)
# Only the text that went out is marked sent: a board text coalesced into the row meanwhile
# (its lease had run out while the send was under way) stays pending, to go out next.
MARK_SENT = sql(
    "UPDATE outbox SET status = 'sent', message_ref = :ref, edit = :edit, sent_at = :now,"
    " lease_until = NULL WHERE id = :id AND text = :text AND buttons = :buttons"
    " AND COALESCE(image, '') = COALESCE(:image, '')"
).bindparams(bindparam("image", type_=String()))
# A chat with a new id (Telegram: a group upgraded to a supergroup).
MOVE_OUTBOX = sql(
    "UPDATE outbox SET chat = :new WHERE platform = :platform AND chat = :old"
    " AND status = 'pending'"
)
FORGET_BOARDS = sql("DELETE FROM board_message WHERE platform = :platform AND chat = :old")
FORGET_PACE = sql("DELETE FROM chat_pace WHERE platform = :platform AND chat = :old")
# The tables naming the chats a drop, show, auction, giveaway or poll runs in ("platform:id").
CHANNEL_TABLES = (
    ("drop_channel", "drop_id"),
    ("show_channel", "show_id"),
    ("auction_channel", "auction_id"),
    ("giveaway_channel", "giveaway_id"),
    ("poll_channel", "poll_id"),
)
MOVE_CHANNEL = (
    "UPDATE {t} SET chat = :new WHERE chat = :old AND NOT EXISTS"
    " (SELECT 1 FROM {t} n WHERE n.{k} = {t}.{k} AND n.chat = :new)"
)
# A delivered row its mark did not match (see MARK_SENT) is let go, to be taken again.
RELEASE_UNMARKED = sql(
    "UPDATE outbox SET lease_until = NULL WHERE id IN :ids AND status = 'pending'"
).bindparams(bindparam("ids", expanding=True))
# A posted picture stays when an edit carries none (a message's media cannot be removed):
# the board remains a photo whose caption is edited.
UPSERT_BOARD = sql(
    "INSERT INTO board_message (platform, chat, board, message_ref, last_sent_at, image)"
    " VALUES (:platform, :chat, :board, :ref, :now, :image)"
    " ON CONFLICT (platform, chat, board) DO UPDATE SET message_ref = excluded.message_ref,"
    " last_sent_at = excluded.last_sent_at, image = CASE"
    " WHEN excluded.message_ref = board_message.message_ref"
    " THEN COALESCE(excluded.image, board_message.image) ELSE excluded.image END"
)
# Another worker may have sent to the chat a moment ago: the later of the two times wins.
PACE = sql(
    "INSERT INTO chat_pace (platform, chat, next_at) VALUES (:platform, :chat, :at)"
    " ON CONFLICT (platform, chat) DO UPDATE SET next_at = excluded.next_at"
    " WHERE chat_pace.next_at < excluded.next_at"
)
PACED_UNTIL = sql("SELECT next_at FROM chat_pace WHERE platform = :platform AND chat = :chat")
PACES = sql(
    "SELECT chat, next_at FROM chat_pace WHERE platform = :platform AND chat IN :chats"
).bindparams(bindparam("chats", expanding=True))
RETRY = sql(
    "UPDATE outbox SET not_before = :at, lease_until = NULL, error = :error,"
    " attempts = attempts + :attempt WHERE id = :id"
)
GIVE_UP = sql(
    "UPDATE outbox SET status = 'undeliverable', error = :error, lease_until = NULL WHERE id = :id"
)
COUNTS = """
    SELECT
      COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0),
      COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0),
      COALESCE(SUM(CASE WHEN status = 'sent' AND edit THEN 1 ELSE 0 END), 0),
      COALESCE(SUM(CASE WHEN status = 'undeliverable' THEN 1 ELSE 0 END), 0)
    FROM outbox
"""


# Puts stored together in one transaction, at most (a flash drop's answers all at once).
PUTS_TOGETHER = 100


@dataclass(slots=True)
class _Put:
    messages: list[Outgoing]
    now: datetime
    done: InboxItem | None
    stored: "asyncio.Future[None]"


class SqlOutbox:
    def __init__(self, engine: AsyncEngine, board_every: timedelta = timedelta(seconds=3)):
        self.engine = engine
        self.board_every = board_every  # at most one board edit per chat this often
        self.postgres = engine.dialect.name == "postgresql"
        self.puts: list[_Put] = []  # waiting to be stored together
        self.storing: asyncio.Task[None] | None = None

    async def put(
        self, messages: list[Outgoing], now: datetime, done: InboxItem | None = None
    ) -> None:
        """See `Outbox.put`. Inside a unit of work: in its transaction. Otherwise the puts
        that come together are stored together (group commit: one transaction, in the order
        they came, each caller answered after the commit), as a flash drop's private answers
        do; on SQLite each would wait its turn for the one connection anyway."""
        if not messages:
            return
        if active(self.engine) is not None:
            async with transaction(self.engine) as conn:
                await self._store(conn, messages, now, done)
            return
        put = _Put(messages, now, done, asyncio.get_running_loop().create_future())
        self.puts.append(put)
        if self.storing is None or self.storing.done():
            self.storing = asyncio.create_task(self._store_together())
        await put.stored

    async def close(self) -> None:
        """Stores what was put before the shop stops (its callers wait for it): left running,
        the storing task would be destroyed with the event loop in the middle of its
        transaction, its connection never given back."""
        storing = self.storing
        if storing is not None and not storing.done():
            await asyncio.wait({storing})

    async def _store_together(self) -> None:
        batch: list[_Put] = []
        try:
            while self.puts:
                batch, self.puts = self.puts[:PUTS_TOGETHER], self.puts[PUTS_TOGETHER:]
                try:
                    async with transaction(self.engine) as conn:
                        await self._store_all(conn, batch)
                except Exception:
                    # A put that fails must fail alone: the batch was undone, each goes again
                    # in a transaction of its own.
                    for put in batch:
                        try:
                            async with transaction(self.engine) as conn:
                                await self._store(conn, put.messages, put.now, put.done)
                        except Exception as exc:
                            answer(put.stored, exc)
                        else:
                            answer(put.stored, None)
                else:
                    for put in batch:
                        answer(put.stored, None)
                batch = []
        finally:  # cancelled (a shutdown): nobody waits for good
            for put in batch + self.puts:
                answer(put.stored, RuntimeError("the outbox stopped before the put was stored"))
            self.puts = []

    async def _store_all(self, conn: AsyncConnection, puts: list[_Put]) -> None:
        """The puts in order; private answers (no board: a flash drop's) a statement for all
        of them each."""
        if any(m.board is not None for put in puts for m in put.messages):
            for put in puts:
                await self._store(conn, put.messages, put.now, put.done)
            return
        await put_plain_messages(conn, [(m, put.now) for put in puts for m in put.messages])
        done = [p.done for p in puts if p.done is not None]
        if done:
            await conn.execute(
                DONE, [{"platform": d.platform, "update_id": d.update_id} for d in done]
            )

    async def _store(
        self,
        conn: AsyncConnection,
        messages: list[Outgoing],
        now: datetime,
        done: InboxItem | None,
    ) -> None:
        for message in messages:
            await put_message(conn, message, now, self.board_every)
        if done is not None:  # the chat update these answer: finished with them
            await conn.execute(DONE, {"platform": done.platform, "update_id": done.update_id})

    async def take(self, platform: str, now: datetime, limit: int) -> list[Queued]:
        taken: list[Queued] = []
        boards: set[tuple[str, str]] = set()
        statement = TAKE_PG if self.postgres else TAKE_SQLITE
        async with transaction(self.engine) as conn:
            rows = await conn.execute(
                statement, {"platform": platform, "now": now, "limit": limit}
            )
            for row in rows.all():
                # One message per board in a round: a second one would not know the message
                # the first is about to post, and post the board twice.
                if row.board is not None:
                    if (row.chat, row.board) in boards:
                        continue
                    boards.add((row.chat, row.board))
                message = Outgoing(
                    platform=platform,
                    chat=row.chat,
                    text=row.text,
                    buttons=tuple(Button(**b) for b in json.loads(row.buttons)),
                    board=row.board,
                    reply_to=row.reply_to,
                    invoice=Invoice.from_json(json.loads(row.invoice)) if row.invoice else None,
                    image=row.image,
                )
                queued = Queued(row.id, message, row.attempts, row.message_ref, row.shown_image)
                taken.append(queued)
            if taken:
                leased = [q.id for q in taken]
                await conn.execute(LEASE_ROWS, {"ids": leased, "lease": now + LEASE})
        return taken

    async def sent(
        self, item: Queued, message_ref: str, now: datetime, pace_until: datetime | None = None
    ) -> None:
        """One message marked sent (see `sent_all`)."""
        await self.sent_all([Delivered(item, message_ref, now, pace_until)])

    async def sent_all(self, delivered: Sequence[Delivered]) -> None:
        """Marks them sent in one transaction, a statement for all of them each (the driver's
        executemany): the chats' paces, the marks, and the boards' posted messages."""
        if not delivered:
            return
        paces: dict[tuple[str, str], datetime] = {}
        marks, boards, board_ids = [], [], []
        for done in delivered:
            message = done.item.message
            chat, until = (message.platform, message.chat), done.pace_until
            if until is not None and (chat not in paces or paces[chat] < until):
                paces[chat] = until
            marks.append(
                {
                    "id": done.item.id,
                    "ref": done.message_ref,
                    "edit": done.item.message_ref is not None,
                    "now": done.at,
                    "text": message.text,
                    "buttons": json.dumps([_button_json(b) for b in message.buttons]),
                    "image": message.image,
                }
            )
            if message.board is not None:
                board_ids.append(done.item.id)
                boards.append(
                    {
                        "platform": message.platform,
                        "chat": message.chat,
                        "board": message.board,
                        "ref": done.message_ref,
                        "now": done.at,
                        "image": message.image,
                    }
                )
        async with transaction(self.engine) as conn:
            if paces:
                await conn.execute(
                    PACE, [{"platform": p, "chat": c, "at": at} for (p, c), at in paces.items()]
                )
            await conn.execute(MARK_SENT, marks)
            if board_ids:
                # Only a board's row can have had its text replaced (coalescing) while it was
                # under way: such a row is left pending and let go, its newer text to go out.
                await conn.execute(RELEASE_UNMARKED, {"ids": board_ids})
                await conn.execute(UPSERT_BOARD, boards)

    async def retry(
        self, item: Queued, at: datetime, error: str, attempt: bool = True, pace: bool = False
    ) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(
                RETRY, {"id": item.id, "at": at, "error": error[:300], "attempt": int(attempt)}
            )
            if pace:
                await self._pace(conn, item.message, at)

    async def _pace(self, conn: AsyncConnection, message: Outgoing, until: datetime) -> None:
        await conn.execute(PACE, {"platform": message.platform, "chat": message.chat, "at": until})

    async def move_chat(self, platform: str, old: str, new: str) -> int:
        """See `Outbox.move_chat`; one transaction, harmless when repeated."""
        params = {"platform": platform, "old": old, "new": new}
        scoped = {"old": f"{platform}:{old}", "new": f"{platform}:{new}"}
        moved = 0
        async with transaction(self.engine) as conn:
            moved += (await conn.execute(MOVE_OUTBOX, params)).rowcount
            await conn.execute(FORGET_BOARDS, params)
            await conn.execute(FORGET_PACE, params)
            for table, key in CHANNEL_TABLES:
                moved += (
                    await conn.execute(sql(MOVE_CHANNEL.format(t=table, k=key)), scoped)
                ).rowcount
                await conn.execute(sql(f"DELETE FROM {table} WHERE chat = :old"), scoped)
        return int(moved)

    async def undeliverable(self, item: Queued, error: str) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(GIVE_UP, {"id": item.id, "error": error[:300]})

    async def counts(self, platform: str | None = None) -> OutboxCounts:
        where = " WHERE platform = :platform" if platform else ""
        async with connection(self.engine) as conn:
            row = (await conn.execute(sql(COUNTS + where), {"platform": platform})).one()
        return OutboxCounts(*(int(v) for v in row))


def _button_json(button: Button) -> dict[str, str | None]:
    return {"label": button.label, "url": button.url, "action": button.action}


async def put_message(
    conn: AsyncConnection,
    message: Outgoing,
    now: datetime,
    board_every: timedelta = timedelta(seconds=3),
) -> None:
    """Stores one message in the caller's transaction: a use case's messages commit with
    the change they tell of (see SqlOutbox.put for boards and pacing)."""
    row = _row(message, now)
    if message.board is not None:
        if (await conn.execute(COALESCE, row)).rowcount:
            return
        last = (await conn.execute(LAST_BOARD_EDIT, row)).scalar()
        if last is not None:
            row["at"] = max(now, utc(last) + board_every)
    paced = (await conn.execute(PACED_UNTIL, row)).scalar()
    if paced is not None:
        row["at"] = max(row["at"], utc(paced))
    await conn.execute(INSERT, row)


def _row(message: Outgoing, now: datetime) -> dict[str, Any]:
    return {
        "platform": message.platform,
        "chat": message.chat,
        "text": message.text,
        "buttons": json.dumps([_button_json(b) for b in message.buttons]),
        "board": message.board,
        "reply_to": message.reply_to,
        "invoice": json.dumps(message.invoice.json()) if message.invoice else None,
        "image": message.image,
        "now": now,
        "at": now,
    }


async def put_plain_messages(
    conn: AsyncConnection, messages: list[tuple[Outgoing, datetime]]
) -> None:
    """Stores messages without a board (no coalescing, no board pace: only the chats' paces
    apply) in the caller's transaction, as `put_message` one by one would, with a statement
    for all their chats' paces per platform and one for all the rows (executemany)."""
    rows = [_row(message, now) for message, now in messages]
    for platform in {row["platform"] for row in rows}:
        chats = list({row["chat"] for row in rows if row["platform"] == platform})
        found = await conn.execute(PACES, {"platform": platform, "chats": chats})
        paced = {chat: utc(until) for chat, until in found}
        for row in rows:
            until = paced.get(row["chat"]) if row["platform"] == platform else None
            if until is not None:
                row["at"] = max(row["at"], until)
    await conn.execute(INSERT, rows)
