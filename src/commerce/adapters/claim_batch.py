"""Set-based claim batches: all the claims that arrived together, decided in one transaction
with a fixed number of statements, whatever the batch size. This module decides; the
statements are the driver's own, claim_sqlite.py (plain sqlite3) and claim_postgres.py
(asyncpg).

The transaction first locks the rows of the drops it claims from (ascending ids, so batches in
several processes never deadlock; on SQLite BEGIN IMMEDIATE locks the database). Under that
lock no other transaction can change a drop's remaining units, waitlist or buyer counts, so
the batch reads them once and gives out units in arrival order. The writes are still guarded
by the database: the drop's units go down with `UPDATE ... WHERE remaining >= taken` and each
variant's with `WHERE stock >= taken`; a guard that does not hold aborts the batch (and its
claims are retried one by one), so stock never goes negative whatever the code above decided.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, bindparam
from sqlalchemy.ext.asyncio import AsyncConnection

from commerce.adapters.claims import new_order_refs
from commerce.adapters.sql import sql, to_drop_view, utc
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
# Claim key -> the pay link of an order ref, for the claims whose winner is handed the link
# in the claim's own transaction (ClaimWriter.submit's `link`).
Links = dict[str, Callable[[str], str]]


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
            "status": OrderStatus.RESERVED.value,
            "url": None,  # the pay link, when handed out in the batch (give_links)
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


Entry = Decision | int | str  # a claim's decision, an earlier claim of the batch, a replay


def decide_all(
    batch: list[tuple[Claim, datetime]],
    known: set[str],
    drops: dict[tuple[str, str | None], "DropState | None"],
    customers: dict[str, int],
) -> list[Entry]:
    """Each claim of the batch in arrival order: its decision, or the index of the same
    message earlier in the batch, or its key when an earlier batch decided it."""
    entries: list[Entry] = []
    first: dict[str, int] = {}
    for index, (claim, now) in enumerate(batch):
        if claim.key in known:
            entries.append(claim.key)
        elif claim.key in first:
            entries.append(first[claim.key])
        else:
            first[claim.key] = index
            state = drops.get((claim.chat, claim.code))
            customer_id = customers[claim.identity]
            entries.append(
                state.decide(claim, customer_id, now)
                if state is not None
                else Decision(claim, now, customer_id, ClaimOutcome.REFUSED, reason=R.NO_LIVE_DROP)
            )
    return entries


def answers_of(
    entries: list[Entry],
    claim_ids: dict[str, int],
    order_ids: dict[str, int],
    disputes: dict[int, int],
) -> list[ClaimResult | str]:
    """The answers in arrival order; a replay stays its key, for the caller to read back."""
    answers: list[ClaimResult | str] = []
    for entry in entries:
        if isinstance(entry, Decision):
            answers.append(result_of(entry, claim_ids, order_ids, disputes))
        elif isinstance(entry, int):
            earlier = answers[entry]
            assert isinstance(earlier, ClaimResult)
            answers.append(replace(earlier, duplicate=True))
        else:
            answers.append(entry)
    return answers


def give_refs(made: list[Decision]) -> None:
    """The batch's new orders their references, from one call for randomness."""
    orders = [d.order for d in made if d.order is not None]
    for order, ref in zip(orders, new_order_refs(len(orders)), strict=True):
        order["ref"] = ref


def link_seekers(made: list[Decision], links: Links | None) -> list[int]:
    """The customers whose won claims may get their pay link in the batch: the caller asked
    for it, and the drop is no promo (a promo's unit is free). Those with a saved card are
    asked to confirm instead (the service decides): `give_links` leaves them out."""
    if not links:
        return []
    return sorted(
        {
            d.customer_id
            for d in made
            if d.order is not None
            and d.claim.key in links
            and d.drop is not None
            and not d.drop.promo
        }
    )


def give_links(made: list[Decision], links: Links | None, carded: set[int]) -> list[Decision]:
    """The pay link handed out with the order (checkout_open), as `hand_out_link` does
    after a claim, for the winners in `link_seekers` without a saved card; returns them."""
    linked = []
    for d in made:
        o = d.order
        if o is None or not links or d.claim.key not in links or d.customer_id in carded:
            continue
        if d.drop is None or d.drop.promo:
            continue
        o["url"] = links[d.claim.key](o["ref"])
        o["status"] = OrderStatus.CHECKOUT_OPEN.value
        linked.append(d)
    return linked


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
            status=OrderStatus(o["status"]),
            hold_expires_at=o["hold_expires_at"],
            checkout_url=o["url"],
            created_at=o["now"],
            refunded=Money(0, o["currency"]),
            unit_price=Money(o["price"], o["currency"]),
            buyer_disputes=disputes.get(d.customer_id, 0),
            digital=d.digital,
            holds_stock=o["holds"],
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
