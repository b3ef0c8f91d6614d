"""Web chat viewers (`web_viewer`): identities the server issues to browsers.

The cookie holds `<secret>.<mac>`: a random secret and its HMAC under a key made on the
first run and kept in the database (every worker and every restart agree on it). A cookie
whose MAC is wrong is refused without asking the database; one whose secret the database
does not know (a deleted viewer, a copied MAC scheme) is refused there. The table keeps only
the secret's sha256 and the public id, so neither a database dump nor the seller's screens
give anyone a viewer's session.
"""

import base64
import hashlib
import hmac
import secrets
import time
from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.app_settings import KEEP, READ
from commerce.adapters.batched_reads import BatchedReads
from commerce.adapters.db import active, connection, transaction
from commerce.adapters.sql import sql
from commerce.service_layer.unit_of_work import after_commit

COOKIE_KEY = "web_viewer_key"
SELLER_NAMES_FOR = 30.0  # seconds the sellers' names are reused before asking again
MAX_CACHE = 50_000  # recognised cookies kept in memory (a chat message needs no query)
CREATE = sql(
    "INSERT INTO web_viewer (secret_hash, public_id, created_at)"
    " VALUES (:secret_hash, :public_id, :now)"
)
FIND = sql("SELECT public_id FROM web_viewer WHERE secret_hash = :secret_hash")
# The names sellers are known by: their accounts' names, and the names they chatted under in
# the web chat, as a `web:` seller or signed in (linked) to a seller's account.
SELLER_NAMES = sql(
    "SELECT c.display_name FROM identity i JOIN customer c ON c.id = i.customer_id"
    " WHERE i.key IN (SELECT identity FROM seller) OR i.key IN :configured"
    " UNION SELECT name FROM web_viewer WHERE name <> '' AND ("
    " 'web:' || public_id IN (SELECT identity FROM seller) OR 'web:' || public_id IN :configured)"
    " UNION SELECT w.name FROM web_viewer w JOIN identity v ON v.key = 'web:' || w.public_id"
    " JOIN identity s ON s.customer_id = v.customer_id WHERE w.name <> ''"
    " AND (s.key IN (SELECT identity FROM seller) OR s.key IN :configured)"
).bindparams(bindparam("configured", expanding=True))
LINKED = sql(
    "SELECT 1 FROM identity i JOIN identity o ON o.customer_id = i.customer_id"
    " WHERE i.key = :identity AND o.key NOT LIKE 'web:%'"
)
ACCOUNTS = sql(
    "SELECT o.key FROM identity i JOIN identity o ON o.customer_id = i.customer_id"
    " WHERE i.key = :identity AND o.key NOT LIKE 'web:%' ORDER BY o.key"
)
NAMED = sql("UPDATE web_viewer SET name = :name WHERE public_id = :public_id")
# Sellers' roles, of many identities at once, and of the accounts they are linked to.
ROLES = sql("SELECT identity, role FROM seller WHERE identity IN :keys").bindparams(
    bindparam("keys", expanding=True)
)
ACCOUNT_ROLES = sql(
    "SELECT i.key, o.key, s.role FROM identity i JOIN identity o ON o.customer_id = i.customer_id"
    " LEFT JOIN seller s ON s.identity = o.key"
    " WHERE i.key IN :keys AND o.key NOT LIKE 'web:%' ORDER BY o.key"
).bindparams(bindparam("keys", expanding=True))
# An identity's own seller role, and its accounts with theirs.
Roles = tuple[str | None, tuple[tuple[str, str | None], ...]]
NO_ROLES: Roles = (None, ())


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _mac(key: bytes, secret: str) -> str:
    mac = hmac.new(key, b"web-viewer:" + secret.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


class SqlWebViewers:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._key: bytes | None = None
        self._known: dict[str, str] = {}  # cookie -> identity, once the database said so
        self._sellers: tuple[float, list[str]] | None = None  # (when asked, names)
        self._names: dict[str, str] = {}  # seller identity -> the name last kept
        self._roles = BatchedReads(self._read_roles, NO_ROLES)

    async def issue(self, now: datetime) -> tuple[str, str]:
        """A new viewer: (the cookie to set, its identity 'web:v_…')."""
        key = await self._cookie_key(now)
        secret = secrets.token_urlsafe(24)
        public_id = "v_" + secrets.token_hex(6)
        async with transaction(self.engine) as conn:
            await conn.execute(
                CREATE, {"secret_hash": digest(secret), "public_id": public_id, "now": now}
            )
        cookie = f"{secret}.{_mac(key, secret)}"
        identity = f"web:{public_id}"
        # Remembered once stored: a viewer issued in a unit of work that rolls back is none.
        after_commit(lambda: self._remember(cookie, identity))
        return cookie, identity

    async def recognise(self, cookie: str, now: datetime) -> str | None:
        """The identity of a cookie this server issued; None for any other value."""
        known = self._known.get(cookie)
        if known is not None:
            return known
        secret, dot, mac = cookie.partition(".")
        if not dot or not secret or len(cookie) > 100:
            return None
        key = await self._cookie_key(now)
        if not hmac.compare_digest(_mac(key, secret).encode(), mac.encode()):
            return None
        async with connection(self.engine) as conn:
            public_id = (await conn.execute(FIND, {"secret_hash": digest(secret)})).scalar()
        if public_id is None:
            return None
        identity = f"web:{public_id}"
        self._remember(cookie, identity)
        return identity

    async def seller_names(self, configured: frozenset[str]) -> list[str]:
        """The names sellers chatted under (LIVEBUY_SELLERS and `livebuy seller add`)."""
        if self._sellers and time.monotonic() - self._sellers[0] < SELLER_NAMES_FOR:
            return self._sellers[1]
        async with connection(self.engine) as conn:
            rows = await conn.execute(SELLER_NAMES, {"configured": sorted(configured) or [""]})
            names = [str(name) for (name,) in rows if name]
        self._sellers = (time.monotonic(), names)
        return names

    async def roles(self, identity: str) -> Roles:
        """The identity's own seller role and its accounts with theirs, read with those of
        every other message arriving meanwhile (one query for all of them)."""
        if active(self.engine) is not None:  # a unit of work's connection: read in it
            return (await self._read_roles([identity])).get(identity, NO_ROLES)
        return await self._roles.get(identity)

    async def _read_roles(self, identities: list[str]) -> dict[str, Roles]:
        async with connection(self.engine) as conn:
            own: dict[str, str | None] = {
                str(i): r and str(r) for i, r in await conn.execute(ROLES, {"keys": identities})
            }
            rows = (await conn.execute(ACCOUNT_ROLES, {"keys": identities})).all()
        accounts: dict[str, list[tuple[str, str | None]]] = {}
        for identity, account, role in rows:
            accounts.setdefault(identity, []).append((str(account), role and str(role)))
        return {i: (own.get(i), tuple(accounts.get(i, ()))) for i in identities}

    async def linked(self, identity: str) -> bool:
        async with connection(self.engine) as conn:
            return (await conn.execute(LINKED, {"identity": identity})).first() is not None

    async def accounts(self, identity: str) -> list[str]:
        async with connection(self.engine) as conn:
            return [
                str(k) for k in (await conn.execute(ACCOUNTS, {"identity": identity})).scalars()
            ]

    async def named(self, identity: str, name: str) -> None:
        """A seller chats under `name` in the web chat: kept, so no viewer may take it."""
        if self._names.get(identity) == name:
            return
        async with transaction(self.engine) as conn:
            await conn.execute(
                NAMED, {"name": name[:32], "public_id": identity.removeprefix("web:")}
            )
        after_commit(lambda: self._named(identity, name))

    def _named(self, identity: str, name: str) -> None:
        self._names[identity] = name
        self._sellers = None  # ask again

    def _remember(self, cookie: str, identity: str) -> None:
        if len(self._known) >= MAX_CACHE:
            self._known.clear()  # rare; the database answers again
        self._known[cookie] = identity

    async def _cookie_key(self, now: datetime) -> bytes:
        if self._key is None:
            async with transaction(self.engine) as conn:
                made = secrets.token_urlsafe(32)
                await conn.execute(KEEP, {"key": COOKIE_KEY, "value": made, "now": now})
                value = (await conn.execute(READ, {"key": COOKIE_KEY})).scalar_one()
            key = str(value).encode()
            # Kept once committed (like the pay link key): a key made in a unit of work that
            # rolls back was never stored, and cookies signed with it would be refused by
            # every other worker and after a restart.
            after_commit(lambda: setattr(self, "_key", self._key or key))
            return key
        return self._key
