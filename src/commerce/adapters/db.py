"""Engines for SQLite (default, WAL) and PostgreSQL, from one plain DATABASE_URL."""

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from commerce.domain.errors import InvalidInput


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
