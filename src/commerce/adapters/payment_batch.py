"""Paid Checkouts applied in a batch at the database's speed (`SqlLedger.pay_checkouts`).

The common webhook (a `checkout.session.completed`, paid, for an order that still holds its
units) is applied by the driver's own cursor inside the group commit's transaction: plain
`sqlite3` in the connection's own thread (one thread hop for the whole batch instead of about
twenty per delivery), asyncpg's prepared statements on PostgreSQL. Per event: the order read
once with its row lock (and whether the event is stored already), the event stored already
marked processed (or a stored one claimed and marked, a retry after a failure), the payer
recorded, the order paid by a guarded UPDATE and its history row written. The row read is
the row updated: nothing reads it again.

The rules are payments.apply_payment_event's; everything that path would do beyond paying a
held order is left to it: an event that is not simple (an order not found or not holding
its units, an amount that does not match, a refund or a dispute reported before, a payer
over a drop's per-buyer limit, a first card to keep, ...) stops the batch before any write
of its own, and the caller applies it the usual way, then hands the rest back here. So the
order of arrival is kept, and a declined event has written nothing.
"""

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from commerce.adapters.claim_sqlite import named_rows
from commerce.adapters.sql import NEWEST_SHIP_TO, ORDER_COLUMNS, ORDER_FROM, to_order_view
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import payment_mismatch
from commerce.service_layer.ports import CheckoutPaid, PaidCheckout

S = OrderStatus
# The order an event names (its ref, else its session or payment), read once, with what the
# rules need beside it: the drop's per-buyer limit, whether the buyer has a saved card.
FIND = (
    f"SELECT {ORDER_COLUMNS}, d.per_buyer_limit,"
    " EXISTS (SELECT 1 FROM saved_card s JOIN identity i ON i.customer_id = s.customer_id"
    " WHERE i.key = o.identity) AS has_card"
    f" {ORDER_FROM} WHERE o.id = (SELECT id FROM orders WHERE ref = $1"
    " OR checkout_session = $2 OR payment_ref = $3 ORDER BY id LIMIT 1)"
)
# Whether the event is stored already, and if so whether it may be taken (None: not stored).
# One that is processed, or held by another delivery right now, is a duplicate.
EVENT = (
    "SELECT processed_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $2)"
    " FROM payment_event WHERE id = $1"
)
# Stored already processed: the same row as storing, claiming and marking it one by one.
STORE_DONE = (
    "INSERT INTO payment_event (id, type, payload, received_at, processed_at, outcome,"
    " attempts, claimed_until) VALUES ($1, $2, $3, $4, $4, $5, 1, NULL)"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
# A stored event nobody holds and nobody processed (its first delivery failed): taken and
# marked at once.
CLAIM_DONE = (
    "UPDATE payment_event SET processed_at = $2, outcome = $3, attempts = attempts + 1,"
    " claimed_until = NULL WHERE id = $1 AND processed_at IS NULL"
    " AND (claimed_until IS NULL OR claimed_until <= $2) RETURNING id"
)
RECORD_PAYER = (
    "UPDATE orders SET card_fingerprint = COALESCE(card_fingerprint, $2),"
    " payer_email = COALESCE(payer_email, $3) WHERE id = $1"
)
PAYMENT_CUSTOMER = (
    "UPDATE customer SET payment_customer = $2 WHERE payment_customer IS NULL AND id = $1"
)
# The first address wins; the buyer's row is locked first, so that two addresses recorded at
# once choose the newest one after the other (as SqlLedger.record_ship_to).
LOCK_CUSTOMER = "UPDATE customer SET ship_to = ship_to WHERE id = $1"
SET_SHIP_TO = (
    "UPDATE orders SET ship_to = $2, updated_at = $3 WHERE id = $1 AND ship_to IS NULL"
    " RETURNING id"
)
REMEMBER_SHIP_TO = (
    f"UPDATE customer SET ship_to = ({NEWEST_SHIP_TO.format(customer='customer.id')})"
    " WHERE id = $1"
)
PAY = (
    "UPDATE orders SET status = 'paid', holds_stock = $4, payment_ref = $2, paid_at = $3,"
    " updated_at = $3 WHERE id = $1 AND status IN ('reserved', 'checkout_open')"
    " AND holds_stock = $4 RETURNING id"
)
HISTORY = (
    "INSERT INTO order_event (order_id, from_status, to_status, cause, at)"
    " VALUES ($1, $2, 'paid', $3, $4)"
)
PAYABLE = frozenset({S.RESERVED, S.CHECKOUT_OPEN})
PAID_OUTCOME = f"paid: order {S.PAID}"
DUPLICATE = CheckoutPaid(None, "duplicate")


def _payable(payment: PaidCheckout, row: Any, check_card: bool) -> bool:
    """Whether the batch pays this order, or leaves the event to the usual path."""
    if row is None:
        return False  # unknown order: the usual path waits for it or ignores the event
    if S(row.status) not in PAYABLE or not row.holds_stock:
        return False  # paid already, expired, in review, ...: the usual path decides
    if row.refunded_minor or row.dispute is not None:
        return False  # a refund or a dispute reported before: applied after the payment
    expected = Money(row.amount_minor + row.shipping_amount, row.currency)
    if payment_mismatch(expected, payment.amount, payment.currency) is not None:
        return False  # to review, the usual way
    if (payment.card is not None or payment.email is not None) and row.per_buyer_limit is not None:
        return False  # counted against the drop's per-buyer limit, the usual way
    # A first Checkout may have kept a card: read from Stripe after the commit.
    return not (check_card and not row.has_card and payment.payment_ref is not None)


def _paid(payment: PaidCheckout, row: Any, ship_to: str | None) -> CheckoutPaid:
    view = to_order_view(row)
    paid = replace(
        view, status=S.PAID, payment_ref=payment.payment, holds_stock=True,
        ship_to=view.ship_to or ship_to,
    )  # fmt: skip
    return CheckoutPaid(paid, PAID_OUTCOME)


# SQLite: the batch as one call in the connection's thread --------------------------------


def _q(statement: str) -> str:
    return statement.replace("$", "?")


def pay_sqlite(
    db: sqlite3.Connection, payments: list[PaidCheckout], now: datetime, check_card: bool
) -> list[CheckoutPaid]:
    """Inside the unit's open transaction (BEGIN IMMEDIATE: the write lock is held, nothing
    read here changes before the commit)."""
    stamp = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    done: list[CheckoutPaid] = []
    cursor = db.cursor()
    cursor.row_factory = named_rows
    for payment in payments:
        known = db.execute(_q(EVENT), (payment.event_id, stamp)).fetchone()
        if known is not None and not known[0]:
            done.append(DUPLICATE)
            continue
        if not payment.applies:
            break
        ref = (payment.order_ref or "").upper() or None
        row = cursor.execute(_q(FIND), (ref, payment.session_id, payment.payment_ref)).fetchone()
        if not _payable(payment, row, check_card):
            break
        store = (
            (
                _q(STORE_DONE),
                (payment.event_id, payment.type, payment.payload, stamp, PAID_OUTCOME),
            )
            if known is None
            else (_q(CLAIM_DONE), (payment.event_id, stamp, PAID_OUTCOME))
        )
        if db.execute(*store).fetchone() is None:  # not under the write lock held here
            raise RuntimeError(f"payment event {payment.event_id} changed under the lock")
        if payment.payment_customer:
            db.execute(_q(PAYMENT_CUSTOMER), (row.customer_id, payment.payment_customer))
        if payment.ship_to:
            db.execute(_q(LOCK_CUSTOMER), (row.customer_id,))
            if db.execute(_q(SET_SHIP_TO), (row.id, payment.ship_to, stamp)).fetchone():
                db.execute(_q(REMEMBER_SHIP_TO), (row.customer_id,))
        if payment.card is not None or payment.email is not None:
            db.execute(_q(RECORD_PAYER), (row.id, payment.card, payment.email))
        if db.execute(_q(PAY), (row.id, payment.payment, stamp, True)).fetchone() is None:
            raise RuntimeError(f"order {row.ref} changed under its lock")
        db.execute(_q(HISTORY), (row.id, row.status, payment.cause[:200], stamp))
        done.append(_paid(payment, row, payment.ship_to))
    return done


# PostgreSQL: set-based, a few round trips per batch --------------------------------------
# The batch's statements take arrays (fixed shapes that asyncpg keeps prepared): each round
# trip to the server serves every event of the batch, as the raw handler's pool of
# connections serves its events side by side.

EVENTS_PG = (
    "SELECT id, processed_at IS NULL AND (claimed_until IS NULL OR claimed_until <= $2)"
    " FROM payment_event WHERE id = ANY($1::text[])"
)
# Locked in the order of their ids: two workers' batches never wait for each other in turn.
FIND_PG = (
    f"SELECT {ORDER_COLUMNS}, d.per_buyer_limit,"
    " EXISTS (SELECT 1 FROM saved_card s JOIN identity i ON i.customer_id = s.customer_id"
    " WHERE i.key = o.identity) AS has_card, x.n"
    " FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS x(ref, session,"
    " payment, n) JOIN orders o ON o.id = (SELECT id FROM orders WHERE ref = x.ref"
    " OR checkout_session = x.session OR payment_ref = x.payment ORDER BY id LIMIT 1)"
    " JOIN drops d ON d.id = o.drop_id JOIN product p ON p.id = o.product_id"
    " JOIN variant v ON v.id = o.variant_id JOIN customer c ON c.id = o.customer_id"
    " ORDER BY o.id FOR UPDATE OF o"
)
STORE_DONE_PG = (
    "INSERT INTO payment_event (id, type, payload, received_at, processed_at, outcome,"
    " attempts, claimed_until) SELECT x.id, x.type, x.payload, $4, $4, $5, 1, NULL"
    " FROM unnest($1::text[], $2::text[], $3::text[]) AS x(id, type, payload)"
    " ON CONFLICT (id) DO NOTHING RETURNING id"
)
PAY_PG = (
    "UPDATE orders SET status = 'paid', holds_stock = true, payment_ref = x.payment,"
    " paid_at = $3, updated_at = $3 FROM unnest($1::bigint[], $2::text[]) AS x(id, payment)"
    " WHERE orders.id = x.id AND orders.status IN ('reserved', 'checkout_open')"
    " AND orders.holds_stock RETURNING orders.id"
)
HISTORY_PG = (
    "INSERT INTO order_event (order_id, from_status, to_status, cause, at)"
    " SELECT x.id, x.from_status, 'paid', x.cause, $4"
    " FROM unnest($1::bigint[], $2::text[], $3::text[]) AS x(id, from_status, cause)"
)


async def pay_postgres(
    conn: Any, payments: list[PaidCheckout], now: datetime, check_card: bool
) -> list[CheckoutPaid]:
    known = {r[0]: r[1] for r in await conn.fetch(EVENTS_PG, [p.event_id for p in payments], now)}
    # The head of the batch: duplicates, and the payments to look at (up to the first event
    # of another kind that is not a duplicate).
    head: list[tuple[PaidCheckout, bool]] = []  # (payment, a duplicate)
    seen: set[str] = set()
    for payment in payments:
        duplicate = payment.event_id in seen or known.get(payment.event_id) is False
        if not duplicate and not payment.applies:
            break
        seen.add(payment.event_id)
        head.append((payment, duplicate))
    looked_at = [p for p, duplicate in head if not duplicate]
    rows: dict[int, Any] = {}
    if looked_at:
        refs = [(p.order_ref or "").upper() or None for p in looked_at]
        sessions = [p.session_id for p in looked_at]
        paid_with = [p.payment_ref for p in looked_at]
        for record in await conn.fetch(FIND_PG, refs, sessions, paid_with):
            rows[record["n"] - 1] = _PgRow(record)
    # Decided in order, as one by one: the first that needs more ends the head.
    plan: list[tuple[PaidCheckout, Any] | None] = []  # None: a duplicate
    paying: set[int] = set()
    n = 0
    for payment, duplicate in head:
        if duplicate:
            plan.append(None)
            continue
        row = rows.get(n)
        n += 1
        if row is None or row.id in paying or not _payable(payment, row, check_card):
            break
        paying.add(row.id)
        plan.append((payment, row))
    pays = [step for step in plan if step is not None]
    fresh = [p for p, _ in pays if p.event_id not in known]
    stored = set()
    if fresh:
        stored = {
            r[0]
            for r in await conn.fetch(
                STORE_DONE_PG,
                [p.event_id for p in fresh], [p.type for p in fresh],
                [p.payload for p in fresh], now, PAID_OUTCOME,
            )
        }  # fmt: skip
    for payment, _ in pays:
        if payment.event_id in known and await conn.fetchval(
            CLAIM_DONE, payment.event_id, now, PAID_OUTCOME
        ):
            stored.add(payment.event_id)
    # Another worker stored (or took) one meanwhile: its delivery applies it.
    pays = [(p, row) for p, row in pays if p.event_id in stored]
    for payment, row in pays:
        if payment.payment_customer:
            await conn.execute(PAYMENT_CUSTOMER, row.customer_id, payment.payment_customer)
        if payment.ship_to:
            await conn.execute(LOCK_CUSTOMER, row.customer_id)
            if await conn.fetchval(SET_SHIP_TO, row.id, payment.ship_to, now) is not None:
                await conn.execute(REMEMBER_SHIP_TO, row.customer_id)
    payers = [
        (row.id, p.card, p.email) for p, row in pays if p.card is not None or p.email is not None
    ]
    if payers:
        await conn.executemany(RECORD_PAYER, payers)
    if pays:
        ids = [row.id for _, row in pays]
        paid = await conn.fetch(PAY_PG, ids, [p.payment for p, _ in pays], now)
        if len(paid) != len(pays):
            raise RuntimeError("an order changed under its lock")
        causes = [p.cause[:200] for p, _ in pays]
        await conn.execute(HISTORY_PG, ids, [row.status for _, row in pays], causes, now)
    applied = {p.event_id: _paid(p, row, p.ship_to) for p, row in pays}
    return [
        DUPLICATE if step is None else applied.get(step[0].event_id, DUPLICATE) for step in plan
    ]


class _PgRow:
    """An asyncpg record read by attribute, as SQLAlchemy's rows are."""

    __slots__ = ("_record",)

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        return self._record[name]


async def pay_checkouts(
    conn: AsyncConnection, payments: list[PaidCheckout], now: datetime, check_card: bool
) -> list[CheckoutPaid]:
    """The batch on the connection of the open transaction (the unit of work's)."""
    pooled: Any = await conn.get_raw_connection()
    driver = pooled.driver_connection
    if conn.dialect.name == "sqlite":
        # The unit began its transaction already (BEGIN IMMEDIATE, db.py).
        result: list[CheckoutPaid] = await driver._execute(
            pay_sqlite, driver._conn, payments, now, check_card
        )
        return result
    adapted = pooled.dbapi_connection
    if adapted._transaction is None:  # SQLAlchemy begins on asyncpg at the first statement
        await adapted._start_transaction()
    return await pay_postgres(driver, payments, now, check_card)
