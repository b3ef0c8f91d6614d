"""Engines for SQLite (default, WAL) and PostgreSQL, from one plain DATABASE_URL."""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from commerce.domain.errors import InvalidInput

log = logging.getLogger(__name__)


def async_url(database_url: str) -> URL:
    """Maps 'sqlite:///x.db' and 'postgresql://u@h/db' to their async drivers."""
    try:
        url = make_url(database_url)
    except Exception:
        raise InvalidInput(
            f"DATABASE_URL '{database_url}' is not a URL like sqlite:///./livebuy.db"
        ) from None
    backend = url.get_backend_name()
    if backend == "sqlite":
        return url.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+asyncpg")
    raise InvalidInput(f"DATABASE_URL must be sqlite:// or postgresql://, not {backend}://")


def create_engine(database_url: str, pool_size: int = 5) -> AsyncEngine:
    url = async_url(database_url)
    if url.get_backend_name() == "sqlite":
        # One connection: SQLite runs one writer at a time anyway, and waiting for the pool
        # is an asyncio wait, where a second connection would sleep in SQLite's busy handler.
        engine = create_async_engine(
            url, connect_args={"timeout": 30}, pool_size=1, max_overflow=0, pool_timeout=60
        )
        _sqlite_setup(engine)
        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def _sqlite_setup(engine: AsyncEngine) -> None:
    # SQLite has no row locks: writers take the database lock when the transaction starts
    # (BEGIN IMMEDIATE), so a conditional UPDATE never races with another process's, and
    # WAL lets readers go on meanwhile. The driver's own implicit BEGIN is switched off.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    @event.listens_for(engine.sync_engine, "handle_error")
    def _keep_when_cancelled(context: Any) -> None:
        # A task cancelled while its statement runs in aiosqlite's thread (a shutdown, a
        # timeout): SQLAlchemy would throw the connection away as if it were broken, and its
        # sqlite3 connection, never closed, would keep the open transaction and the database's
        # write lock; every later writer failed with 'database is locked' after busy_timeout.
        # Kept instead: the statement ends in its thread, and finish() rolls back after it.
        if isinstance(context.original_exception, asyncio.CancelledError):
            context.is_disconnect = False


# Transactions ---------------------------------------------------------------------------
#
# A unit of work (adapters/unit_of_work.py) holds one connection in one transaction for the
# whole use case. Every repository method opens its statements with `transaction(engine)` or
# `connection(engine)`: inside a unit of work of the same engine, and in the same task, they
# join its transaction; elsewhere they open their own, as before. The owning task is checked
# because a task created inside a unit of work inherits a copy of the context: it must not use
# the unit's connection concurrently with its owner.


@dataclass(slots=True)
class Active:
    """The transaction of the unit of work running in a task."""

    engine: AsyncEngine
    conn: AsyncConnection
    task: asyncio.Task[Any] | None


ACTIVE: ContextVar[Active | None] = ContextVar("livebuy_transaction", default=None)


def active(engine: AsyncEngine | None = None) -> Active | None:
    """The unit of work's transaction this task may join (of `engine`, if given)."""
    current = ACTIVE.get()
    if current is None or current.task is not asyncio.current_task():
        return None
    if engine is not None and current.engine.sync_engine is not engine.sync_engine:
        return None
    return current


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a write transaction: the unit of work's, or one of its own that
    commits at the end of the block and rolls back on any exception, cancellation included."""
    joined = active(engine)
    if joined is not None:
        yield joined.conn
        return
    async with owned_transaction(engine) as conn:
        yield conn


@asynccontextmanager
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reading: the unit of work's (it sees the unit's own writes, and on
    SQLite the one pooled connection is the unit's), or one of its own, released even when
    the task is cancelled."""
    joined = active(engine)
    if joined is not None:
        yield joined.conn
        return
    conn = await engine.connect()
    try:
        yield conn
    finally:
        await finish(conn, commit=False)


@asynccontextmanager
async def owned_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A transaction on a connection of its own, never joining another (the unit of work's
    own, and writers that must commit on their own whatever runs around them)."""
    conn = await engine.connect()
    try:
        await conn.begin()
    except BaseException:
        await finish(conn, commit=False)
        raise
    try:
        yield conn
    except BaseException:
        await finish(conn, commit=False)
        raise
    await finish(conn, commit=True)


async def finish(conn: AsyncConnection, commit: bool) -> None:
    """Commits (or rolls back) and gives the connection back to the pool, whatever happens
    to the task meanwhile. A task cancelled in the middle of a transaction (a shutdown, a
    request whose client left, a timeout) must not leave its connection checked out with
    the transaction open: on SQLite that connection keeps the write lock (BEGIN IMMEDIATE)
    and every other writer waits for it until busy_timeout and fails with 'database is
    locked'. So the end runs in a task of its own that a cancellation cannot interrupt; the
    cancellation is passed on once the connection is back."""
    ending = asyncio.ensure_future(_end(conn, commit))
    cancelled = False
    while True:
        try:
            await asyncio.shield(ending)
            break
        except asyncio.CancelledError:
            cancelled = True  # passed on below, even when the end has finished meanwhile
            if ending.done():
                break
    if cancelled:
        raise asyncio.CancelledError
    ending.result()  # a failed commit raises here


async def _end(conn: AsyncConnection, commit: bool) -> None:
    try:
        if commit and conn.in_transaction():
            try:
                await conn.commit()
            except BaseException:
                await _rollback(conn)
                raise
        elif conn.in_transaction():
            await _rollback(conn)
    finally:
        await conn.close()


async def _rollback(conn: AsyncConnection) -> None:
    try:
        await conn.rollback()
    except Exception:
        # A connection whose statement was cut short may refuse the rollback (asyncpg: "another
        # operation is in progress"): it is thrown away rather than given back half-way.
        log.warning("rollback failed; the connection is discarded", exc_info=True)
        await conn.invalidate()
