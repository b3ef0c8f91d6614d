"""Work that must run in one process at a time, and who is alive: leases in the database.

Several `livebuy run` processes may share one database. Each is a worker with a heartbeat row;
a singleton duty (the hold sweeper, reconciliation, Telegram polling, the Discord gateway) is
a lease row that one worker holds and renews. A guarded UPDATE takes a lease only when it is
free, already ours, or expired, so two workers never both hold it; when the holder dies
(even by SIGKILL) its lease runs out and another worker takes the duty over within `ttl`.
A lease table rather than PostgreSQL advisory locks: the same on SQLite, and visible to
`livebuy status`.
"""

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import sql, utc

TAKE = sql(
    "UPDATE lease SET holder = :holder, expires_at = :until, taken_at = CASE WHEN holder ="
    " :holder THEN taken_at ELSE :now END WHERE name = :name"
    " AND (holder = :holder OR expires_at <= :now)"
)
CREATE = sql(
    "INSERT INTO lease (name, holder, expires_at, taken_at) VALUES (:name, :holder, :until, :now)"
    " ON CONFLICT (name) DO NOTHING"
)
RELEASE = sql("UPDATE lease SET expires_at = :now WHERE holder = :holder AND expires_at > :now")
BEAT = sql(
    "INSERT INTO worker (id, host, pid, started_at, seen_at) VALUES (:id, :host, :pid, :now,"
    " :now) ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at"
)
LEAVE = sql("DELETE FROM worker WHERE id = :id")
FORGET = sql("DELETE FROM worker WHERE seen_at < :before")
LEASES = sql("SELECT name, holder, expires_at, taken_at FROM lease ORDER BY name")
WORKERS = sql("SELECT id, host, pid, started_at, seen_at FROM worker ORDER BY started_at")


def worker_id() -> str:
    """Host, process id and a random part: unique even when a pid is reused."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class LeaseView:
    name: str
    holder: str
    expires_at: datetime
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class WorkerView:
    id: str
    host: str
    pid: int
    started_at: datetime
    seen_at: datetime


class SqlLeases:
    def __init__(
        self, engine: AsyncEngine, holder: str, ttl: timedelta = timedelta(seconds=6)
    ) -> None:
        self.engine, self.holder, self.ttl = engine, holder, ttl

    async def hold(self, name: str, now: datetime) -> bool:
        """Takes or renews the lease; False while another live worker holds it."""
        params = {"name": name, "holder": self.holder, "now": now, "until": now + self.ttl}
        async with transaction(self.engine) as conn:
            if (await conn.execute(TAKE, params)).rowcount:
                return True
            return bool((await conn.execute(CREATE, params)).rowcount)

    async def release_all(self, now: datetime) -> None:
        """At a graceful shutdown: the others need not wait for the leases to run out."""
        async with transaction(self.engine) as conn:
            await conn.execute(RELEASE, {"holder": self.holder, "now": now})
            await conn.execute(LEAVE, {"id": self.holder})

    async def heartbeat(self, now: datetime) -> None:
        host, pid, _ = self.holder.split(":", 2)
        async with transaction(self.engine) as conn:
            await conn.execute(
                BEAT, {"id": self.holder, "host": host, "pid": int(pid), "now": now}
            )
            # Workers silent for a day are gone for good (killed, their host removed).
            await conn.execute(FORGET, {"before": now - timedelta(days=1)})

    async def leases(self) -> list[LeaseView]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(LEASES)).all()
        return [LeaseView(r.name, r.holder, utc(r.expires_at), utc(r.taken_at)) for r in rows]

    async def workers(self) -> list[WorkerView]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(WORKERS)).all()
        return [
            WorkerView(r.id, r.host, int(r.pid), utc(r.started_at), utc(r.seen_at)) for r in rows
        ]
