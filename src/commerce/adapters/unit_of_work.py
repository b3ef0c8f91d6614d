"""The SQL unit of work: one connection, one transaction, joined by every repository method
that runs in the same task (adapters/db.py's `transaction` and `connection`).

It hands out the shop's own repositories (one object of each serves every unit): SqlStore is
the products, drops, holds, orders and customers repositories at once."""

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
from commerce.adapters.giveaways import SqlGiveaways
from commerce.adapters.ledger import SqlLedger
from commerce.adapters.repository import SqlStore
from commerce.adapters.shipping import SqlShipping
from commerce.adapters.shows import SqlShows
from commerce.service_layer.ports import (
    AuctionStore,
    Cards,
    Customers,
    Drops,
    GiveawayStore,
    Holds,
    Ledger,
    Orders,
    Products,
    ShippingStore,
    ShowStore,
    Store,
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
        self._conn: AsyncConnection | None = None
        self._tokens: tuple[Token[Active | None], Token[Any]] | None = None

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
) -> UnitsOfWork:
    """The factory bootstrap gives the bus: a new unit of work per command, handing out the
    repositories (the shop's own, the very objects in `Deps`: one of each serves every unit,
    and the store's claim writer is the shop's one). Those not given are made here."""
    shop = SqlRepositories(
        store or SqlStore(engine),
        auctions or SqlAuctions(engine),
        giveaways or SqlGiveaways(engine),
        shows or SqlShows(engine),
        ledger or SqlLedger(engine),
        cards or SqlCards(engine),
        shipping or SqlShipping(engine),
    )

    def new() -> UnitOfWork:
        return SqlUnitOfWork(engine, shop)

    return new
