"""The SQL unit of work: one connection, one transaction, joined by every repository method
that runs in the same task (adapters/db.py's `transaction` and `connection`).

It hands out the shop's own repositories (one object of each serves every unit): SqlStore is
the products, drops, holds, orders and customers repositories at once; then the ledger, cards,
shipping zones, auctions, giveaways and polls, shows, pay links, shipments, web viewers, email
sign-ins and room lines."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import Token
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.auctions import SqlAuctions
from commerce.adapters.cards import SqlCards
from commerce.adapters.db import ACTIVE, Active, finish
from commerce.adapters.email_sign_ins import SqlEmailSignIns
from commerce.adapters.giveaways import SqlGiveaways
from commerce.adapters.ledger import SqlLedger
from commerce.adapters.repository import SqlStore
from commerce.adapters.room_lines import SqlRoomLines
from commerce.adapters.shipments import SqlShipments
from commerce.adapters.shipping import SqlShipping
from commerce.adapters.shows import SqlShows
from commerce.adapters.web_viewers import SqlWebViewers
from commerce.service_layer.packages import Shipments
from commerce.service_layer.ports import (
    AuctionStore,
    Cards,
    Customers,
    Drops,
    EmailSignIns,
    GiveawayStore,
    Holds,
    Ledger,
    Orders,
    PayLinks,
    Products,
    RoomLines,
    ShippingStore,
    ShowStore,
    Store,
    WebViewers,
)
from commerce.service_layer.unit_of_work import (
    CURRENT,
    Collected,
    Part,
    UnitOfWork,
    UnitsOfWork,
)


@dataclass(frozen=True, slots=True)
class SqlRepositories:
    """The shop's own repositories, built once: every unit hands out these objects."""

    store: Store
    auctions: AuctionStore
    giveaways: GiveawayStore
    shows: ShowStore
    ledger: Ledger
    cards: Cards
    shipping: ShippingStore
    shipments: Shipments
    web_viewers: WebViewers
    email_sign_ins: EmailSignIns
    room_lines: RoomLines
    pay_links: PayLinks | None  # signed with the shop's public address: None without one


class SqlUnitOfWork(Collected):
    def __init__(self, engine: AsyncEngine, shop: SqlRepositories) -> None:
        super().__init__()
        self.engine = engine
        self.products: Products = shop.store
        self.drops: Drops = shop.store
        self.holds: Holds = shop.store
        self.orders: Orders = shop.store
        self.customers: Customers = shop.store
        self.auctions, self.giveaways, self.shows = shop.auctions, shop.giveaways, shop.shows
        self.ledger, self.cards, self.shipping = shop.ledger, shop.cards, shop.shipping
        self.shipments, self.web_viewers = shop.shipments, shop.web_viewers
        self.email_sign_ins, self.room_lines = shop.email_sign_ins, shop.room_lines
        self._pay_links = shop.pay_links
        self._conn: AsyncConnection | None = None
        self._tokens: tuple[Token[Active | None], Token[Any]] | None = None

    @property
    def pay_links(self) -> PayLinks:
        if self._pay_links is None:  # a handler asks `Deps` first: never reached then
            raise RuntimeError("this shop's units were built without pay links")
        return self._pay_links

    async def __aenter__(self) -> Self:
        conn = await self.engine.connect()
        try:
            await conn.begin()
        except BaseException:
            await finish(conn, commit=False)
            raise
        self._conn = conn
        task = asyncio.current_task()
        self._tokens = (ACTIVE.set(Active(self.engine, conn, task)), CURRENT.set((self, task)))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()  # nothing left to roll back once committed

    async def commit(self) -> None:
        conn = self._conn
        if conn is None:
            raise RuntimeError("the unit of work is not open")
        try:
            await self.deliver_notices()  # their outbox rows join this transaction
        except BaseException:
            await self.rollback()
            raise
        self._close()
        await finish(conn, commit=True)
        self.run_callbacks()

    async def rollback(self) -> None:
        conn = self._conn
        if conn is None:
            return
        self._close()
        self.forget()
        await finish(conn, commit=False)

    @asynccontextmanager
    async def part(self) -> AsyncIterator[Part]:
        conn = self._conn
        if conn is None:
            raise RuntimeError("the unit of work is not open")
        mark, part = self.mark(), Part()
        savepoint = await conn.begin_nested()
        try:
            yield part
        except BaseException:
            if savepoint.is_active:
                await savepoint.rollback()
            self.undo(mark)
            raise
        finally:
            self.part_starts = 0
        await savepoint.commit()  # RELEASE SAVEPOINT: still inside the unit's transaction
        part.follow_ups = self.take_follow_ups(mark)

    def _close(self) -> None:
        self._conn = None
        if self._tokens is not None:
            active, current = self._tokens
            ACTIVE.reset(active)
            CURRENT.reset(current)
            self._tokens = None


def sql_units(
    engine: AsyncEngine,
    auctions: AuctionStore | None = None,
    giveaways: GiveawayStore | None = None,
    shows: ShowStore | None = None,
    store: Store | None = None,
    ledger: Ledger | None = None,
    cards: Cards | None = None,
    shipping: ShippingStore | None = None,
    *,
    shipments: Shipments | None = None,
    web_viewers: WebViewers | None = None,
    email_sign_ins: EmailSignIns | None = None,
    room_lines: RoomLines | None = None,
    pay_links: PayLinks | None = None,
) -> UnitsOfWork:
    """The factory bootstrap gives the bus: a new unit of work per command, handing out the
    repositories (the shop's own, the very objects in `Deps`: one of each serves every unit,
    and the store's claim writer is the shop's one). Those not given are made here, but for
    pay links (they need the shop's public address): without them the unit has none."""
    shop = SqlRepositories(
        store or SqlStore(engine),
        auctions or SqlAuctions(engine),
        giveaways or SqlGiveaways(engine),
        shows or SqlShows(engine),
        ledger or SqlLedger(engine),
        cards or SqlCards(engine),
        shipping or SqlShipping(engine),
        shipments or SqlShipments(engine),
        web_viewers or SqlWebViewers(engine),
        email_sign_ins or SqlEmailSignIns(engine),
        room_lines or SqlRoomLines(engine),
        pay_links,
    )

    def new() -> UnitOfWork:
        return SqlUnitOfWork(engine, shop)

    return new
