"""SqlReadModel: the read port of service_layer.queries on SQLite or PostgreSQL.

Reads only, on a plain connection (no transaction of its own to commit); every filter is in
the SQL, so a chat's live drops or a buyer's orders never mean reading every row.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.auctions import SqlAuctions
from commerce.adapters.cards import SqlCards
from commerce.adapters.db import connection
from commerce.adapters.giveaways import SqlGiveaways
from commerce.adapters.ledger import SqlLedger
from commerce.adapters.repository import (
    FIND_ORDER_BY_REF,
    ORDER_HISTORY,
    SELECT_PRODUCT,
    SELECT_SELLER,
    SELECT_STOCK,
)
from commerce.adapters.repository import _product_view as product_view
from commerce.adapters.room_lines import SqlRoomLines
from commerce.adapters.shows import SqlShows
from commerce.adapters.sql import (
    DROP_COLUMNS,
    ORDER_COLUMNS,
    ORDER_FROM,
    sql,
    to_drop_view,
    to_order_view,
    utc,
)
from commerce.adapters.web_viewers import SqlWebViewers
from commerce.domain.drops import DropStatus
from commerce.domain.orders import OrderStatus
from commerce.service_layer.ports import SavedCard
from commerce.service_layer.results import (
    AuctionView,
    DropView,
    GiveawayRecord,
    GiveawayView,
    OrderEventView,
    OrderView,
    PollView,
    ProductView,
    ShowView,
    VariantView,
)

NO_LIMIT = 2**31 - 1  # LIMIT NULL means "no limit" on PostgreSQL but not on SQLite

DROPS_FROM = "FROM drops d JOIN product p ON p.id = d.product_id"
DROP_BY_ID = sql(f"SELECT {DROP_COLUMNS} {DROPS_FROM} WHERE d.id = :id")
LATEST_DROP = sql(
    f"SELECT {DROP_COLUMNS} {DROPS_FROM} WHERE d.code = :code ORDER BY d.id DESC LIMIT 1"
)
DROPS = sql(
    f"SELECT {DROP_COLUMNS} {DROPS_FROM} WHERE (:status IS NULL OR d.status = :status)"
    " AND (:chat IS NULL"
    "      OR EXISTS (SELECT 1 FROM drop_channel c WHERE c.drop_id = d.id AND c.chat = :chat)"
    "      OR NOT EXISTS (SELECT 1 FROM drop_channel c WHERE c.drop_id = d.id))"
    " ORDER BY d.id DESC LIMIT :limit"
)
CHANNELS_OF = sql(
    "SELECT drop_id, chat FROM drop_channel WHERE drop_id IN :ids ORDER BY chat"
).bindparams(bindparam("ids", expanding=True))
DROP_CHATS = sql("SELECT DISTINCT chat FROM drop_channel ORDER BY chat")
SHIPMENT_OF = sql(
    "SELECT s.tracking, s.carrier FROM orders o JOIN shipment s ON s.id = o.shipment_id"
    " WHERE o.ref = :ref"
)
BUYER_NAME = sql(
    "SELECT c.display_name FROM orders o JOIN customer c ON c.id = o.customer_id"
    " WHERE o.ref = :ref"
)
BUYER_NAMES = sql(
    "SELECT o.ref, c.display_name FROM orders o JOIN customer c ON c.id = o.customer_id"
    " WHERE o.ref IN :refs"
).bindparams(bindparam("refs", expanding=True))
PRODUCT_BY_SKU = sql(f"{SELECT_PRODUCT.text} WHERE sku = :sku")  # the same columns
VARIANTS_OF = sql("SELECT label, stock FROM variant WHERE product_id = :id ORDER BY id")
ORDERS = sql(
    f"SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE (:status IS NULL OR o.status = :status)"
    " AND (:identity IS NULL"
    "      OR o.customer_id = (SELECT i.customer_id FROM identity i WHERE i.key = :identity))"
    " ORDER BY o.id DESC LIMIT :limit"
).bindparams(bindparam("identity", type_=String()))


class SqlReadModel:
    """What pages and chat adapters display, read straight from the tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._auctions = SqlAuctions(engine)
        self._shows = SqlShows(engine)
        self._room_lines = SqlRoomLines(engine)
        self._giveaways = SqlGiveaways(engine)
        self._cards = SqlCards(engine)
        self._ledger = SqlLedger(engine)
        self._viewers = SqlWebViewers(engine)

    # drops -----------------------------------------------------------------------------------

    async def drop(self, drop_id: int) -> DropView | None:
        async with connection(self.engine) as conn:
            row = (await conn.execute(DROP_BY_ID, {"id": drop_id})).first()
            return None if row is None else (await _with_channels(conn, [row]))[0]

    async def latest_drop(self, code: str) -> DropView | None:
        async with connection(self.engine) as conn:
            row = (await conn.execute(LATEST_DROP, {"code": code})).first()
            return None if row is None else (await _with_channels(conn, [row]))[0]

    async def drops(
        self, status: DropStatus | None, chat: str | None, limit: int | None
    ) -> list[DropView]:
        keys = {"status": status, "chat": chat, "limit": NO_LIMIT if limit is None else limit}
        async with connection(self.engine) as conn:
            rows = (await conn.execute(DROPS, keys)).all()
            return await _with_channels(conn, rows)

    async def drop_chats(self) -> list[str]:
        async with connection(self.engine) as conn:
            return [str(c) for c in (await conn.execute(DROP_CHATS)).scalars().all()]

    # products --------------------------------------------------------------------------------

    async def products(self) -> list[ProductView]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(SELECT_PRODUCT)).all()
            stock = (await conn.execute(SELECT_STOCK)).all()
        variants: dict[int, list[VariantView]] = {}
        for v in stock:
            variants.setdefault(v.product_id, []).append(VariantView(v.label, v.stock))
        return sorted((product_view(r, variants.get(r.id, [])) for r in rows), key=lambda p: p.sku)

    async def product(self, sku: str) -> ProductView | None:
        async with connection(self.engine) as conn:
            row = (await conn.execute(PRODUCT_BY_SKU, {"sku": sku})).first()
            if row is None:
                return None
            stock = (await conn.execute(VARIANTS_OF, {"id": row.id})).all()
        return product_view(row, [VariantView(v.label, v.stock) for v in stock])

    # orders ----------------------------------------------------------------------------------

    async def order(self, ref: str) -> OrderView | None:
        async with connection(self.engine) as conn:
            row = (await conn.execute(FIND_ORDER_BY_REF, {"ref": ref})).first()
        return None if row is None else to_order_view(row)

    async def order_history(self, ref: str) -> list[OrderEventView]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(ORDER_HISTORY, {"ref": ref})).all()
        return [OrderEventView(r.from_status, r.to_status, r.cause, utc(r.at)) for r in rows]

    async def orders(
        self, status: OrderStatus | None, identity: str | None, limit: int
    ) -> list[OrderView]:
        keys = {"status": status, "identity": identity, "limit": limit}
        async with connection(self.engine) as conn:
            rows = (await conn.execute(ORDERS, keys)).all()
        return [to_order_view(r) for r in rows]

    # the rest, read through the adapters that own those tables -------------------------------

    async def auctions(self, status: str | None) -> list[AuctionView]:
        return await self._auctions.auctions(status)

    async def shows(self) -> list[ShowView]:
        return await self._shows.shows()

    async def show(self, code: str) -> ShowView:
        return await self._shows.show(code)

    async def show_in_chat(self, chat: str) -> ShowView | None:
        return await self._shows.show_in_chat(chat)

    async def room_lines(self, room: str) -> list[dict[str, Any]]:
        return await self._room_lines.latest(room)

    async def giveaway(self, giveaway_id: int) -> GiveawayRecord:
        return await self._giveaways.giveaway(giveaway_id)

    async def giveaways_in_chat(
        self, chat: str, since: datetime, limit: int
    ) -> list[GiveawayView]:
        return await self._giveaways.giveaways_in_chat(chat, since, limit)

    async def polls_in_chat(self, chat: str, since: datetime, limit: int) -> list[PollView]:
        return await self._giveaways.polls_in_chat(chat, since, limit)

    async def pending_events(self, received_before: datetime) -> list[tuple[str, str]]:
        return await self._ledger.pending_events(received_before)

    async def dead_letters(self, received_since: datetime) -> list[tuple[str, str]]:
        return await self._ledger.dead_letters(received_since)

    async def seller_role(self, identity: str) -> str | None:
        async with connection(self.engine) as conn:
            role = (await conn.execute(SELECT_SELLER, {"identity": identity})).scalar()
        return None if role is None else str(role)

    async def accounts(self, identity: str) -> list[str]:
        return await self._viewers.accounts(identity)

    async def buyer_name(self, ref: str) -> str:
        async with connection(self.engine) as conn:
            name = (await conn.execute(BUYER_NAME, {"ref": ref})).scalar()
        return str(name or "")

    async def shipment(self, ref: str) -> tuple[str, str] | None:
        async with connection(self.engine) as conn:
            row = (await conn.execute(SHIPMENT_OF, {"ref": ref})).first()
        return None if row is None else (str(row.tracking), str(row.carrier))

    async def buyer_names(self, refs: list[str]) -> dict[str, str]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(BUYER_NAMES, {"refs": refs})).all()
        return {row.ref: row.display_name for row in rows if row.display_name}

    async def saved_card(self, identity: str) -> SavedCard | None:
        return await self._cards.card(identity)

    async def ship_to(self, identity: str) -> str | None:
        return await self._cards.ship_to(identity)


async def _with_channels(conn: AsyncConnection, rows: Any) -> list[DropView]:
    """Drop rows as views, with the chats of all of them read in one statement."""
    if not rows:
        return []
    channels: dict[int, list[str]] = {}
    found = await conn.execute(CHANNELS_OF, {"ids": [r.id for r in rows]})
    for drop_id, chat in found.all():
        channels.setdefault(drop_id, []).append(chat)
    return [to_drop_view(r, tuple(channels.get(r.id, ()))) for r in rows]
