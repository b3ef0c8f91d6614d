"""Units for one buyer at a time, for the waitlist and for payments (new claims come in
batches: see claim_batch.py).

Each step is a conditional statement: `UPDATE drops SET remaining = remaining - n WHERE
remaining >= n` decides stock, the same on the variant, and an `ON CONFLICT ... WHERE units + n
<= limit` upsert decides the per-buyer limit. A failed step undoes the earlier ones in the same
transaction, which still holds their row locks (PostgreSQL) or the database lock (SQLite,
BEGIN IMMEDIATE), so nothing is ever read-then-written in Python.
"""

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from commerce.adapters.sql import (
    DROP_COLUMNS,
    drop_view,
    order_view,
    record_transition,
    sql,
)
from commerce.domain.drops import DropPolicy, DropStatus
from commerce.domain.orders import OrderStatus
from commerce.service_layer.results import ClaimOutcome, ClaimResult, RefusalReason

log = logging.getLogger(__name__)

_REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: refs are typed by hand


def new_order_refs(n: int) -> list[str]:
    """n order references from one call for randomness: 8 characters of 5 random bits each
    (the alphabet has 32 characters, so `byte & 31` picks each one evenly)."""
    raw = secrets.token_bytes(8 * n)
    return ["".join([_REF_ALPHABET[b & 31] for b in raw[i : i + 8]]) for i in range(0, 8 * n, 8)]


def new_order_ref() -> str:
    return new_order_refs(1)[0]


SELECT_CLAIM_BY_KEY = sql(
    "SELECT id, drop_id, status, reason, position, order_id FROM claim WHERE key = :key"
)
FIND_LIVE_DROP = sql(
    f"SELECT {DROP_COLUMNS} FROM drops d JOIN product p ON p.id = d.product_id"
    " WHERE d.status = 'live' AND (:code IS NULL OR d.code = :code)"
    " AND (EXISTS (SELECT 1 FROM drop_channel c WHERE c.drop_id = d.id AND c.chat = :chat)"
    "      OR NOT EXISTS (SELECT 1 FROM drop_channel c WHERE c.drop_id = d.id))"
    " ORDER BY d.id DESC LIMIT 1"
)
TAKE_FROM_DROP = sql(
    "UPDATE drops SET remaining = remaining - :q"
    " WHERE id = :drop_id AND status = 'live' AND remaining >= :q RETURNING remaining"
)
# A late payment may still take units of a drop that has ended meanwhile: they were its units.
TAKE_FROM_ANY_DROP = sql(
    "UPDATE drops SET remaining = remaining - :q"
    " WHERE id = :drop_id AND remaining >= :q RETURNING remaining"
)
GIVE_TO_DROP = sql("UPDATE drops SET remaining = remaining + :q WHERE id = :drop_id")
TAKE_FROM_VARIANT = sql(
    "UPDATE variant SET stock = stock - :q WHERE id = :variant_id AND stock >= :q RETURNING stock"
)
VARIANT_STOCK = sql("SELECT stock FROM variant WHERE id = :variant_id")
GIVE_TO_VARIANT = sql("UPDATE variant SET stock = stock + :q WHERE id = :variant_id")
# The per-buyer limit as one atomic statement: the row only grows while it stays in bounds.
ADD_BUYER_UNITS = sql(
    "INSERT INTO drop_buyer (drop_id, customer_id, units) VALUES (:drop_id, :customer_id, :q)"
    " ON CONFLICT (drop_id, customer_id) DO UPDATE SET units = drop_buyer.units + excluded.units"
    " WHERE :limit IS NULL OR drop_buyer.units + excluded.units <= :limit RETURNING units"
)
SUB_BUYER_UNITS = sql(
    "UPDATE drop_buyer SET units = units - :q"
    " WHERE drop_id = :drop_id AND customer_id = :customer_id"
)
# A no-op update: the portable way to take the drop's row lock (SQLite locks the database).
LOCK_DROP = sql("UPDATE drops SET remaining = remaining WHERE id = :drop_id")
DROP_STATE = sql("SELECT status, remaining FROM drops WHERE id = :drop_id")
LEAVE_WAITLIST = sql("UPDATE drops SET waitlist_len = waitlist_len - 1 WHERE id = :drop_id")
INSERT_ORDER = sql(
    "INSERT INTO orders (ref, drop_id, product_id, variant_id, customer_id, identity, chat,"
    " quantity, unit_price_minor, amount_minor, currency, status, holds_stock,"
    " hold_expires_at, refunded_minor, created_at, updated_at)"
    " VALUES (:ref, :drop_id, :product_id, :variant_id, :customer_id, :identity, :chat,"
    " :q, :price, :amount, :currency, 'reserved', :holds, :hold_expires_at, 0, :now, :now)"
    " RETURNING id"
)


@dataclass(frozen=True, slots=True)
class Allocation:
    """Who asks for how many units of which variant of a drop."""

    drop: Any  # a row of FIND_LIVE_DROP / SELECT_DROP
    customer_id: int
    identity: str
    chat: str
    variant_id: int
    quantity: int


async def allocate(
    conn: AsyncConnection, want: Allocation, cause: str, now: datetime
) -> tuple[int | None, RefusalReason | None, int | None]:
    """Gives one buyer an order: (order id, None, None) or (None, reason, units left).

    `remaining` in the refusal is 0 when the drop is sold out (the caller may waitlist).
    """
    d, q = want.drop, want.quantity
    keys = {"drop_id": d.id, "q": q, "variant_id": want.variant_id}
    holds = d.policy == DropPolicy.HOLD
    if holds:
        refusal = await take_units(conn, keys, live_only=True)
    else:
        # First paid, first served: the claim takes nothing (the payment will), but it must
        # not open a checkout for units that are already sold.
        refusal = await check_units(conn, keys)
    if refusal is not None:
        return None, *refusal
    buyer = {"drop_id": d.id, "customer_id": want.customer_id, "q": q}
    if (
        await conn.execute(ADD_BUYER_UNITS, {**buyer, "limit": d.per_buyer_limit})
    ).first() is None:
        if holds:
            await give_units(conn, keys)
        return None, RefusalReason.LIMIT_REACHED, None
    order_id = (
        await conn.execute(
            INSERT_ORDER,
            {
                **buyer,
                "ref": new_order_ref(),
                "product_id": d.product_id,
                "variant_id": want.variant_id,
                "identity": want.identity,
                "chat": want.chat,
                "price": d.price_minor,
                "amount": d.price_minor * q,
                "currency": d.currency,
                "holds": holds,
                "hold_expires_at": now + timedelta(seconds=d.hold_seconds),
                "now": now,
            },
        )
    ).scalar_one()
    await record_transition(conn, order_id, None, OrderStatus.RESERVED, cause, now)
    return order_id, None, None


Refusal = tuple[RefusalReason, int | None]


async def take_units(
    conn: AsyncConnection, keys: dict[str, Any], live_only: bool
) -> Refusal | None:
    """Takes `q` units out of the drop and the variant, both or neither."""
    take = TAKE_FROM_DROP if live_only else TAKE_FROM_ANY_DROP
    if (await conn.execute(take, keys)).first() is None:
        state = (await conn.execute(DROP_STATE, keys)).one()
        if live_only and state.status != DropStatus.LIVE:
            return RefusalReason.DROP_ENDED, None
        return RefusalReason.NOT_ENOUGH_LEFT, state.remaining
    if (await conn.execute(TAKE_FROM_VARIANT, keys)).first() is None:
        await conn.execute(GIVE_TO_DROP, keys)
        return RefusalReason.VARIANT_SOLD_OUT, None
    return None


async def give_units(conn: AsyncConnection, keys: dict[str, Any]) -> None:
    await conn.execute(GIVE_TO_DROP, keys)
    await conn.execute(GIVE_TO_VARIANT, keys)


async def check_units(conn: AsyncConnection, keys: dict[str, Any]) -> Refusal | None:
    """Whether `q` units are still free, without taking them."""
    state = (await conn.execute(DROP_STATE, keys)).one()
    if state.status != DropStatus.LIVE:
        return RefusalReason.DROP_ENDED, None
    if state.remaining < keys["q"]:
        return RefusalReason.NOT_ENOUGH_LEFT, state.remaining
    if (await conn.execute(VARIANT_STOCK, keys)).scalar_one() < keys["q"]:
        return RefusalReason.VARIANT_SOLD_OUT, None
    return None


async def replay(conn: AsyncConnection, key: str) -> ClaimResult:
    """The result a message got the first time it was delivered."""
    row = (await conn.execute(SELECT_CLAIM_BY_KEY, {"key": key})).one()
    drop = await drop_view(conn, row.drop_id) if row.drop_id is not None else None
    order = await order_view(conn, row.order_id) if row.order_id is not None else None
    return ClaimResult(
        ClaimOutcome(row.status) if row.status != "pending" else ClaimOutcome.REFUSED,
        drop,
        order,
        position=row.position,
        reason=RefusalReason(row.reason) if row.reason else None,
        duplicate=True,
        claim_id=row.id,
        order_id=row.order_id,
    )
