"""The claim path: what a `#buy` wins, decided by the database, batched per process.

Every claim runs a short sequence of conditional statements inside one transaction:
`UPDATE drops SET remaining = remaining - n WHERE remaining >= n` decides stock, the same on
the variant, and an `ON CONFLICT ... WHERE units + n <= limit` upsert decides the per-buyer
limit. A failed step undoes the earlier ones in the same transaction, which still holds their
row locks (PostgreSQL) or the database lock (SQLite, BEGIN IMMEDIATE), so nothing is ever
read-then-written in Python. The `ClaimWriter` runs all claims that arrive together in one
transaction, in arrival order, instead of paying one commit per claim.
"""

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.sql import (
    DROP_COLUMNS,
    drop_view,
    order_view,
    record_transition,
    sql,
    utc,
)
from commerce.domain.commands import Claim
from commerce.domain.drops import DropPolicy, DropStatus
from commerce.domain.orders import OrderStatus
from commerce.domain.products import DEFAULT_VARIANT, match_variant
from commerce.service_layer.results import ClaimOutcome, ClaimResult, RefusalReason

log = logging.getLogger(__name__)

_REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: refs are typed by hand


def new_order_ref() -> str:
    return "".join(secrets.choice(_REF_ALPHABET) for _ in range(8))


INSERT_CLAIM = sql(
    "INSERT INTO claim (key, customer_id, identity, chat, quantity, status, reason, created_at)"
    " VALUES (:key, :customer_id, :identity, :chat, :quantity, 'pending', '', :now)"
    " ON CONFLICT (key) DO NOTHING RETURNING id"
)
SELECT_CLAIM_BY_KEY = sql(
    "SELECT id, drop_id, status, reason, position, order_id FROM claim WHERE key = :key"
)
FINISH_CLAIM = sql(
    "UPDATE claim SET status = :status, reason = :reason, position = :position,"
    " order_id = :order_id, drop_id = :drop_id, variant_id = :variant_id WHERE id = :id"
)
FIND_LIVE_DROP = sql(
    f"SELECT {DROP_COLUMNS} FROM drops d JOIN product p ON p.id = d.product_id"
    " WHERE d.status = 'live' AND (:code IS NULL OR d.code = :code)"
    " AND (EXISTS (SELECT 1 FROM drop_channel c WHERE c.drop_id = d.id AND c.chat = :chat)"
    "      OR NOT EXISTS (SELECT 1 FROM drop_channel c WHERE c.drop_id = d.id))"
    " ORDER BY d.id DESC LIMIT 1"
)
SELECT_IDENTITY = sql("SELECT customer_id FROM identity WHERE key = :key")
INSERT_CUSTOMER = sql(
    "INSERT INTO customer (display_name, created_at) VALUES (:name, :now) RETURNING id"
)
INSERT_IDENTITY = sql(
    "INSERT INTO identity (key, customer_id) VALUES (:key, :customer_id)"
    " ON CONFLICT (key) DO NOTHING"
)
SELECT_VARIANTS = sql("SELECT id, label FROM variant WHERE product_id = :product_id ORDER BY id")
SELECT_UNITS = sql(
    "SELECT units FROM drop_buyer WHERE drop_id = :drop_id AND customer_id = :customer_id"
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
JOIN_WAITLIST = sql(
    "UPDATE drops SET waitlist_len = waitlist_len + 1 WHERE id = :drop_id RETURNING waitlist_len"
)
LEAVE_WAITLIST = sql("UPDATE drops SET waitlist_len = waitlist_len - 1 WHERE id = :drop_id")
ALREADY_WAITING = sql(
    "SELECT position FROM claim WHERE drop_id = :drop_id AND customer_id = :customer_id"
    " AND status = 'waitlisted' ORDER BY id LIMIT 1"
)
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


async def customer_for(conn: AsyncConnection, identity: str, name: str, now: datetime) -> int:
    """The customer behind a platform identity, created on first sight."""
    found = (await conn.execute(SELECT_IDENTITY, {"key": identity})).scalar()
    if found is not None:
        return int(found)
    new_id = (await conn.execute(INSERT_CUSTOMER, {"name": name[:100], "now": now})).scalar_one()
    await conn.execute(INSERT_IDENTITY, {"key": identity, "customer_id": new_id})
    # Another process may have inserted the same identity first: its customer wins.
    return int((await conn.execute(SELECT_IDENTITY, {"key": identity})).scalar_one())


async def decide(
    conn: AsyncConnection, claim: Claim, customer_id: int, now: datetime, locked: set[int]
) -> ClaimResult:
    """Decides one claim inside the caller's transaction (`locked`: drops it has locked)."""
    if (await conn.execute(SELECT_CLAIM_BY_KEY, {"key": claim.key})).first() is not None:
        return await replay(conn, claim.key)
    row = (await conn.execute(FIND_LIVE_DROP, {"code": claim.code, "chat": claim.chat})).first()
    if row is not None and row.id not in locked:
        # Lock the drop before the claim takes its sequence number, so that the claims of a
        # drop are numbered in the order the database decides them, across processes, and
        # every transaction takes the drop's lock before any other row of the claim.
        await conn.execute(LOCK_DROP, {"drop_id": row.id})
        locked.add(row.id)
    claim_id = (
        await conn.execute(
            INSERT_CLAIM,
            {
                "key": claim.key,
                "customer_id": customer_id,
                "identity": claim.identity,
                "chat": claim.chat,
                "quantity": claim.quantity,
                "now": now,
            },
        )
    ).scalar()
    if claim_id is None:  # the same message, decided meanwhile by another process
        return await replay(conn, claim.key)
    result, variant_id = await _decide(conn, claim, row, claim_id, customer_id, now)
    await conn.execute(
        FINISH_CLAIM,
        {
            "id": claim_id,
            "status": result.outcome.value,
            "reason": result.reason.value if result.reason else "",
            "position": result.position,
            "order_id": result.order_id,
            "drop_id": result.drop.id if result.drop else None,
            "variant_id": variant_id,
        },
    )
    return result


async def _decide(
    conn: AsyncConnection, claim: Claim, row: Any, claim_id: int, customer_id: int, now: datetime
) -> tuple[ClaimResult, int | None]:
    """The decision and the variant it concerns."""
    refused = ClaimOutcome.REFUSED
    if row is None:
        return ClaimResult(refused, reason=RefusalReason.NO_LIVE_DROP, claim_id=claim_id), None
    drop = await drop_view(conn, row.id)
    if row.ends_at is not None and utc(row.ends_at) <= now:
        return ClaimResult(refused, drop, reason=RefusalReason.DROP_ENDED, claim_id=claim_id), None

    variants = (await conn.execute(SELECT_VARIANTS, {"product_id": row.product_id})).all()
    labels = [v.label for v in variants]
    if labels == [DEFAULT_VARIANT]:
        variant_id = variants[0].id
    else:
        label = match_variant(labels, claim.variant_words, "")
        if label is None:
            why = (
                RefusalReason.UNKNOWN_VARIANT
                if claim.variant_words
                else RefusalReason.VARIANT_REQUIRED
            )
            refusal = ClaimResult(refused, drop, reason=why, variants=tuple(labels))
            return replace(refusal, claim_id=claim_id), None
        variant_id = next(v.id for v in variants if v.label == label)

    limit = row.per_buyer_limit
    keys = {"drop_id": row.id, "customer_id": customer_id}
    held = (await conn.execute(SELECT_UNITS, keys)).scalar() or 0
    if limit is not None and held + claim.quantity > limit:
        refusal = ClaimResult(refused, drop, reason=RefusalReason.LIMIT_REACHED, claim_id=claim_id)
        return refusal, variant_id

    want = Allocation(row, customer_id, claim.identity, claim.chat, variant_id, claim.quantity)
    order_id, reason, left = await allocate(conn, want, f"claim:{claim.key}", now)
    if order_id is not None:
        won = ClaimResult(
            ClaimOutcome.WON,
            await drop_view(conn, row.id),
            await order_view(conn, order_id),
            claim_id=claim_id,
            order_id=order_id,
        )
        return won, variant_id
    if reason is RefusalReason.NOT_ENOUGH_LEFT and left == 0:
        waiting = (await conn.execute(ALREADY_WAITING, keys)).first()
        if waiting is not None:
            refusal = ClaimResult(
                refused,
                drop,
                position=waiting.position,
                reason=RefusalReason.ALREADY_WAITLISTED,
                claim_id=claim_id,
            )
            return refusal, variant_id
        position = (await conn.execute(JOIN_WAITLIST, keys)).scalar_one()
        drop = await drop_view(conn, row.id)
        waitlisted = ClaimResult(
            ClaimOutcome.WAITLISTED, drop, position=position, claim_id=claim_id
        )
        return waitlisted, variant_id
    return ClaimResult(refused, drop, reason=reason, remaining=left, claim_id=claim_id), variant_id


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


class ClaimWriter:
    """Runs the claims that arrive together in one transaction and answers in arrival order.

    One writer per process: callers `await submit(claim)`; a single task drains the queue.
    """

    def __init__(self, engine: AsyncEngine, max_batch: int = 500) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: asyncio.Queue[tuple[Claim, datetime, asyncio.Future[ClaimResult]]] = (
            asyncio.Queue()
        )
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # for tests and metrics: how many transactions served the claims

    async def submit(self, claim: Claim, now: datetime) -> ClaimResult:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="claim-writer")
        future: asyncio.Future[ClaimResult] = asyncio.get_running_loop().create_future()
        await self._queue.put((claim, now, future))
        return await future

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await self._in_one_transaction(batch)
            except (IntegrityError, DBAPIError) as exc:
                # A deadlock with another process or a duplicate key racing in from another
                # worker rolls back the whole batch: each claim then runs on its own.
                log.warning("claim batch of %d retried one by one: %s", len(batch), exc.orig)
                await self._one_by_one(batch)
                continue
            except Exception as exc:  # the callers must hear about it, not hang
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _customers(self, claims: list[Claim], now: datetime) -> dict[str, int]:
        """Resolves identities in a transaction of their own, in a fixed (sorted) order:
        creating customers inside the claim transaction would lock rows in an order that
        deadlocks with other processes."""
        names = {claim.identity: claim.display_name for claim in claims}
        async with self._engine.begin() as conn:
            return {i: await customer_for(conn, i, names[i], now) for i in sorted(names)}

    async def _in_one_transaction(
        self, batch: list[tuple[Claim, datetime, asyncio.Future[ClaimResult]]]
    ) -> list[ClaimResult]:
        customers = await self._customers([claim for claim, _, _ in batch], batch[0][1])
        locked: set[int] = set()
        async with self._engine.begin() as conn:
            results = [
                await decide(conn, claim, customers[claim.identity], now, locked)
                for claim, now, _ in batch
            ]
        self.batches += 1
        return results

    async def _one_by_one(
        self, batch: list[tuple[Claim, datetime, asyncio.Future[ClaimResult]]]
    ) -> None:
        for claim, now, future in batch:
            for attempt in range(5):
                try:
                    customer = (await self._customers([claim], now))[claim.identity]
                    async with self._engine.begin() as conn:
                        result = await decide(conn, claim, customer, now, set())
                    future.set_result(result)
                    break
                except (IntegrityError, DBAPIError) as exc:
                    if attempt == 4:
                        future.set_exception(exc)
                    await asyncio.sleep(0.01 * (attempt + 1))
                except Exception as exc:
                    future.set_exception(exc)
                    break
