"""One-time email sign-in links (table email_sign_in): only the token's sha256 is kept, and a
link is used by one conditional UPDATE, so two clicks (or two workers) sign in once."""

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import transaction
from commerce.adapters.sql import sql

CREATE = sql(
    "INSERT INTO email_sign_in (token_hash, email, room, created_at, expires_at)"
    " VALUES (:token_hash, :email, :room, :now, :until)"
)
# Used and checked in one statement: unknown, used and expired links all change nothing.
USE = sql(
    "UPDATE email_sign_in SET used_at = :now WHERE token_hash = :token_hash"
    " AND used_at IS NULL AND expires_at > :now RETURNING email, room"
)
# Links a day past their end help no one: deleted when new ones are made.
KEEP_ENDED = timedelta(days=1)
PRUNE = sql("DELETE FROM email_sign_in WHERE expires_at < :before")


class SqlEmailSignIns:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def issue(
        self, token_hash: str, email: str, room: str, until: datetime, now: datetime
    ) -> None:
        keys = {"token_hash": token_hash, "email": email, "room": room, "now": now}
        async with transaction(self.engine) as conn:
            await conn.execute(CREATE, {**keys, "until": until})
            await conn.execute(PRUNE, {"before": now - KEEP_ENDED})

    async def redeem(self, token_hash: str, now: datetime) -> tuple[str, str] | None:
        async with transaction(self.engine) as conn:
            row = (await conn.execute(USE, {"token_hash": token_hash, "now": now})).first()
        return None if row is None else (str(row.email), str(row.room))
