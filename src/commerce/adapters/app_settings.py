"""Values the service generates once and keeps in the database (the dashboard's admin token,
the local Stripe emulator's API key, the key that signs pay links)."""

import asyncio
import functools
import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import active, connection, transaction
from commerce.adapters.sql import maybe_utc, sql
from commerce.domain import pay_links
from commerce.service_layer.unit_of_work import after_commit

ADMIN_TOKEN = "admin_token"  # noqa: S105 (the key it is stored under)
EMULATOR_KEY = "stripe_emulator_key"
PAY_LINK_KEY = "pay_link_key"
KEEP = sql(
    "INSERT INTO app_setting (key, value, updated_at) VALUES (:key, :value, :now)"
    " ON CONFLICT (key) DO NOTHING"
)
READ = sql("SELECT value FROM app_setting WHERE key = :key")


async def admin_token(engine: AsyncEngine, configured: str | None, now: datetime) -> str:
    """LIVEBUY_ADMIN_TOKEN when set; otherwise the token generated on the first run (every
    process and every restart agrees on it, as the first writer wins)."""
    if configured:
        return configured
    async with transaction(engine) as conn:
        await conn.execute(
            KEEP, {"key": ADMIN_TOKEN, "value": secrets.token_urlsafe(18), "now": now}
        )
        value = (await conn.execute(READ, {"key": ADMIN_TOKEN})).scalar_one()
    return str(value)


async def emulator_key(engine: AsyncEngine, now: datetime) -> str:
    """The API key of the local Stripe emulator (local mode), made on the first run. The
    server's emulator accepts no other, and the `livebuy` commands that reach it read it
    here; it is never printed or logged."""
    async with transaction(engine) as conn:
        made = "sk_test_" + secrets.token_hex(24)
        await conn.execute(KEEP, {"key": EMULATOR_KEY, "value": made, "now": now})
        value = (await conn.execute(READ, {"key": EMULATOR_KEY})).scalar_one()
    return str(value)


class SqlPayLinks:
    """Pay links signed with a key made on the first run and kept in the database, so every
    worker (and every restart) makes and accepts the same links."""

    def __init__(self, engine: AsyncEngine, public_url: str) -> None:
        self.engine, self.public_url = engine, public_url
        self._key: bytes | None = None
        # The first burst of claims (a flash drop's) asks for the key all at once: one of
        # them reads it, the others wait for that read instead of each writing and reading.
        self._reading = asyncio.Lock()

    async def url(self, ref: str, now: datetime) -> str:
        return pay_links.url(self.public_url, await self._known(now), ref)

    async def genuine(self, ref: str, token: str, now: datetime) -> bool:
        return pay_links.genuine(await self._known(now), ref, token)

    async def signer(self, now: datetime) -> Callable[[str], str]:
        return functools.partial(pay_links.url, self.public_url, await self._known(now))

    async def _known(self, now: datetime) -> bytes:
        if self._key is None and active(self.engine) is not None:
            # Inside a unit of work: never wait for the lock, whose holder may be waiting for
            # the unit's connection (SQLite has one). The key is kept once the unit commits
            # (a key made in a unit that rolls back was never stored).
            key = await self._read(now)
            after_commit(lambda: setattr(self, "_key", self._key or key))
            return key
        if self._key is None:
            async with self._reading:
                if self._key is None:
                    self._key = await self._read(now)
        return self._key

    async def _read(self, now: datetime) -> bytes:
        async with transaction(self.engine) as conn:
            made = secrets.token_hex(32)
            await conn.execute(KEEP, {"key": PAY_LINK_KEY, "value": made, "now": now})
            value = (await conn.execute(READ, {"key": PAY_LINK_KEY})).scalar_one()
        return bytes.fromhex(str(value))


# When each singleton duty last finished a run (the health report's "last reconciliation").
DUTY_DONE = "duty_done:"
MARK = sql(
    "INSERT INTO app_setting (key, value, updated_at) VALUES (:key, '', :now)"
    " ON CONFLICT (key) DO UPDATE SET updated_at = excluded.updated_at"
)
LAST = sql("SELECT updated_at FROM app_setting WHERE key = :key")


async def duty_done(engine: AsyncEngine, duty: str, now: datetime) -> None:
    """Records that `duty` (e.g. "reconcile") just finished a run."""
    async with transaction(engine) as conn:
        await conn.execute(MARK, {"key": DUTY_DONE + duty, "now": now})


async def duty_last_done(engine: AsyncEngine, duty: str) -> datetime | None:
    """When `duty` last finished a run, on any worker; None when never."""
    async with connection(engine) as conn:
        value = (await conn.execute(LAST, {"key": DUTY_DONE + duty})).scalar()
    return maybe_utc(value)
