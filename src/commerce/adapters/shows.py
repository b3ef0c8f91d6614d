"""SqlShows: shows, their run sheets and who chatted while they ran.

A lot's "running" is read from what it became (the auction still live, the drop still live
with units left, the giveaway not drawn yet), so /next never needs a timer of its own.
"""

import asyncio
import time
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.db import active, connection, transaction
from commerce.adapters.sql import maybe_utc, sql, utc
from commerce.domain.errors import Conflict, InvalidInput, NotFound
from commerce.domain.money import Money
from commerce.domain.shows import MAX_LOTS, REMIND_BEFORE, LotSpec, LotStatus, ShowStatus
from commerce.service_layer.results import LotView, ShowView
from commerce.service_layer.unit_of_work import after_commit

LIVE_CHATS_TTL = 5.0  # seconds a worker trusts its list of chats with a running show

INSERT_SHOW = sql(
    "INSERT INTO show (code, title, status, starts_at, announced_at, created_by, created_at,"
    " shipping) VALUES (:code, :title, 'scheduled', :at, :now, :actor, :now, :shipping)"
    " RETURNING id"
)
INSERT_CHANNEL = sql("INSERT INTO show_channel (show_id, chat) VALUES (:show_id, :chat)")
SHOW_BY_CODE = sql("SELECT * FROM show WHERE code = :code")
SHOW_BY_ID = sql("SELECT * FROM show WHERE id = :id")
CHANNELS = sql("SELECT chat FROM show_channel WHERE show_id = :id ORDER BY chat")
# Running first (live, paused), else the next scheduled one; never an ended show.
IN_CHAT = sql(
    "SELECT s.id FROM show s JOIN show_channel c ON c.show_id = s.id WHERE c.chat = :chat"
    " AND s.status <> 'ended' ORDER BY CASE WHEN s.status = 'scheduled' THEN 1 ELSE 0 END,"
    " s.starts_at LIMIT 1"
)
ALL_SHOWS = sql(
    "SELECT id FROM show WHERE (:status IS NULL OR status = :status) ORDER BY starts_at DESC"
)
LOTS = sql(
    "SELECT l.*, p.name, p.currency, p.image, p.description, a.status AS auction_status,"
    " d.status AS drop_status,"
    " d.remaining AS drop_remaining, g.status AS giveaway_status FROM lot l"
    " JOIN product p ON p.sku = l.sku LEFT JOIN auction a ON a.id = l.auction_id"
    " LEFT JOIN drops d ON d.id = l.drop_id LEFT JOIN giveaway g ON g.id = l.giveaway_id"
    " WHERE l.show_id = :id ORDER BY l.position"
)
# Paid orders of the show's drops and of its auctions' sales.
TOTALS = sql(
    "SELECT o.currency, COUNT(*) AS sold, SUM(o.amount_minor) AS revenue FROM orders o"
    " WHERE o.status IN ('paid', 'fulfilled') AND o.drop_id IN ("
    "  SELECT drop_id FROM lot WHERE show_id = :id AND drop_id IS NOT NULL"
    "  UNION SELECT a.drop_id FROM lot l JOIN auction a ON a.id = l.auction_id"
    "  WHERE l.show_id = :id AND a.drop_id IS NOT NULL)"
    " GROUP BY o.currency ORDER BY COUNT(*) DESC"
)
PRODUCT = sql("SELECT id FROM product WHERE sku = :sku")
LOT_COUNT = sql("SELECT COUNT(*) FROM lot WHERE show_id = :id")
INSERT_LOT = sql(
    "INSERT INTO lot (show_id, position, sku, mode, price_minor, quantity, duration_seconds,"
    " close, status) VALUES (:show_id, :position, :sku, :mode, :price, :quantity, :duration,"
    " :close, 'pending')"
)
LOCK_SHOW = sql("UPDATE show SET status = status WHERE id = :id")
# Each change of a show's state names the states it may come from: two co-hosts, or the
# sweeper and a co-host, never undo each other.
SET_STATUS = {
    ShowStatus.LIVE: sql(
        "UPDATE show SET status = 'live', opened_at = COALESCE(opened_at, :now)"
        " WHERE id = :id AND status IN ('scheduled', 'paused', 'live')"
    ),
    ShowStatus.PAUSED: sql("UPDATE show SET status = 'paused' WHERE id = :id AND status = 'live'"),
    ShowStatus.ENDED: sql(
        "UPDATE show SET status = 'ended', ended_at = :now WHERE id = :id AND status <> 'ended'"
    ),
}
OPEN_DUE = sql(
    "UPDATE show SET status = 'live', opened_at = :now WHERE id = :id AND status = 'scheduled'"
)
# The lot on stage (live, or being started by another /next right now).
ON_STAGE = sql(
    "SELECT position FROM lot WHERE show_id = :show_id AND status IN ('live', 'starting')"
)
FIRST_PENDING = sql(
    "SELECT MIN(position) FROM lot WHERE show_id = :show_id AND status = 'pending'"
)
SET_LOT = sql(
    "UPDATE lot SET status = CAST(:to AS VARCHAR(16)), ended_at = CASE WHEN"
    " CAST(:to AS VARCHAR(16)) IN ('done', 'skipped') THEN :now ELSE ended_at END"
    " WHERE show_id = :show_id AND position = :position AND status = :from"
)
START_LOT = {
    kind: sql(
        f"UPDATE lot SET status = 'live', {kind}_id = :target, started_at = :now"
        " WHERE show_id = :show_id AND position = :position AND status = 'starting'"
    )
    for kind in ("drop", "auction", "giveaway")
}
TO_REMIND = sql(
    "SELECT id FROM show WHERE status = 'scheduled' AND reminded_at IS NULL"
    " AND starts_at <= :soon AND starts_at > :now"
)
TO_OPEN = sql("SELECT id FROM show WHERE status = 'scheduled' AND starts_at <= :now")
REMINDED = sql("UPDATE show SET reminded_at = :now WHERE id = :id AND reminded_at IS NULL")
LIVE_CHATS = sql(
    "SELECT c.chat FROM show_channel c JOIN show s ON s.id = c.show_id"
    " WHERE s.status IN ('live', 'paused')"
)
CHATTED = sql(
    "INSERT INTO show_chatter (show_id, identity, first_at)"
    " SELECT s.id, :identity, :now FROM show s JOIN show_channel c ON c.show_id = s.id"
    " WHERE c.chat = :chat AND s.status IN ('live', 'paused')"
    " ON CONFLICT (show_id, identity) DO NOTHING"
)


class SqlShows:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._live: frozenset[str] = frozenset()
        self._chats_read_at: float | None = None  # monotonic; None: read at the next message
        self._reading = asyncio.Lock()  # the messages arriving together read the list once
        # (chat, identity) recorded as taking part since the list was last read: a buyer's
        # next messages cost no write (the insert would do nothing).
        self._recorded: set[tuple[str, str]] = set()

    async def create_show(
        self,
        title: str,
        code: str,
        starts_at: datetime,
        channels: tuple[str, ...],
        actor: str,
        now: datetime,
        shipping: str = "buyer",
    ) -> ShowView:
        values = {"code": code, "title": title, "at": starts_at, "now": now, "actor": actor}
        values["shipping"] = shipping
        try:
            async with transaction(self.engine) as conn:
                show_id = (await conn.execute(INSERT_SHOW, values)).scalar_one()
                for chat in sorted(set(channels)):
                    await conn.execute(INSERT_CHANNEL, {"show_id": show_id, "chat": chat})
                return await _view(conn, show_id)
        except IntegrityError:
            raise Conflict(f"a show {code} exists already; give this one another --code") from None

    async def add_lot(self, code: str, spec: LotSpec, price_minor: int | None) -> ShowView:
        async with transaction(self.engine) as conn:
            show = await _by_code(conn, code)
            await conn.execute(LOCK_SHOW, {"id": show.id})  # positions are counted under it
            if show.status == ShowStatus.ENDED:
                raise InvalidInput(f"show {show.code} has ended")
            if (await conn.execute(PRODUCT, {"sku": spec.sku})).first() is None:
                raise NotFound(f"no product {spec.sku}")
            count = (await conn.execute(LOT_COUNT, {"id": show.id})).scalar_one()
            if count >= MAX_LOTS:
                raise InvalidInput(f"a show has at most {MAX_LOTS} lots")
            await conn.execute(
                INSERT_LOT,
                {
                    "show_id": show.id,
                    "position": count + 1,
                    "sku": spec.sku,
                    "mode": spec.mode.value,
                    "price": price_minor,
                    "quantity": spec.quantity,
                    "duration": int(spec.duration.total_seconds()) if spec.duration else None,
                    "close": spec.close,
                },
            )
            return await _view(conn, show.id)

    async def show(self, code: str) -> ShowView:
        async with connection(self.engine) as conn:
            return await _view(conn, (await _by_code(conn, code)).id)

    async def show_in_chat(self, chat: str) -> ShowView | None:
        async with connection(self.engine) as conn:
            show_id = (await conn.execute(IN_CHAT, {"chat": chat})).scalar()
            return None if show_id is None else await _view(conn, show_id)

    async def shows(self, status: str | None = None) -> list[ShowView]:
        async with connection(self.engine) as conn:
            ids = (await conn.execute(ALL_SHOWS, {"status": status})).scalars().all()
            return [await _view(conn, show_id) for show_id in ids]

    async def set_status(self, show_id: int, status: str, now: datetime) -> ShowView:
        async with transaction(self.engine) as conn:
            result = await conn.execute(
                SET_STATUS[ShowStatus(status)], {"id": show_id, "now": now}
            )
            view = await _view(conn, show_id)
        self._chats_read_at = None
        if result.rowcount != 1:
            raise InvalidInput(f"show {view.code} is {view.status}")
        return view

    async def take_next(self, show_id: int, on_stage: int | None, now: datetime) -> LotView:
        """Under the show's lock: the lot on stage is still `on_stage` (else another /next
        or /skip came first), it is done, and the next pending lot is being started."""
        keys = {"show_id": show_id, "now": now}
        async with transaction(self.engine) as conn:
            await conn.execute(LOCK_SHOW, {"id": show_id})
            stage = (await conn.execute(ON_STAGE, keys)).scalars().all()
            if list(stage) != ([] if on_stage is None else [on_stage]):
                raise Conflict("the show has just moved on; look at its board")
            if on_stage is not None:
                await conn.execute(
                    SET_LOT, {**keys, "position": on_stage, "from": "live", "to": "done"}
                )
            position = (await conn.execute(FIRST_PENDING, keys)).scalar()
            if position is None:
                raise NotFound("that was the last lot; /show end closes the show")
            await conn.execute(
                SET_LOT, {**keys, "position": position, "from": "pending", "to": "starting"}
            )
            await conn.execute(SET_STATUS[ShowStatus.LIVE], {"id": show_id, "now": now})
            view = await _view(conn, show_id)
        self._chats_read_at = None
        return next(lot for lot in view.lots if lot.position == position)

    async def lot_started(
        self, show_id: int, position: int, ref: tuple[str, int], now: datetime
    ) -> ShowView:
        kind, ref_id = ref
        keys = {"show_id": show_id, "position": position, "target": ref_id, "now": now}
        async with transaction(self.engine) as conn:
            await conn.execute(START_LOT[kind], keys)
            return await _view(conn, show_id)

    async def lot_not_started(self, show_id: int, position: int, now: datetime) -> None:
        """Its sale could not start (no stock, ...): back on the run sheet."""
        keys = {"show_id": show_id, "position": position, "now": now}
        async with transaction(self.engine) as conn:
            await conn.execute(SET_LOT, {**keys, "from": "starting", "to": "pending"})

    async def lot_ended(self, show_id: int, position: int, status: str, now: datetime) -> ShowView:
        """A live lot done (/show end), or a pending one skipped: only from that state."""
        keys = {"show_id": show_id, "position": position, "now": now, "to": status}
        came_from = "pending" if status == LotStatus.SKIPPED else "live"
        async with transaction(self.engine) as conn:
            await conn.execute(LOCK_SHOW, {"id": show_id})
            result = await conn.execute(SET_LOT, {**keys, "from": came_from})
            if result.rowcount != 1:
                raise Conflict("the show has just moved on; look at its board")
            return await _view(conn, show_id)

    async def open_due(self, show_id: int, now: datetime) -> ShowView | None:
        """The sweeper opens a show at its start, unless someone did (or ended it) first."""
        async with transaction(self.engine) as conn:
            opened = (await conn.execute(OPEN_DUE, {"id": show_id, "now": now})).rowcount
            view = await _view(conn, show_id) if opened == 1 else None
        self._chats_read_at = None
        return view

    async def due(self, now: datetime) -> tuple[list[ShowView], list[ShowView]]:
        async with connection(self.engine) as conn:
            keys = {"now": now, "soon": now + REMIND_BEFORE}
            remind = (await conn.execute(TO_REMIND, keys)).scalars().all()
            opening = (await conn.execute(TO_OPEN, {"now": now})).scalars().all()
            return (
                [await _view(conn, i) for i in remind],
                [await _view(conn, i) for i in opening],
            )

    async def reminded(self, show_id: int, now: datetime) -> bool:
        async with transaction(self.engine) as conn:
            return bool((await conn.execute(REMINDED, {"id": show_id, "now": now})).rowcount == 1)

    async def chatted(self, chat: str, identity: str, now: datetime) -> None:
        # Most messages are in chats without a running show: they cost no write (the list
        # of show chats is read again every few seconds, by each worker).
        if chat not in await self._live_chats(now) or (chat, identity) in self._recorded:
            return
        async with transaction(self.engine) as conn:
            await conn.execute(CHATTED, {"chat": chat, "identity": identity, "now": now})
        # Once committed: a message whose unit of work rolls back recorded no one.
        after_commit(lambda: self._recorded.add((chat, identity)))

    async def _live_chats(self, now: datetime) -> frozenset[str]:
        if not self._stale():
            return self._live
        if active(self.engine) is not None:  # never wait for the lock inside a unit of work
            await self._read_live_chats()
            return self._live
        async with self._reading:  # a burst of messages: one of them reads, the others wait
            if self._stale():
                await self._read_live_chats()
        return self._live

    def _stale(self) -> bool:
        read_at = self._chats_read_at
        return read_at is None or time.monotonic() - read_at > LIVE_CHATS_TTL

    async def _read_live_chats(self) -> None:
        async with connection(self.engine) as conn:
            chats = (await conn.execute(LIVE_CHATS)).scalars().all()
        self._live, self._chats_read_at = frozenset(chats), time.monotonic()
        self._recorded.clear()  # a show may have ended or begun since: record anew


async def _by_code(conn: AsyncConnection, code: str) -> Any:
    row = (await conn.execute(SHOW_BY_CODE, {"code": code.strip().upper()})).first()
    if row is None:
        raise NotFound(f"no show {code.strip().upper()}")
    return row


async def _view(conn: AsyncConnection, show_id: int) -> ShowView:
    show = (await conn.execute(SHOW_BY_ID, {"id": show_id})).one()
    channels = (await conn.execute(CHANNELS, {"id": show_id})).scalars().all()
    lots = [_lot(row) for row in (await conn.execute(LOTS, {"id": show_id})).all()]
    totals = (await conn.execute(TOTALS, {"id": show_id})).first()
    return ShowView(
        id=show.id,
        code=show.code,
        title=show.title,
        shipping=show.shipping,
        status=show.status,
        starts_at=utc(show.starts_at),
        channels=tuple(channels),
        lots=tuple(lots),
        sold=int(totals.sold) if totals else 0,
        revenue=Money(int(totals.revenue), totals.currency) if totals else None,
    )


def _lot(row: Any) -> LotView:
    running = row.status == LotStatus.LIVE and (
        row.auction_status == "live"
        or (row.drop_status == "live" and (row.drop_remaining or 0) > 0)
        or row.giveaway_status == "live"  # until the sweeper draws it
    )
    return LotView(
        position=row.position,
        sku=row.sku,
        name=row.name,
        mode=row.mode,
        price=None if row.price_minor is None else Money(row.price_minor, row.currency),
        quantity=row.quantity,
        duration_seconds=row.duration_seconds,
        close=row.close,
        status=row.status,
        drop_id=row.drop_id,
        auction_id=row.auction_id,
        giveaway_id=row.giveaway_id,
        running=bool(running),
        started_at=maybe_utc(row.started_at),
        ended_at=maybe_utc(row.ended_at),
        image=row.image,
        description=row.description or "",
    )
