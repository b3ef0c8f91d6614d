"""A claim batch on PostgreSQL at the database's speed: asyncpg itself, with its prepared
statements and plain tuples, instead of SQLAlchemy's per-row bind processing.

The decisions are claim_batch.DropState's, as on SQLite. Sets of keys are arrays
(`JOIN unnest($1::text[])`), so that every statement has one fixed shape and the planner
uses the indexes; rows are written with one `INSERT ... SELECT FROM unnest(...)` per kind,
whose RETURNING gives the new ids. Customers are made first, in a transaction of their own
and in sorted order (inside the claim transaction their rows would be locked in an order
that could deadlock with another process's batch); the claim transaction then locks its
drops' rows in id order, as the SQLAlchemy path does.
"""

import re
from collections import namedtuple
from datetime import datetime
from typing import Any

import asyncpg

from commerce.adapters.claim_batch import (
    Decision,
    DropState,
    GuardFailed,
    Links,
    answers_of,
    decide_all,
    give_links,
    give_refs,
    link_seekers,
)
from commerce.adapters.claims import FIND_LIVE_DROP
from commerce.adapters.sql import SELECT_CHANNELS, SELECT_DROP
from commerce.domain.commands import Claim
from commerce.service_layer.results import ClaimResult


def numbered(statement: str) -> str:
    """`:name` parameters as asyncpg's `$n`, numbered in order of first use."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in names:
            names.append(match[1])
        return f"${names.index(match[1]) + 1}"

    return re.sub(r"(?<!:):([a-z_]+)", number, statement)


IDENTITIES = "SELECT i.key, i.customer_id FROM identity i JOIN unnest($1::text[]) k ON k = i.key"
NEW_CUSTOMERS = (
    "INSERT INTO customer (origin_key, display_name, disputes, created_at)"
    " SELECT k, n, 0, $3 FROM unnest($1::text[], $2::text[]) AS t(k, n)"
    " ON CONFLICT (origin_key) DO NOTHING"
)
ADD_IDENTITIES = (
    "INSERT INTO identity (key, customer_id)"
    " SELECT c.origin_key, c.id FROM customer c JOIN unnest($1::text[]) k ON k = c.origin_key"
    " ON CONFLICT (key) DO NOTHING"
)
KNOWN_KEYS = "SELECT c.key FROM claim c JOIN unnest($1::text[]) k ON k = c.key"
# Casts, so that PostgreSQL infers the same types as for SQLAlchemy's typed parameters.
FIND_DROP = numbered(
    str(FIND_LIVE_DROP).replace(":code", ":code::text").replace(":chat", ":chat::text")
)
LOCK_DROP = "UPDATE drops SET remaining = remaining WHERE id = $1"
DROP = numbered(str(SELECT_DROP))
CHANNELS = numbered(str(SELECT_CHANNELS))
VARIANTS = "SELECT id, label, stock FROM variant WHERE product_id = $1 ORDER BY id"
BUYER_UNITS = (
    "SELECT b.customer_id, b.units FROM drop_buyer b JOIN unnest($2::int[]) c"
    " ON c = b.customer_id WHERE b.drop_id = $1"
)
# One index lookup per buyer (ix_claim_buyer): as a join, a planner without statistics yet
# (a new shop's first drop) scanned the drop's whole waitlist once per buyer.
WAITING = (
    "SELECT c, p FROM unnest($2::int[]) c, LATERAL (SELECT MIN(w.position) AS p FROM claim w"
    " WHERE w.drop_id = $1 AND w.customer_id = c AND w.status = 'waitlisted') m"
    " WHERE p IS NOT NULL"
)
# Strikes follow the card (#18): a buyer's own, and those of every customer who paid with a
# card the buyer paid with (a new identity, or a new account, with the same card).
STRUCK = (
    "SELECT b FROM unnest($1::int[]) b WHERE (SELECT COUNT(*) FROM strike s"
    " WHERE s.customer_id = b OR s.customer_id IN (SELECT o2.customer_id FROM orders o1"
    " JOIN orders o2 ON o2.card_fingerprint = o1.card_fingerprint"
    " WHERE o1.customer_id = b)) >= $2"
)
DISPUTES = "SELECT c.id, c.disputes FROM customer c JOIN unnest($1::int[]) i ON i = c.id"
# Buyers linked to an account on a platform (Telegram, Discord): not anonymous web viewers.
LINKED = (
    "SELECT DISTINCT i.customer_id FROM identity i JOIN unnest($1::int[]) c"
    " ON c = i.customer_id WHERE i.key NOT LIKE 'web:%'"
)
TAKE_BATCH = (
    "UPDATE drops SET remaining = remaining - $1, waitlist_len = waitlist_len + $2"
    " WHERE id = $3 AND status = 'live' AND remaining >= $1 RETURNING remaining"
)
TAKE_VARIANT = (
    "UPDATE variant SET stock = stock - $1 WHERE id = $2 AND stock >= $1 RETURNING stock"
)
SET_BUYER_UNITS = (
    "INSERT INTO drop_buyer (drop_id, customer_id, units)"
    " SELECT $1, c, u FROM unnest($2::int[], $3::int[]) AS t(c, u)"
    " ON CONFLICT (drop_id, customer_id) DO UPDATE SET units = excluded.units"
)
INSERT_ORDERS = (
    "INSERT INTO orders (ref, drop_id, product_id, variant_id, customer_id, identity, chat,"
    " quantity, unit_price_minor, amount_minor, currency, status, holds_stock,"
    " hold_expires_at, refunded_minor, created_at, updated_at, checkout_url)"
    " SELECT ref, drop_id, product_id, variant_id, customer_id, identity, chat, q, price,"
    " amount, currency, status, holds, expires, 0, at, at, url FROM unnest($1::text[],"
    " $2::int[], $3::int[], $4::int[], $5::int[], $6::text[], $7::text[], $8::int[],"
    " $9::bigint[], $10::bigint[], $11::text[], $12::bool[], $13::timestamptz[],"
    " $14::timestamptz[], $15::text[], $16::text[]) AS t(ref, drop_id, product_id,"
    " variant_id, customer_id, identity, chat, q, price, amount, currency, holds, expires, at,"
    " status, url) RETURNING ref, id"
)
INSERT_EVENTS = (
    "INSERT INTO order_event (order_id, from_status, to_status, cause, at)"
    " SELECT o, f, s, c, a FROM unnest($1::int[], $2::text[], $3::text[], $4::text[],"
    " $5::timestamptz[]) AS e(o, f, s, c, a)"
)
CARDED = "SELECT s.customer_id FROM saved_card s JOIN unnest($1::int[]) c ON c = s.customer_id"
INSERT_CLAIMS = (
    "INSERT INTO claim (key, drop_id, customer_id, identity, chat, quantity, variant_id,"
    " status, reason, position, order_id, created_at)"
    " SELECT * FROM unnest($1::text[], $2::int[], $3::int[], $4::text[], $5::text[],"
    " $6::int[], $7::int[], $8::text[], $9::text[], $10::int[], $11::int[],"
    " $12::timestamptz[]) RETURNING key, id"
)

Replay = str  # a key seen before: its first answer is read back after the batch


async def resolve_customers(
    conn: asyncpg.Connection, names: dict[str, str], now: datetime
) -> dict[str, int]:
    """The customer behind each identity, created on first sight, in a transaction of its
    own and in sorted order (see the module's doc)."""
    keys = sorted(names)
    found: dict[str, int] = {r[0]: r[1] for r in await conn.fetch(IDENTITIES, keys)}
    missing = [k for k in keys if k not in found]
    if missing:
        async with conn.transaction():
            await conn.execute(NEW_CUSTOMERS, missing, [names[k][:100] for k in missing], now)
            await conn.execute(ADD_IDENTITIES, missing)
        found = {r[0]: r[1] for r in await conn.fetch(IDENTITIES, keys)}
    return found


async def decide_postgres(
    conn: asyncpg.Connection,
    batch: list[tuple[Claim, datetime]],
    strikes: int = 0,
    web_first_paid: bool = False,
    links: Links | None = None,
) -> list[ClaimResult | Replay]:
    """The batch in one transaction (after its new customers' own). A key decided in an
    earlier batch is answered with the key itself: the caller reads its first answer.
    `links`: the claims whose winner gets the pay link in this transaction too."""
    names = {claim.identity: claim.display_name for claim, _ in batch}
    customers = await resolve_customers(conn, names, batch[0][1])
    async with conn.transaction():
        known = {r[0] for r in await conn.fetch(KNOWN_KEYS, [c.key for c, _ in batch])}
        fresh = [claim for claim, _ in batch if claim.key not in known]
        drops = await _lock_drops(conn, fresh, customers, strikes, web_first_paid)
        entries = decide_all(batch, known, drops, customers)
        made = [d for d in entries if isinstance(d, Decision)]
        give_refs(made)
        seekers = link_seekers(made, links)
        carded = {r[0] for r in await conn.fetch(CARDED, seekers)} if seekers else set()
        give_links(made, links, carded)
        states = {id(state): state for state in drops.values() if state is not None}
        order_ids, claim_ids = await _write(conn, list(states.values()), made)
        winners = sorted({d.customer_id for d in made if d.order is not None})
        disputes = {r[0]: r[1] for r in await conn.fetch(DISPUTES, winners)} if winners else {}
    return answers_of(entries, claim_ids, order_ids, disputes)


async def _lock_drops(
    conn: asyncpg.Connection,
    claims: list[Claim],
    customers: dict[str, int],
    strikes: int,
    web_first_paid: bool = False,
) -> dict[tuple[str, str | None], DropState | None]:
    """Finds each claim's live drop, locks them in id order and reads their state."""
    targets: dict[tuple[str, str | None], Any] = {}
    for claim in claims:
        pair = (claim.chat, claim.code)
        if pair not in targets:
            targets[pair] = await conn.fetchrow(FIND_DROP, claim.code, claim.chat)
    buyers = sorted({customers[c.identity] for c in claims})
    pay_first: set[int] = set()
    if strikes > 0 and claims:
        pay_first = {r[0] for r in await conn.fetch(STRUCK, buyers, strikes)}
    web = {customers[c.identity] for c in claims if c.identity.startswith("web:")}
    if web_first_paid and web:  # anonymous web viewers pay first (LIVEBUY_WEB_CLAIMS)
        linked = {r[0] for r in await conn.fetch(LINKED, sorted(web))}
        pay_first |= web - linked
    states: dict[int, DropState] = {}
    for drop_id in sorted({r["id"] for r in targets.values() if r}):
        await conn.execute(LOCK_DROP, drop_id)
        # Read again under the lock: another process may have claimed (or ended it) while we
        # waited for it.
        row = _named(await conn.fetchrow(DROP, drop_id))
        states[drop_id] = DropState(
            row=row,
            channels=tuple(r[0] for r in await conn.fetch(CHANNELS, drop_id)),
            variants={r[0]: [r[1], r[2]] for r in await conn.fetch(VARIANTS, row.product_id)},
            units={r[0]: r[1] for r in await conn.fetch(BUYER_UNITS, drop_id, buyers)},
            waiting={r[0]: r[1] for r in await conn.fetch(WAITING, drop_id, buyers)},
            remaining=row.remaining,
            waitlist=row.waitlist_len,
            pay_first=pay_first,
        )
    return {pair: states[r["id"]] if r else None for pair, r in targets.items()}


_ROW_TYPES: dict[tuple[str, ...], Any] = {}


def _named(record: asyncpg.Record) -> Any:
    """A record with attributes (row.remaining), as the decisions read a drop's row."""
    names = tuple(record.keys())
    kind = _ROW_TYPES.get(names)
    if kind is None:
        kind = _ROW_TYPES[names] = namedtuple("Row", names)
    return kind(*record.values())


async def _write(
    conn: asyncpg.Connection, drops: list[DropState], made: list[Decision]
) -> tuple[dict[str, int], dict[str, int]]:
    """The batch's writes, a statement per kind; the new orders' ids by ref and the new
    claims' ids by key."""
    for state in drops:
        drop_id = state.row.id
        if await conn.fetchrow(TAKE_BATCH, state.taken, state.joined, drop_id) is None:
            raise GuardFailed(f"drop {drop_id} changed under the batch")
        for variant_id, taken in sorted(state.variant_taken.items()):
            if await conn.fetchrow(TAKE_VARIANT, taken, variant_id) is None:
                raise GuardFailed(f"variant {variant_id} has fewer units than the batch took")
        changed = sorted(state.buyers_changed)
        if changed:
            await conn.execute(
                SET_BUYER_UNITS, drop_id, changed, [state.units[c] for c in changed]
            )
    orders = [d for d in made if d.order is not None]
    order_ids: dict[str, int] = {}
    if orders:
        columns = (
            "ref",
            "drop_id",
            "product_id",
            "variant_id",
            "customer_id",
            "identity",
            "chat",
            "q",
            "price",
            "amount",
            "currency",
            "holds",
            "hold_expires_at",
            "now",
            "status",
            "url",
        )
        values = [[d.order[name] for d in orders] for name in columns]  # type: ignore[index]
        order_ids = {r[0]: r[1] for r in await conn.fetch(INSERT_ORDERS, *values)}
        events: list[tuple[int, str | None, str, str, datetime]] = []
        for d in orders:
            o: dict[str, Any] = d.order  # type: ignore[assignment]
            order_id = order_ids[o["ref"]]
            events.append((order_id, None, "reserved", f"claim:{d.claim.key}", d.now))
            if o["url"] is not None:  # the link handed out (checkout.hand_out_link's event)
                events.append((order_id, "reserved", o["status"], f"link:{o['ref']}", d.now))
        await conn.execute(INSERT_EVENTS, *(list(column) for column in zip(*events, strict=True)))
    claim_ids: dict[str, int] = {}
    if made:
        rows = await conn.fetch(
            INSERT_CLAIMS,
            [d.claim.key for d in made],
            [d.drop.id if d.drop else None for d in made],
            [d.customer_id for d in made],
            [d.claim.identity for d in made],
            [d.claim.chat for d in made],
            [d.claim.quantity for d in made],
            [d.variant_id for d in made],
            [d.outcome.value for d in made],
            [d.reason.value if d.reason else "" for d in made],
            [d.position for d in made],
            [order_ids[d.order["ref"]] if d.order else None for d in made],
            [d.now for d in made],
        )
        claim_ids = {r[0]: r[1] for r in rows}
    return order_ids, claim_ids
