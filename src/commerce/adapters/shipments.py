"""SqlShipments: packages, shipments and packing lists (see service_layer/packages.py).

A package is a bundle (orders.bundle_id: a buyer's orders of one show or window to one
address), or an order without one. Shipping is a conditional update per order (still paid,
not shipped), so two sellers shipping the same package at once ship it once: the second
finds an order changed and its whole command rolls back.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.outbox import put_message
from commerce.adapters.sql import (
    ORDER_COLUMNS,
    ORDER_FROM,
    record_transition,
    sql,
    to_order_view,
    utc,
)
from commerce.domain.errors import Conflict, NotFound
from commerce.domain.orders import OrderStatus
from commerce.service_layer.packages import (
    SHIPPABLE,
    Charge,
    Package,
    ShipmentPlan,
    ShipmentView,
)

STATES = ", ".join(f"'{s.value}'" for s in sorted(SHIPPABLE))  # constants, never user input
COLUMNS = (
    f"{ORDER_COLUMNS}, COALESCE(o.paid_at, o.created_at) AS paid, o.shipment_id,"
    " o.bundle_id, c.display_name AS buyer_name"
)
# The named orders and every other order of their bundles.
BY_REFS = text(
    f"SELECT {COLUMNS} {ORDER_FROM} WHERE o.ref IN :refs OR o.bundle_id IN"
    " (SELECT b.bundle_id FROM orders b WHERE b.ref IN :bundled AND b.bundle_id IS NOT NULL)"
    " ORDER BY o.id"
).bindparams(bindparam("refs", expanding=True), bindparam("bundled", expanding=True))
# Paid, something to send (digital goods never ship), nothing sent yet.
UNSHIPPED = (
    f"SELECT {COLUMNS} {ORDER_FROM} WHERE o.status IN ({STATES}) AND o.shipment_id IS NULL"
    " AND p.digital = :false"
)
TO_SHIP = sql(f"{UNSHIPPED} ORDER BY paid, o.id LIMIT :limit")
CHARGES = sql(
    "SELECT o.ref, o.status, o.payment_ref, o.currency, o.amount_minor, o.shipping_amount,"
    " o.tax_amount, o.refunded_minor FROM orders o WHERE o.ref = :ref OR o.bundle_id ="
    " (SELECT b.bundle_id FROM orders b WHERE b.ref = :ref) ORDER BY o.ref <> :ref, o.id"
)
SHOW_ID = sql("SELECT id FROM show WHERE code = :code")
# A show's packages: its bundles, and the orders of the drops it sold through (its
# fixed-price lots, its auctions' wins, its giveaways' prizes).
OF_SHOW = (
    " AND (o.bundle_id IN (SELECT id FROM bundles WHERE show_id = :show_id)"
    " OR o.drop_id IN (SELECT l.drop_id FROM lot l WHERE l.show_id = :show_id"
    " AND l.drop_id IS NOT NULL UNION SELECT a.drop_id FROM lot l JOIN auction a"
    " ON a.id = l.auction_id WHERE l.show_id = :show_id AND a.drop_id IS NOT NULL"
    " UNION SELECT g.drop_id FROM giveaway g WHERE g.show_id = :show_id"
    " AND g.drop_id IS NOT NULL))"
)
INSERT_SHIPMENT = sql(
    "INSERT INTO shipment (tracking, carrier, shipped_by, shipped_at)"
    " VALUES (:tracking, :carrier, :actor, :now) RETURNING id"
)
ORDER_STATE = sql("SELECT id, status FROM orders WHERE ref = :ref")
# Still shippable, and in the state just read (for the audit trail's `from`).
FULFIL = sql(
    "UPDATE orders SET status = 'fulfilled', shipment_id = :shipment_id, updated_at = :now"
    f" WHERE id = :id AND status = :status AND status IN ({STATES}) AND shipment_id IS NULL"
)


class SqlShipments:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def packages(self, refs: Sequence[str]) -> list[Package]:
        wanted = [r.upper() for r in refs]
        async with connection(self.engine) as conn:
            rows = (await conn.execute(BY_REFS, {"refs": wanted, "bundled": wanted})).all()
        found = {r.ref for r in rows}
        for ref in wanted:
            if ref not in found:
                raise NotFound(f"no order {ref}")
        return _packages(rows)

    async def ship(
        self, plans: Sequence[ShipmentPlan], actor: str, now: datetime
    ) -> list[ShipmentView]:
        shipped = []
        async with transaction(self.engine) as conn:
            for plan in plans:
                values = {"tracking": plan.tracking, "carrier": plan.carrier, "actor": actor}
                shipment_id = (
                    await conn.execute(INSERT_SHIPMENT, {**values, "now": now})
                ).scalar_one()
                cause = f"ship:{actor} tracking {plan.tracking}"
                cause += f" ({plan.carrier})" if plan.carrier else ""
                for ref in plan.refs:
                    order = (await conn.execute(ORDER_STATE, {"ref": ref})).one()
                    keys = {"id": order.id, "status": order.status, "now": now}
                    changed = await conn.execute(FULFIL, {**keys, "shipment_id": shipment_id})
                    if not changed.rowcount:  # shipped, refunded or disputed meanwhile
                        raise Conflict(f"order {ref} changed meanwhile: nothing was shipped")
                    await record_transition(
                        conn, order.id, order.status, OrderStatus.FULFILLED, cause, now
                    )
                for letter in plan.letters:
                    await put_message(conn, letter, now)
                shipped.append(ShipmentView(plan.refs, plan.tracking, plan.carrier, plan.link))
        return shipped

    async def charges(self, ref: str) -> list[Charge]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(CHARGES, {"ref": ref.upper()})).all()
        if not rows:
            raise NotFound(f"no order {ref.upper()}")
        return [
            Charge(
                r.ref,
                OrderStatus(r.status),
                r.payment_ref,
                r.currency,
                int(r.amount_minor),
                int(r.shipping_amount),
                int(r.tax_amount),
                int(r.refunded_minor),
            )
            for r in rows
        ]

    async def to_ship(self, limit: int) -> list[Package]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(TO_SHIP, {"false": False, "limit": limit})).all()
        return _packages(rows)

    async def packing_list(
        self, show: str | None, since: datetime | None, until: datetime | None
    ) -> list[Package]:
        statement = UNSHIPPED
        values: dict[str, Any] = {"false": False}
        code = ""
        async with connection(self.engine) as conn:
            if show is not None:
                code = show.strip().upper()
                show_id = (await conn.execute(SHOW_ID, {"code": code})).scalar()
                if show_id is None:
                    raise NotFound(f"no show {code}")
                statement += OF_SHOW
                values["show_id"] = show_id
            if since is not None:
                statement += " AND COALESCE(o.paid_at, o.created_at) >= :since"
                values["since"] = since
            if until is not None:
                statement += " AND COALESCE(o.paid_at, o.created_at) < :until"
                values["until"] = until
            query = sql(statement + " ORDER BY paid, o.id")
            if show is not None:
                query = query.bindparams(bindparam("show_id", type_=Integer()))
            rows = (await conn.execute(query, values)).all()
        packages = _packages(rows)
        return [_with_show(p, code) for p in packages] if code else packages


def _with_show(package: Package, code: str) -> Package:
    return Package(package.key, package.orders, package.buyer, package.paid_at, show=code)


def _packages(rows: Sequence[Any]) -> list[Package]:
    """Rows (ordered) grouped by package, in the order of each package's first row."""
    groups: dict[str, list[Any]] = {}
    for row in rows:
        key = f"B{row.bundle_id}" if row.bundle_id is not None else row.ref
        groups.setdefault(key, []).append(row)
    return [
        Package(
            key=key,
            orders=tuple(to_order_view(r) for r in group),
            buyer=group[0].buyer_name or "",
            paid_at=min(utc(r.paid) for r in group),
        )
        for key, group in groups.items()
    ]
