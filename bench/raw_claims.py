"""The same-work raw baseline of a claim, the yardstick of `livebuy bench flash-drop`.

Per claim, in arrival order and 100 claims per transaction, on the product's own schema
(indexes, foreign keys, PRAGMAs), exactly what a claim must do: the message key is looked up
(a repeat is answered as the first delivery was), the buyer's customer is found or created,
the per-buyer limit is checked, the drop's units (and the variant's stock) go down with a
guarded UPDATE, a sold-out claim takes a waitlist place, and a claim row, an order row with its
first history row, and one outbox row (the private answer) are written; each claim ends as an
answer object. SQLite runs it with plain `sqlite3`; PostgreSQL with asyncpg, one CTE per claim,
the batch's CTEs pipelined (`fetchmany`).
"""

import re
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

PER_TRANSACTION = 100
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


@dataclass(frozen=True, slots=True)
class RawClaim:
    key: str
    chat: str
    identity: str


@dataclass(frozen=True, slots=True)
class DropSetup:
    """The drop the claims are for, read before the clock starts."""

    drop_id: int
    product_id: int
    variant_id: int
    per_buyer_limit: int | None  # None: no limit
    price_minor: int
    currency: str
    hold_seconds: int


@dataclass(frozen=True, slots=True)
class Answer:
    """What the buyer is told: the raw loop's counterpart of a ClaimResult."""

    outcome: str
    reason: str = ""
    position: int | None = None
    remaining: int | None = None
    order_ref: str | None = None
    amount_minor: int | None = None
    claim_id: int | None = None
    duplicate: bool = False


def refs(n: int) -> list[str]:
    """n order references (8 characters of the hand-typed alphabet) from one random call."""
    raw = secrets.token_bytes(8 * n)
    return ["".join(_ALPHABET[b & 31] for b in raw[i * 8 : i * 8 + 8]) for i in range(n)]


def answer_text(a: Answer) -> str:
    if a.outcome == "won":
        return f"You got it: order {a.order_ref}, {a.amount_minor} to pay."
    if a.outcome == "waitlisted":
        return f"Sold out: you are number {a.position} on the waitlist."
    return f"Not this time ({a.reason})."


def read_drop_sqlite(path: str) -> DropSetup:
    with sqlite3.connect(path) as db:
        return DropSetup(*db.execute(DROP_SETUP).fetchone())


async def read_drop_postgres(conn: asyncpg.Connection) -> DropSetup:
    return DropSetup(*(await conn.fetchrow(DROP_SETUP)))


DROP_SETUP = (
    "SELECT d.id, d.product_id, v.id, d.per_buyer_limit, d.price_minor, p.currency,"
    " d.hold_seconds FROM drops d JOIN product p ON p.id = d.product_id"
    " JOIN variant v ON v.product_id = d.product_id WHERE d.status = 'live'"
    " ORDER BY d.id DESC LIMIT 1"
)


# SQLite --------------------------------------------------------------------------------


def _sqlite_time(moment: datetime) -> str:
    """As SQLAlchemy stores an aware UTC datetime in SQLite."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def raw_sqlite(path: str, claims: list[RawClaim], drop: DropSetup) -> tuple[float, list[Answer]]:
    """Plain sqlite3 with the product's PRAGMAs: (seconds, the answers in arrival order)."""
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    answers: list[Answer] = []
    started = time.perf_counter()
    try:
        for first in range(0, len(claims), PER_TRANSACTION):
            batch = claims[first : first + PER_TRANSACTION]
            db.execute("BEGIN IMMEDIATE")
            answers.extend(sqlite_batch(db, batch, drop))
            db.execute("COMMIT")
        return time.perf_counter() - started, answers
    finally:
        db.close()


def sqlite_batch(db: sqlite3.Connection, batch: list[RawClaim], drop: DropSetup) -> list[Answer]:
    moment = datetime.now(UTC)
    now = _sqlite_time(moment)
    expires = _sqlite_time(moment + timedelta(seconds=drop.hold_seconds))
    order_refs = iter(refs(len(batch)))
    answers = []
    for claim in batch:
        seen = db.execute(
            "SELECT id, status, reason, position, order_id FROM claim WHERE key = ?", (claim.key,)
        ).fetchone()
        if seen is not None:
            claim_id, status, reason, position, _ = seen
            answers.append(Answer(status, reason, position, claim_id=claim_id, duplicate=True))
            continue
        found = db.execute(
            "SELECT customer_id FROM identity WHERE key = ?", (claim.identity,)
        ).fetchone()
        if found is None:
            customer = db.execute(
                "INSERT INTO customer (origin_key, display_name, disputes, created_at)"
                " VALUES (?, ?, 0, ?) RETURNING id",
                (claim.identity, "", now),
            ).fetchone()[0]
            db.execute(
                "INSERT INTO identity (key, customer_id) VALUES (?, ?)", (claim.identity, customer)
            )
        else:
            customer = found[0]
        held = db.execute(
            "SELECT units FROM drop_buyer WHERE drop_id = ? AND customer_id = ?",
            (drop.drop_id, customer),
        ).fetchone()
        a = _sqlite_decide(
            db, claim, drop, customer, 0 if held is None else held[0], now, expires, order_refs
        )
        answers.append(a)
        db.execute(
            "INSERT INTO outbox (platform, chat, text, buttons, status, attempts, not_before,"
            " edit, error, created_at) VALUES (?, ?, ?, '[]', 'pending', 0, ?, 0, '', ?)",
            (
                claim.identity.split(":", 1)[0],
                claim.identity.split(":", 1)[1],
                answer_text(a),
                now,
                now,
            ),
        )
    return answers


def _sqlite_decide(
    db: sqlite3.Connection,
    claim: RawClaim,
    drop: DropSetup,
    customer: int,
    held: int,
    now: str,
    expires: str,
    order_refs: Any,
) -> Answer:
    def claim_row(status: str, reason: str, position: int | None, order_id: int | None) -> int:
        return int(
            db.execute(
                "INSERT INTO claim (key, drop_id, customer_id, identity, chat, quantity,"
                " variant_id, status, reason, position, order_id, created_at)"
                " VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    claim.key,
                    drop.drop_id,
                    customer,
                    claim.identity,
                    claim.chat,
                    drop.variant_id,
                    status,
                    reason,
                    position,
                    order_id,
                    now,
                ),
            ).fetchone()[0]
        )

    if drop.per_buyer_limit is not None and held + 1 > drop.per_buyer_limit:
        return Answer(
            "refused", "limit_reached", claim_id=claim_row("refused", "limit_reached", None, None)
        )
    taken = db.execute(
        "UPDATE drops SET remaining = remaining - 1"
        " WHERE id = ? AND status = 'live' AND remaining >= 1 RETURNING remaining",
        (drop.drop_id,),
    ).fetchone()
    if taken is None:
        waiting = db.execute(
            "SELECT MIN(position) FROM claim WHERE drop_id = ? AND status = 'waitlisted'"
            " AND customer_id = ?",
            (drop.drop_id, customer),
        ).fetchone()[0]
        if waiting is not None:
            cid = claim_row("refused", "already_waitlisted", waiting, None)
            return Answer("refused", "already_waitlisted", waiting, claim_id=cid)
        place = db.execute(
            "UPDATE drops SET waitlist_len = waitlist_len + 1 WHERE id = ? RETURNING waitlist_len",
            (drop.drop_id,),
        ).fetchone()[0]
        return Answer("waitlisted", "", place, claim_id=claim_row("waitlisted", "", place, None))
    db.execute(
        "UPDATE variant SET stock = stock - 1 WHERE id = ? AND stock >= 1", (drop.variant_id,)
    )
    db.execute(
        "INSERT INTO drop_buyer (drop_id, customer_id, units) VALUES (?, ?, 1)"
        " ON CONFLICT (drop_id, customer_id) DO UPDATE SET units = units + 1",
        (drop.drop_id, customer),
    )
    ref = next(order_refs)
    order_id = db.execute(
        "INSERT INTO orders (ref, drop_id, product_id, variant_id, customer_id, identity, chat,"
        " quantity, unit_price_minor, amount_minor, currency, status, holds_stock,"
        " hold_expires_at, refunded_minor, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 'reserved', 1, ?, 0, ?, ?) RETURNING id",
        (
            ref,
            drop.drop_id,
            drop.product_id,
            drop.variant_id,
            customer,
            claim.identity,
            claim.chat,
            drop.price_minor,
            drop.price_minor,
            drop.currency,
            expires,
            now,
            now,
        ),
    ).fetchone()[0]
    db.execute(
        "INSERT INTO order_event (order_id, from_status, to_status, cause, at)"
        " VALUES (?, NULL, 'reserved', ?, ?)",
        (order_id, f"claim:{claim.key}", now),
    )
    cid = claim_row("won", "", None, order_id)
    return Answer(
        "won", remaining=taken[0], order_ref=ref, amount_minor=drop.price_minor, claim_id=cid
    )


# PostgreSQL ------------------------------------------------------------------------------

# One statement per claim. Every part of a data-modifying CTE sees the same snapshot, so each
# step is conditioned on the step before's RETURNING rows rather than on a re-read.
CLAIM_CTE = """
WITH seen AS (
    SELECT id, status, reason, position FROM claim WHERE key = $1
), new_customer AS (
    INSERT INTO customer (origin_key, display_name, disputes, created_at)
    SELECT $3, '', 0, $4 WHERE NOT EXISTS (SELECT 1 FROM seen)
      AND NOT EXISTS (SELECT 1 FROM identity WHERE key = $3)
    ON CONFLICT (origin_key) DO NOTHING RETURNING id
), new_identity AS (
    INSERT INTO identity (key, customer_id) SELECT $3, id FROM new_customer
), who AS (
    SELECT COALESCE((SELECT id FROM new_customer),
                    (SELECT customer_id FROM identity WHERE key = $3)) AS id
    WHERE NOT EXISTS (SELECT 1 FROM seen)
), held AS (
    SELECT who.id, COALESCE(b.units, 0) AS units FROM who
    LEFT JOIN drop_buyer b ON b.drop_id = $5 AND b.customer_id = who.id
), allowed AS (
    SELECT id FROM held WHERE $6 IS NULL OR units + 1 <= $6
), taken AS (
    UPDATE drops SET remaining = remaining - 1
    WHERE id = $5 AND status = 'live' AND remaining >= 1 AND EXISTS (SELECT 1 FROM allowed)
    RETURNING remaining
), variant_taken AS (
    UPDATE variant SET stock = stock - 1
    WHERE id = $7 AND stock >= 1 AND EXISTS (SELECT 1 FROM taken) RETURNING stock
), waiting AS (
    SELECT MIN(position) AS position FROM claim
    WHERE drop_id = $5 AND customer_id = (SELECT id FROM allowed) AND status = 'waitlisted'
), joined AS (
    UPDATE drops SET waitlist_len = waitlist_len + 1
    WHERE id = $5 AND EXISTS (SELECT 1 FROM allowed) AND NOT EXISTS (SELECT 1 FROM taken)
      AND (SELECT position FROM waiting) IS NULL
    RETURNING waitlist_len
), buyer AS (
    INSERT INTO drop_buyer (drop_id, customer_id, units)
    SELECT $5, allowed.id, 1 FROM allowed, variant_taken
    ON CONFLICT (drop_id, customer_id) DO UPDATE SET units = drop_buyer.units + 1
), new_order AS (
    INSERT INTO orders (ref, drop_id, product_id, variant_id, customer_id, identity, chat,
        quantity, unit_price_minor, amount_minor, currency, status, holds_stock,
        hold_expires_at, refunded_minor, created_at, updated_at)
    SELECT $8, $5, $9, $7, allowed.id, $3, $2, 1, $10, $10, $11, 'reserved', true, $12, 0,
        $4, $4
    FROM allowed, variant_taken RETURNING id
), history AS (
    INSERT INTO order_event (order_id, from_status, to_status, cause, at)
    SELECT id, NULL, 'reserved', 'claim:' || $1, $4 FROM new_order
), decided AS (
    SELECT who.id AS customer,
        CASE WHEN (SELECT id FROM new_order) IS NOT NULL THEN 'won'
             WHEN (SELECT waitlist_len FROM joined) IS NOT NULL THEN 'waitlisted'
             ELSE 'refused' END AS status,
        CASE WHEN NOT EXISTS (SELECT 1 FROM allowed) THEN 'limit_reached'
             WHEN (SELECT position FROM waiting) IS NOT NULL THEN 'already_waitlisted'
             ELSE '' END AS reason,
        COALESCE((SELECT waitlist_len FROM joined), (SELECT position FROM waiting)) AS position,
        (SELECT id FROM new_order) AS order_id
    FROM who
), new_claim AS (
    INSERT INTO claim (key, drop_id, customer_id, identity, chat, quantity, variant_id,
        status, reason, position, order_id, created_at)
    SELECT $1, $5, customer, $3, $2, 1, $7, status, reason, position, order_id, $4
    FROM decided RETURNING id, status, reason, position
), answer AS (
    INSERT INTO outbox (platform, chat, text, buttons, status, attempts, not_before, edit,
        error, created_at)
    SELECT split_part($3, ':', 1), split_part($3, ':', 2),
        CASE status WHEN 'won' THEN 'You got it: order ' || $8 || ', ' || $10 || ' to pay.'
                    WHEN 'waitlisted' THEN 'Sold out: you are number ' || position
                        || ' on the waitlist.'
                    ELSE 'Not this time (' || reason || ').' END,
        '[]', 'pending', 0, $4, false, '', $4
    FROM new_claim
)
SELECT id, status, reason, position, (SELECT remaining FROM taken) AS remaining, false AS dup
FROM new_claim
UNION ALL
SELECT id, status, reason, position, NULL, true FROM seen
"""
_TYPES = dict(
    enumerate(
        [
            "text",
            "text",
            "text",
            "timestamptz",
            "int",
            "int",
            "int",
            "text",
            "int",
            "bigint",
            "text",
            "timestamptz",
        ],
        start=1,
    )
)
# Every use of a parameter cast, so that PostgreSQL never deduces two types for one.
CLAIM_CTE = re.sub(r"\$(\d+)", lambda m: f"{m.group(0)}::{_TYPES[int(m.group(1))]}", CLAIM_CTE)


async def raw_postgres(
    url: str, claims: list[RawClaim], drop: DropSetup
) -> tuple[float, list[Answer]]:
    """asyncpg, one prepared CTE per claim, a batch's statements pipelined in one
    transaction: (seconds, the answers in arrival order)."""
    conn = await asyncpg.connect(url)
    try:
        answers: list[Answer] = []
        started = time.perf_counter()
        for first in range(0, len(claims), PER_TRANSACTION):
            batch = claims[first : first + PER_TRANSACTION]
            async with conn.transaction():
                answers.extend(await postgres_batch(conn, batch, drop))
        return time.perf_counter() - started, answers
    finally:
        await conn.close()


async def postgres_batch(
    conn: asyncpg.Connection, batch: list[RawClaim], drop: DropSetup
) -> list[Answer]:
    """A batch's claims, one CTE each, pipelined (inside the caller's transaction)."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=drop.hold_seconds)
    order_refs = refs(len(batch))
    args = [
        (
            c.key,
            c.chat,
            c.identity,
            now,
            drop.drop_id,
            drop.per_buyer_limit,
            drop.variant_id,
            ref,
            drop.product_id,
            drop.price_minor,
            drop.currency,
            expires,
        )
        for c, ref in zip(batch, order_refs, strict=True)
    ]
    rows = await conn.fetchmany(CLAIM_CTE, args)
    answers = []
    for row, ref in zip(rows, order_refs, strict=True):
        won = row["status"] == "won" and not row["dup"]
        answers.append(
            Answer(
                row["status"],
                row["reason"],
                row["position"],
                row["remaining"],
                ref if won else None,
                drop.price_minor if won else None,
                row["id"],
                row["dup"],
            )
        )
    return answers
