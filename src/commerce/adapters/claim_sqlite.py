"""A claim batch on SQLite at the database's speed: the whole batch, customers included, in
one transaction run by plain `sqlite3` in the connection's own thread (one thread hop per
batch instead of one per statement, and no per-row bind processing).

The decisions are claim_batch.DropState's, as on PostgreSQL; only the statements differ:
sets of keys go in as one JSON array (`IN (SELECT value FROM json_each(?))`), so every
statement has one fixed shape that sqlite3's statement cache keeps prepared, and new rows'
ids come from `INSERT ... RETURNING`. BEGIN IMMEDIATE takes the database's write lock first,
so nothing read here can change before the commit; the guarded writes still check.
"""

import json
import sqlite3
from collections import namedtuple
from datetime import UTC, datetime
from typing import Any

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

EACH = "(SELECT value FROM json_each(?))"
KNOWN_KEYS = f"SELECT key FROM claim WHERE key IN {EACH}"
IDENTITIES = f"SELECT key, customer_id FROM identity WHERE key IN {EACH}"
NEW_CUSTOMER = (
    "INSERT INTO customer (origin_key, display_name, disputes, created_at)"
    " VALUES (?, ?, 0, ?) ON CONFLICT (origin_key) DO NOTHING RETURNING id"
)
CUSTOMER_BY_ORIGIN = "SELECT id FROM customer WHERE origin_key = ?"
ADD_IDENTITY = "INSERT INTO identity (key, customer_id) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
FIND_DROP = str(FIND_LIVE_DROP)
DROP = str(SELECT_DROP)
CHANNELS = str(SELECT_CHANNELS)
VARIANTS = "SELECT id, label, stock FROM variant WHERE product_id = ? ORDER BY id"
BUYER_UNITS = (
    f"SELECT customer_id, units FROM drop_buyer WHERE drop_id = ? AND customer_id IN {EACH}"
)
WAITING = (
    "SELECT customer_id, MIN(position) FROM claim WHERE drop_id = ? AND status = 'waitlisted'"
    f" AND customer_id IN {EACH} GROUP BY customer_id"
)
# Strikes follow the card (#18): a buyer's own, and those of every customer who paid with a
# card the buyer paid with (a new identity, or a new account, with the same card).
STRUCK = (
    "SELECT b.value FROM json_each(?) b WHERE (SELECT COUNT(*) FROM strike s"
    " WHERE s.customer_id = b.value OR s.customer_id IN (SELECT o2.customer_id FROM orders o1"
    " JOIN orders o2 ON o2.card_fingerprint = o1.card_fingerprint"
    " WHERE o1.customer_id = b.value)) >= ?"
)
DISPUTES = f"SELECT id, disputes FROM customer WHERE id IN {EACH}"
# Buyers linked to an account on a platform (Telegram, Discord): not anonymous web viewers.
LINKED = f"SELECT DISTINCT customer_id FROM identity WHERE customer_id IN {EACH}" + (
    " AND key NOT LIKE 'web:%'"
)
TAKE_BATCH = (
    "UPDATE drops SET remaining = remaining - ?, waitlist_len = waitlist_len + ?"
    " WHERE id = ? AND status = 'live' AND remaining >= ? RETURNING remaining"
)
TAKE_VARIANT = "UPDATE variant SET stock = stock - ? WHERE id = ? AND stock >= ? RETURNING stock"
SET_BUYER_UNITS = (
    "INSERT INTO drop_buyer (drop_id, customer_id, units) VALUES (?, ?, ?)"
    " ON CONFLICT (drop_id, customer_id) DO UPDATE SET units = excluded.units"
)
INSERT_ORDER = (
    "INSERT INTO orders (ref, drop_id, product_id, variant_id, customer_id, identity, chat,"
    " quantity, unit_price_minor, amount_minor, currency, status, holds_stock,"
    " hold_expires_at, refunded_minor, created_at, updated_at, checkout_url)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?) RETURNING id"
)
INSERT_EVENT = (
    "INSERT INTO order_event (order_id, from_status, to_status, cause, at) VALUES (?, ?, ?, ?, ?)"
)
CARDED = f"SELECT customer_id FROM saved_card WHERE customer_id IN {EACH}"
INSERT_CLAIM = (
    "INSERT INTO claim (key, drop_id, customer_id, identity, chat, quantity, variant_id,"
    " status, reason, position, order_id, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"
)

Replay = str  # a key seen before: its first answer is read back after the batch


class Stamps(dict[datetime, str]):
    """Times as SQLAlchemy stores them in SQLite (naive UTC text with microseconds), each
    distinct time formatted once per batch."""

    def __missing__(self, moment: datetime) -> str:
        # isoformat: the same text as strftime("%Y-%m-%d %H:%M:%S.%f"), in a third of the time
        text = moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        self[moment] = text
        return text


def decide_sqlite(
    db: sqlite3.Connection,
    batch: list[tuple[Claim, datetime]],
    strikes: int = 0,
    web_first_paid: bool = False,
    links: Links | None = None,
) -> list[ClaimResult | Replay]:
    """The batch in one transaction, run in the connection's thread. A key seen in an
    earlier batch is answered with the key itself: the caller reads its first answer.
    `links`: the claims whose winner gets the pay link in this transaction too."""
    db.execute("BEGIN IMMEDIATE")
    try:
        answers = _decide(db, batch, strikes, web_first_paid, links)
    except BaseException:
        if db.in_transaction:  # (SQLite may have rolled back on its own, e.g. disk full)
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return answers


def _decide(
    db: sqlite3.Connection,
    batch: list[tuple[Claim, datetime]],
    strikes: int,
    web_first_paid: bool = False,
    links: Links | None = None,
) -> list[ClaimResult | Replay]:
    stamps = Stamps()
    keys = json.dumps([claim.key for claim, _ in batch])
    known = {key for (key,) in db.execute(KNOWN_KEYS, (keys,))}
    fresh = [claim for claim, _ in batch if claim.key not in known]
    customers = _customers(db, fresh, stamps[batch[0][1]])
    drops = _lock_drops(db, fresh, customers, strikes, web_first_paid)
    entries = decide_all(batch, known, drops, customers)
    made = [d for d in entries if isinstance(d, Decision)]
    give_refs(made)
    seekers = link_seekers(made, links)
    carded = {c for (c,) in db.execute(CARDED, (json.dumps(seekers),))} if seekers else set()
    give_links(made, links, carded)
    states = {id(state): state for state in drops.values() if state is not None}
    order_ids, claim_ids = _write(db, list(states.values()), made, stamps)
    winners = json.dumps(sorted({d.customer_id for d in made if d.order is not None}))
    disputes: dict[int, int] = dict(db.execute(DISPUTES, (winners,)).fetchall())
    return answers_of(entries, claim_ids, order_ids, disputes)


def _customers(db: sqlite3.Connection, claims: list[Claim], now: str) -> dict[str, int]:
    """The customer behind each identity, created on first sight (named after it)."""
    names = {claim.identity: claim.display_name for claim in claims}
    found: dict[str, int] = dict(db.execute(IDENTITIES, (json.dumps(sorted(names)),)).fetchall())
    for key in sorted(k for k in names if k not in found):
        row = db.execute(NEW_CUSTOMER, (key, names[key][:100], now)).fetchone()
        customer = (
            row[0] if row is not None else db.execute(CUSTOMER_BY_ORIGIN, (key,)).fetchone()[0]
        )
        db.execute(ADD_IDENTITY, (key, customer))
        found[key] = customer
    return found


def _lock_drops(
    db: sqlite3.Connection,
    claims: list[Claim],
    customers: dict[str, int],
    strikes: int,
    web_first_paid: bool = False,
) -> dict[tuple[str, str | None], DropState | None]:
    """Each claim's live drop and its state (BEGIN IMMEDIATE already holds the lock)."""
    db.row_factory = named_rows
    try:
        targets: dict[tuple[str, str | None], Any] = {}
        for claim in claims:
            pair = (claim.chat, claim.code)
            if pair not in targets:
                targets[pair] = db.execute(
                    FIND_DROP, {"code": claim.code, "chat": claim.chat}
                ).fetchone()
        rows = {r.id: db.execute(DROP, {"id": r.id}).fetchone() for r in targets.values() if r}
    finally:
        db.row_factory = None
    buyers = json.dumps(sorted({customers[c.identity] for c in claims}))
    pay_first: set[int] = set()
    if strikes > 0 and claims:
        pay_first = {c for (c,) in db.execute(STRUCK, (buyers, strikes))}
    web = {customers[c.identity] for c in claims if c.identity.startswith("web:")}
    if web_first_paid and web:  # anonymous web viewers pay first (LIVEBUY_WEB_CLAIMS)
        linked = {c for (c,) in db.execute(LINKED, (json.dumps(sorted(web)),))}
        pay_first |= web - linked
    states: dict[int, DropState] = {}
    for drop_id, row in rows.items():
        states[drop_id] = DropState(
            row=row,
            channels=tuple(chat for (chat,) in db.execute(CHANNELS, {"id": drop_id})),
            variants={
                vid: [label, stock]
                for vid, label, stock in db.execute(VARIANTS, (row.product_id,))
            },
            units=dict(db.execute(BUYER_UNITS, (drop_id, buyers)).fetchall()),
            waiting=dict(db.execute(WAITING, (drop_id, buyers)).fetchall()),
            remaining=row.remaining,
            waitlist=row.waitlist_len,
            pay_first=pay_first,
        )
    return {pair: states[r.id] if r else None for pair, r in targets.items()}


_ROW_TYPES: dict[tuple[str, ...], Any] = {}


def named_rows(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Any:
    """Rows with attributes (row.remaining), as the decisions read a drop's row (a row
    factory for plain sqlite3, also the webhooks' batch path's)."""
    names = tuple(column[0] for column in cursor.description)
    kind = _ROW_TYPES.get(names)
    if kind is None:
        kind = _ROW_TYPES[names] = namedtuple("Row", names)
    return kind(*row)


def _write(
    db: sqlite3.Connection, drops: list[DropState], made: list[Decision], stamps: Stamps
) -> tuple[dict[str, int], dict[str, int]]:
    """The batch's writes; the new orders' ids by ref and the new claims' ids by key."""
    for state in drops:
        drop_id = state.row.id
        if (
            db.execute(TAKE_BATCH, (state.taken, state.joined, drop_id, state.taken)).fetchone()
            is None
        ):
            raise GuardFailed(f"drop {drop_id} changed under the batch")
        for variant_id, taken in sorted(state.variant_taken.items()):
            if db.execute(TAKE_VARIANT, (taken, variant_id, taken)).fetchone() is None:
                raise GuardFailed(f"variant {variant_id} has fewer units than the batch took")
        db.executemany(
            SET_BUYER_UNITS,
            [(drop_id, c, state.units[c]) for c in sorted(state.buyers_changed)],
        )
    order_ids: dict[str, int] = {}
    events: list[tuple[int, str | None, str, str, str]] = []
    for d in made:
        o = d.order
        if o is None:
            continue
        now = stamps[o["now"]]
        (order_ids[o["ref"]],) = db.execute(
            INSERT_ORDER,
            (
                o["ref"],
                o["drop_id"],
                o["product_id"],
                o["variant_id"],
                o["customer_id"],
                o["identity"],
                o["chat"],
                o["q"],
                o["price"],
                o["amount"],
                o["currency"],
                o["status"],
                o["holds"],
                stamps[o["hold_expires_at"]],
                now,
                now,
                o["url"],
            ),
        ).fetchone()
        events.append((order_ids[o["ref"]], None, "reserved", f"claim:{d.claim.key}", now))
        if o["url"] is not None:  # the link handed out (checkout.hand_out_link's event)
            events.append((order_ids[o["ref"]], "reserved", o["status"], f"link:{o['ref']}", now))
    db.executemany(INSERT_EVENT, events)
    claim_ids: dict[str, int] = {}
    for d in made:
        claim = d.claim
        (claim_ids[claim.key],) = db.execute(
            INSERT_CLAIM,
            (
                claim.key,
                d.drop.id if d.drop else None,
                d.customer_id,
                claim.identity,
                claim.chat,
                claim.quantity,
                d.variant_id,
                d.outcome.value,
                d.reason.value if d.reason else "",
                d.position,
                order_ids[d.order["ref"]] if d.order else None,
                stamps[d.now],
            ),
        ).fetchone()
    return order_ids, claim_ids
