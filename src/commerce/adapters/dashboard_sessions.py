"""Dashboard sessions (`dashboard_session`): created at sign-in, ended by sign-out, by
`livebuy admin sessions revoke`, after an idle time, and at the latest after their maximum life.

The browser holds a random session id; the table keeps only its sha256, so a database dump
gives nobody a live session. Listings and the CLI name a session by a prefix of that hash.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import sql, utc
from commerce.domain.errors import InvalidInput, NotFound

MAX_LIFE = timedelta(days=7)  # after sign-in, however active the session
PREFIX = 12  # hex digits of the hash shown in listings
_HEX = re.compile(r"[0-9a-f]{4,64}")

CREATE = sql(
    "INSERT INTO dashboard_session (id_hash, created_at, last_seen_at, ip, user_agent)"
    " VALUES (:id_hash, :now, :now, :ip, :user_agent)"
)
# Still alive (not idle since :before, younger than :since), and now seen again.
SEEN = sql(
    "UPDATE dashboard_session SET last_seen_at = :now"
    " WHERE id_hash = :id_hash AND last_seen_at > :before AND created_at > :since"
)
ALIVE = sql(
    "SELECT 1 FROM dashboard_session"
    " WHERE id_hash = :id_hash AND last_seen_at > :before AND created_at > :since"
)
END = sql("DELETE FROM dashboard_session WHERE id_hash = :id_hash")
PRUNE = sql("DELETE FROM dashboard_session WHERE last_seen_at <= :before OR created_at <= :since")
LIST = sql(
    "SELECT id_hash, created_at, last_seen_at, ip, user_agent FROM dashboard_session"
    " ORDER BY created_at"
)
MATCHING = sql("SELECT id_hash FROM dashboard_session WHERE id_hash LIKE :prefix")
END_ALL = sql("DELETE FROM dashboard_session")


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionRow:
    id_hash: str
    created_at: datetime
    last_seen_at: datetime
    ip: str
    user_agent: str

    @property
    def id(self) -> str:
        """What listings show and `revoke` takes: the start of the stored hash."""
        return self.id_hash[:PREFIX]


class SqlSessions:
    def __init__(self, engine: AsyncEngine, idle: timedelta, max_life: timedelta = MAX_LIFE):
        self.engine, self.idle, self.max_life = engine, idle, max_life

    def _limits(self, now: datetime) -> dict[str, datetime]:
        return {"now": now, "before": now - self.idle, "since": now - self.max_life}

    async def start(self, now: datetime, ip: str, user_agent: str) -> str:
        """A new session; returns its id (for the cookie: it is stored only as a hash).
        Sessions that ended by time are cleared on the way."""
        session_id = secrets.token_urlsafe(32)
        async with transaction(self.engine) as conn:
            await conn.execute(PRUNE, self._limits(now))
            await conn.execute(
                CREATE,
                {
                    "id_hash": digest(session_id),
                    "now": now,
                    "ip": ip[:64],
                    "user_agent": user_agent[:200],
                },
            )
        return session_id

    async def seen(self, session_id: str, now: datetime) -> bool:
        """True and the idle time starts again when the session is alive; else False."""
        async with transaction(self.engine) as conn:
            result = await conn.execute(SEEN, {"id_hash": digest(session_id), **self._limits(now)})
        return bool(result.rowcount)

    async def alive(self, session_id: str, now: datetime) -> bool:
        """Whether the session still holds, without counting this as activity (an open
        live stream is no sign that somebody is there)."""
        async with connection(self.engine) as conn:
            row = await conn.execute(ALIVE, {"id_hash": digest(session_id), **self._limits(now)})
            return row.first() is not None

    async def end(self, session_id: str) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(END, {"id_hash": digest(session_id)})

    async def sessions(self, now: datetime) -> list[SessionRow]:
        """The sessions that still hold, oldest first."""
        async with transaction(self.engine) as conn:
            await conn.execute(PRUNE, self._limits(now))
            rows = await conn.execute(LIST)
            return [
                SessionRow(h, utc(created), utc(seen), ip, agent)
                for h, created, seen, ip, agent in rows
            ]

    async def revoke(self, session_id: str) -> str:
        """Ends the one session whose listed id (a hash prefix) this is; returns its id."""
        prefix = session_id.strip().lower()
        if not _HEX.fullmatch(prefix):
            raise InvalidInput(f"'{session_id[:40]}' is not a session id (see `sessions list`)")
        async with transaction(self.engine) as conn:
            found = [str(h) for (h,) in await conn.execute(MATCHING, {"prefix": prefix + "%"})]
            if not found:
                raise NotFound(f"no session {prefix}")
            if len(found) > 1:
                raise InvalidInput(f"{prefix} names {len(found)} sessions: give more of the id")
            await conn.execute(END, {"id_hash": found[0]})
        return found[0][:PREFIX]

    async def revoke_all(self) -> int:
        async with transaction(self.engine) as conn:
            result = await conn.execute(END_ALL)
        return int(result.rowcount)
