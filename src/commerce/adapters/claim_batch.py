"""Set-based claim batches: all the claims that arrived together, decided in one transaction
with a fixed number of statements, whatever the batch size.

The transaction first locks the rows of the drops it claims from (ascending ids, so batches in
several processes never deadlock; on SQLite BEGIN IMMEDIATE locks the database). Under that
lock no other transaction can change a drop's remaining units, waitlist or buyer counts, so
the batch reads them once and gives out units in arrival order. The writes are still guarded
by the database: the drop's units go down with `UPDATE ... WHERE remaining >= :taken` and each
variant's with `WHERE stock >= :taken`; a guard that does not hold aborts the batch (and its
claims are retried one by one), so stock never goes negative whatever the code above decided.
"""

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection

from commerce.adapters.claims import FIND_LIVE_DROP, LOCK_DROP, new_order_refs, replay
from commerce.adapters.sql import SELECT_CHANNELS, SELECT_DROP, sql, to_drop_view, utc
from commerce.domain.commands import Claim
from commerce.domain.drops import DropPolicy, DropStatus
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import DEFAULT_VARIANT, match_variant
from commerce.service_layer.results import (
    ClaimOutcome,
    ClaimResult,
    DropView,
    OrderView,
    RefusalReason,
)

R = RefusalReason
log = logging.getLogger(__name__)


class GuardFailed(Exception):
    """A guarded write found the database other than the batch read it: retry the claims."""


def sql_in(statement: str, *lists: str) -> TextClause:
    """A statement with `IN :name` lists."""
    clause = sql(statement)
    return clause.bindparams(*(bindparam(name, expanding=True) for name in lists))


UPSERT_CUSTOMERS = sql(
    "INSERT INTO customer (origin_key, display_name, disputes, created_at)"
    " VALUES (:key, :name, 0, :now) ON CONFLICT (origin_key) DO NOTHING"
)
CUSTOMERS_BY_ORIGIN = sql_in(
    "SELECT origin_key, id FROM customer WHERE origin_key IN :keys", "keys"
)
ADD_IDENTITIES = sql(
    "INSERT INTO identity (key, customer_id) VALUES (:key, :customer_id)"
    " ON CONFLICT (key) DO NOTHING"
)
IDENTITIES = sql_in("SELECT key, customer_id FROM identity WHERE key IN :keys", "keys")
KNOWN_KEYS = sql_in("SELECT key FROM claim WHERE key IN :keys", "keys")
CLAIM_IDS = sql_in("SELECT key, id FROM claim WHERE key IN :keys", "keys")
VARIANTS = sql("SELECT id, label, stock FROM variant WHERE product_id = :product_id ORDER BY id")
BUYER_UNITS = sql_in(
    "SELECT customer_id, units FROM drop_buyer WHERE drop_id = :drop_id"
    " AND customer_id IN :customers",
    "customers",
)
WAITING = sql_in(
    "SELECT customer_id, MIN(position) AS position FROM claim WHERE drop_id = :drop_id"
    " AND status = 'waitlisted' AND customer_id IN :customers GROUP BY customer_id",
    "customers",
)
DISPUTES = sql_in("SELECT id, disputes FROM customer WHERE id IN :ids", "ids")
STRUCK = sql_in(
    "SELECT customer_id FROM strike WHERE customer_id IN :customers"
    " GROUP BY customer_id HAVING COUNT(*) >= :strikes",
    "customers",
)
TAKE_BATCH = sql(
    "UPDATE drops SET remaining = remaining - :taken, waitlist_len = waitlist_len + :joined"
    " WHERE id = :drop_id AND status = 'live' AND remaining >= :taken RETURNING remaining"
)
TAKE_VARIANT = sql(
    "UPDATE variant SET stock = stock - :taken WHERE id = :variant_id AND stock >= :taken"
    " RETURNING stock"
)
SET_BUYER_UNITS = sql(
    "INSERT INTO drop_buyer (drop_id, customer_id, units) VALUES (:drop_id, :customer_id, :units)"
    " ON CONFLICT (drop_id, customer_id) DO UPDATE SET units = excluded.units"
)
INSERT_ORDERS = sql(
    "INSERT INTO orders (ref, drop_id, product_id, variant_id, customer_id, identity, chat,"
    " quantity, unit_price_minor, amount_minor, currency, status, holds_stock,"
    " hold_expires_at, refunded_minor, created_at, updated_at)"
    " VALUES (:ref, :drop_id, :product_id, :variant_id, :customer_id, :identity, :chat,"
    " :q, :price, :amount, :currency, 'reserved', :holds, :hold_expires_at, 0, :now, :now)"
)
ORDER_IDS = sql_in("SELECT ref, id FROM orders WHERE ref IN :refs", "refs")
INSERT_EVENTS = sql(
    "INSERT INTO order_event (order_id, from_status, to_status, cause, at)"
    " VALUES (:order_id, NULL, 'reserved', :cause, :at)"
)
INSERT_CLAIMS = sql(
    "INSERT INTO claim (key, drop_id, customer_id, identity, chat, quantity, variant_id,"
    " status, reason, position, order_id, created_at) VALUES (:key, :drop_id, :customer_id,"
    " :identity, :chat, :quantity, :variant_id, :status, :reason, :position, :order_id, :now)"
)


@dataclass
class Decision:
    claim: Claim
    now: datetime
    customer_id: int
    outcome: ClaimOutcome
    drop: DropView | None = None
    reason: RefusalReason | None = None
    position: int | None = None
    remaining: int | None = None
    variants: tuple[str, ...] = ()
    variant_id: int | None = None
    variant: str = ""  # its label
    digital: bool = False  # the product needs no shipping
    order: dict[str, Any] | None = None  # the order row to insert, for a won claim


@dataclass
class DropState:
    """A locked drop as the batch sees it while it gives out units."""

    row: Any
    channels: tuple[str, ...]
    variants: dict[int, list[Any]]  # variant id -> [label, stock]
    units: dict[int, int]  # customer id -> units held or bought in this drop
    waiting: dict[int, int]  # customer id -> place in the waitlist
    remaining: int = 0
    waitlist: int = 0
    taken: int = 0
    joined: int = 0
    variant_taken: dict[int, int] = field(default_factory=dict)
    buyers_changed: set[int] = field(default_factory=set)
    pay_first: set[int] = field(default_factory=set)  # buyers with too many unpaid holds
    # The drop as each claim left it, made once per (remaining, waitlist): every refusal
    # after a sell-out shares one view, and the batch builds the drop's view once.
    _views: dict[tuple[int, int], DropView] = field(default_factory=dict)

    def view(self) -> DropView:
        """The drop as this claim left it."""
        seen = (self.remaining, self.waitlist)
        drop = self._views.get(seen)
        if drop is None:
            if not self._views:
                drop = to_drop_view(self.row, self.channels)
                drop = replace(drop, remaining=self.remaining, waitlist=self.waitlist)
            else:
                any_view = next(iter(self._views.values()))
                drop = replace(any_view, remaining=self.remaining, waitlist=self.waitlist)
            self._views[seen] = drop
        return drop

    def decide(self, claim: Claim, customer_id: int, now: datetime) -> Decision:
        row, q = self.row, claim.quantity

        def refuse(reason: RefusalReason, **details: Any) -> Decision:
            return Decision(
                claim, now, customer_id, ClaimOutcome.REFUSED, self.view(), reason, **details
            )

        if row.status != DropStatus.LIVE or (row.ends_at is not None and utc(row.ends_at) <= now):
            return refuse(R.DROP_ENDED)
        variant_id = self._variant(claim.variant_words)
        labels = tuple(v[0] for v in self.variants.values())
        if variant_id is None:
            why = R.UNKNOWN_VARIANT if claim.variant_words else R.VARIANT_REQUIRED
            return refuse(why, variants=labels)
        held = self.units.get(customer_id, 0)
        limit = row.per_buyer_limit
        if limit is not None and held + q > limit:
            return refuse(R.LIMIT_REACHED, variant_id=variant_id)
        if self.remaining < q:
            if self.remaining > 0:  # some left, fewer than asked: say how many
                return refuse(R.NOT_ENOUGH_LEFT, remaining=self.remaining, variant_id=variant_id)
            if customer_id in self.waiting:
                position = self.waiting[customer_id]
                return refuse(R.ALREADY_WAITLISTED, position=position, variant_id=variant_id)
            return self._join_waitlist(claim, customer_id, now, variant_id)
        if self.variants[variant_id][1] < q:
            return refuse(R.VARIANT_SOLD_OUT, variant_id=variant_id)
        # Buyers who left too many holds unpaid are first-paid buyers in every drop.
        holds = row.policy == DropPolicy.HOLD and customer_id not in self.pay_first
        if holds:  # first-paid claims take nothing: the payments will
            self.remaining -= q
            self.taken += q
            self.variants[variant_id][1] -= q
            self.variant_taken[variant_id] = self.variant_taken.get(variant_id, 0) + q
        self.units[customer_id] = held + q
        self.buyers_changed.add(customer_id)
        order = {
            "ref": "",  # given to the batch's orders at once (give_refs)
            "drop_id": row.id,
            "product_id": row.product_id,
            "variant_id": variant_id,
            "customer_id": customer_id,
            "identity": claim.identity,
            "chat": claim.chat,
            "q": q,
            "price": row.price_minor,
            "amount": row.price_minor * q,
            "currency": row.currency,
            "holds": holds,
            "now": now,
            "hold_expires_at": now + timedelta(seconds=row.hold_seconds),
        }
        return Decision(
            claim,
            now,
            customer_id,
            ClaimOutcome.WON,
            self.view(),
            variant_id=variant_id,
            variant=self.variants[variant_id][0],
            digital=bool(row.digital),
            order=order,
        )

    def _join_waitlist(
        self, claim: Claim, customer_id: int, now: datetime, variant_id: int
    ) -> Decision:
        self.waitlist += 1
        self.joined += 1
        self.waiting[customer_id] = self.waitlist
        return Decision(
            claim,
            now,
            customer_id,
            ClaimOutcome.WAITLISTED,
            self.view(),
            position=self.waitlist,
            variant_id=variant_id,
        )

    def _variant(self, words: tuple[str, ...]) -> int | None:
        labels = {v[0]: vid for vid, v in self.variants.items()}
        if list(labels) == [DEFAULT_VARIANT]:
            return labels[DEFAULT_VARIANT]
        label = match_variant(list(labels), words, "")
        return None if label is None else labels[label]


def give_refs(made: list[Decision]) -> None:
    """The batch's new orders their references, from one call for randomness."""
    orders = [d.order for d in made if d.order is not None]
    for order, ref in zip(orders, new_order_refs(len(orders)), strict=True):
        order["ref"] = ref


async def resolve_customers(
    conn: AsyncConnection, names: dict[str, str], now: datetime
) -> dict[str, int]:
    """The customer behind each identity, created on first sight (four statements at most).

    A new customer is named after the identity it was first seen as, so a whole batch of new
    buyers is created at once; a concurrent creation elsewhere simply wins (ON CONFLICT).
    """
    keys = sorted(names)
    found: dict[str, int] = dict((await conn.execute(IDENTITIES, {"keys": keys})).all())
    missing = [k for k in keys if k not in found]
    if missing:
        rows = [{"key": k, "name": names[k][:100], "now": now} for k in missing]
        await conn.execute(UPSERT_CUSTOMERS, rows)
        origin: dict[str, int] = dict(
            (await conn.execute(CUSTOMERS_BY_ORIGIN, {"keys": missing})).all()
        )
        links = [{"key": k, "customer_id": origin[k]} for k in missing]
        await conn.execute(ADD_IDENTITIES, links)
        found = dict((await conn.execute(IDENTITIES, {"keys": keys})).all())
    return found


async def decide_batch(
    conn: AsyncConnection,
    batch: list[tuple[Claim, datetime]],
    customers: dict[str, int],
    strikes: int = 0,
) -> list[ClaimResult]:
    """Decides the batch inside the caller's transaction, answers in arrival order."""
    keys = [claim.key for claim, _ in batch]
    known = set((await conn.execute(KNOWN_KEYS, {"keys": keys})).scalars().all())
    fresh = [c for c, _ in batch if c.key not in known]
    drops = await _lock_drops(conn, fresh, customers, strikes)
    decisions: list[Decision | int | str] = []  # a decision, a batch duplicate, or a replay
    first: dict[str, int] = {}
    for index, (claim, now) in enumerate(batch):
        if claim.key in known:
            decisions.append(claim.key)
        elif claim.key in first:
            decisions.append(first[claim.key])
        else:
            first[claim.key] = index
            state = drops.get((claim.chat, claim.code))
            customer_id = customers[claim.identity]
            decisions.append(
                state.decide(claim, customer_id, now)
                if state is not None
                else Decision(claim, now, customer_id, ClaimOutcome.REFUSED, reason=R.NO_LIVE_DROP)
            )
    made = [d for d in decisions if isinstance(d, Decision)]
    # Several (chat, code) pairs may name the same drop: write each drop's state once.
    states = {id(state): state for state in drops.values() if state is not None}
    give_refs(made)
    order_ids = await _write(conn, list(states.values()), made)
    claim_ids: dict[str, int] = dict((await conn.execute(CLAIM_IDS, {"keys": keys})).all())
    disputes = await _disputes(conn, made)
    results: list[ClaimResult] = []
    for entry in decisions:
        if isinstance(entry, str):
            results.append(await replay(conn, entry))
        elif isinstance(entry, int):
            results.append(replace(results[entry], duplicate=True))
        else:
            results.append(result_of(entry, claim_ids, order_ids, disputes))
    return results


async def _lock_drops(
    conn: AsyncConnection, claims: list[Claim], customers: dict[str, int], strikes: int = 0
) -> dict[tuple[str, str | None], DropState | None]:
    """Finds each claim's live drop, locks them in id order and reads their state."""
    targets: dict[tuple[str, str | None], Any] = {}
    for claim in claims:
        pair = (claim.chat, claim.code)
        if pair not in targets:
            targets[pair] = (
                await conn.execute(FIND_LIVE_DROP, {"code": claim.code, "chat": claim.chat})
            ).first()
    states: dict[int, DropState] = {}
    pay_first: set[int] = set()
    if strikes > 0 and claims:
        everyone = {
            "customers": sorted({customers[c.identity] for c in claims}),
            "strikes": strikes,
        }
        pay_first = set((await conn.execute(STRUCK, everyone)).scalars())
    for row in sorted({r.id: r for r in targets.values() if r}.values(), key=lambda r: r.id):
        await conn.execute(LOCK_DROP, {"drop_id": row.id})
        # Read again under the lock: another process may have claimed (or ended it) while we
        # waited for it, and PostgreSQL's earlier read would be stale.
        row = (await conn.execute(SELECT_DROP, {"id": row.id})).one()
        buyers = sorted({customers[c.identity] for c in claims})
        keys = {"drop_id": row.id, "customers": buyers}
        states[row.id] = DropState(
            row=row,
            channels=tuple((await conn.execute(SELECT_CHANNELS, {"id": row.id})).scalars()),
            variants={
                v.id: [v.label, v.stock]
                for v in (await conn.execute(VARIANTS, {"product_id": row.product_id})).all()
            },
            units=dict((await conn.execute(BUYER_UNITS, keys)).all()),
            waiting=dict((await conn.execute(WAITING, keys)).all()),
            remaining=row.remaining,
            waitlist=row.waitlist_len,
            pay_first=pay_first,
        )
    return {pair: states[r.id] if r else None for pair, r in targets.items()}


async def _write(
    conn: AsyncConnection, drops: list[DropState], made: list[Decision]
) -> dict[str, int]:
    """The batch's writes, a statement per kind; returns the new orders' ids by ref."""
    for state in drops:
        guard = {"drop_id": state.row.id, "taken": state.taken, "joined": state.joined}
        if (await conn.execute(TAKE_BATCH, guard)).first() is None:
            raise GuardFailed(f"drop {state.row.id} changed under the batch")
        for variant_id, taken in sorted(state.variant_taken.items()):
            params = {"variant_id": variant_id, "taken": taken}
            if (await conn.execute(TAKE_VARIANT, params)).first() is None:
                raise GuardFailed(f"variant {variant_id} has fewer units than the batch took")
        buyers = [
            {"drop_id": state.row.id, "customer_id": c, "units": state.units[c]}
            for c in sorted(state.buyers_changed)
        ]
        if buyers:
            await conn.execute(SET_BUYER_UNITS, buyers)
    orders = [d.order for d in made if d.order is not None]
    order_ids: dict[str, int] = {}
    if orders:
        await conn.execute(INSERT_ORDERS, orders)
        refs = [o["ref"] for o in orders]
        order_ids = dict((await conn.execute(ORDER_IDS, {"refs": refs})).all())
        events = [
            {"order_id": order_ids[d.order["ref"]], "cause": f"claim:{d.claim.key}", "at": d.now}
            for d in made
            if d.order is not None
        ]
        await conn.execute(INSERT_EVENTS, events)
    if not made:  # only messages seen before
        return order_ids
    await conn.execute(
        INSERT_CLAIMS,
        [
            {
                "key": d.claim.key,
                "drop_id": d.drop.id if d.drop else None,
                "customer_id": d.customer_id,
                "identity": d.claim.identity,
                "chat": d.claim.chat,
                "quantity": d.claim.quantity,
                "variant_id": d.variant_id,
                "status": d.outcome.value,
                "reason": d.reason.value if d.reason else "",
                "position": d.position,
                "order_id": order_ids[d.order["ref"]] if d.order else None,
                "now": d.now,
            }
            for d in made
        ],
    )
    return order_ids


async def _disputes(conn: AsyncConnection, made: list[Decision]) -> dict[int, int]:
    winners = sorted({d.customer_id for d in made if d.order is not None})
    if not winners:
        return {}
    return dict((await conn.execute(DISPUTES, {"ids": winners})).all())


def result_of(
    d: Decision, claim_ids: dict[str, int], order_ids: dict[str, int], disputes: dict[int, int]
) -> ClaimResult:
    order = None
    if d.order is not None and d.drop is not None:
        o = d.order
        order = OrderView(
            ref=o["ref"],
            drop_code=d.drop.code,
            sku=d.drop.sku,
            name=d.drop.name,
            variant=d.variant,
            identity=o["identity"],
            chat=o["chat"],
            quantity=o["q"],
            amount=Money(o["amount"], o["currency"]),
            status=OrderStatus.RESERVED,
            hold_expires_at=o["hold_expires_at"],
            created_at=o["now"],
            refunded=Money(0, o["currency"]),
            unit_price=Money(o["price"], o["currency"]),
            buyer_disputes=disputes.get(d.customer_id, 0),
            digital=d.digital,
        )
    return ClaimResult(
        d.outcome,
        d.drop,
        order,
        position=d.position,
        reason=d.reason,
        remaining=d.remaining,
        variants=d.variants,
        claim_id=claim_ids.get(d.claim.key),
        order_id=order_ids.get(d.order["ref"]) if d.order else None,
    )
