"""SqlShipping: shipping zones, and bundles (one package per buyer, address and show, or
window outside shows) decided in the database.

An order joins its package in one transaction that first bumps the bundle's `version`:
that write takes the bundle row's lock on PostgreSQL (SQLite's transactions hold the
database's from BEGIN IMMEDIATE), so the units and charge read next are the last committed
ones and the increment (domain/shipping.py) is computed from them: two orders at once
never both pay the package's first unit. A package is opened with INSERT ... ON CONFLICT
on its unique `lock_key`, so two first orders at once open one package.
"""

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.sql import record_transition, sql
from commerce.domain.errors import Conflict, NotFound
from commerce.domain.money import Money
from commerce.domain.shipping import (
    WORLD,
    ShippingPolicy,
    Zone,
    country_of,
    increment,
    package_total,
    parse_countries,
    ship_units,
    zone_for,
)
from commerce.service_layer.results import OrderShipping, ShippingShare

ZONES = sql(
    "SELECT name, countries, currency, first_minor, each_minor, cap_minor"
    " FROM shipping_zones ORDER BY id"
)
INSERT_ZONE = sql(
    "INSERT INTO shipping_zones (name, countries, currency, first_minor, each_minor,"
    " cap_minor, created_at) VALUES (:name, :countries, :currency, :first, :each, :cap, :now)"
)
FIND_ZONE = sql(
    "SELECT name, countries, currency, first_minor, each_minor, cap_minor"
    " FROM shipping_zones WHERE lower(name) = lower(:name)"
)
DELETE_ZONE = sql("DELETE FROM shipping_zones WHERE lower(name) = lower(:name)")

ORDER = sql(
    "SELECT o.id, o.ref, o.customer_id, o.quantity, o.currency, o.drop_id, o.bundle_id,"
    " o.shipping_amount, o.tax_amount, o.status, p.digital, p.ship_units,"
    # A giveaway's prize: its order's amount is the prize's shipping already.
    " EXISTS (SELECT 1 FROM giveaway g WHERE g.drop_id = o.drop_id) AS prize"
    " FROM orders o JOIN product p ON p.id = o.product_id WHERE o.ref = :ref"
)
# The show an order's drop was a lot of: a fixed-price lot, an auction lot's sale, or a
# show's giveaway.
SHOW_OF_DROP = sql(
    "SELECT id, shipping FROM show WHERE id IN ("
    " SELECT l.show_id FROM lot l WHERE l.drop_id = :drop_id"
    " UNION SELECT l.show_id FROM lot l JOIN auction a ON a.id = l.auction_id"
    " WHERE a.drop_id = :drop_id"
    " UNION SELECT g.show_id FROM giveaway g WHERE g.drop_id = :drop_id"
    ") ORDER BY id LIMIT 1"
)
# A window package whose window is over no longer takes orders: its key is freed.
CLOSE_WINDOW = sql(
    "UPDATE bundles SET lock_key = lock_key || ':' || CAST(id AS VARCHAR)"
    " WHERE lock_key = :key AND window_start <= :before"
)
OPEN_BUNDLE = sql(
    "INSERT INTO bundles (lock_key, customer_id, ship_to, show_id, window_start, zone,"
    " currency, policy, first_minor, each_minor, cap_minor, units, charged_minor, version,"
    " created_at, updated_at) VALUES (:key, :customer_id, :ship_to, :show_id, :now, :zone,"
    " :currency, :policy, :first, :each, :cap, 0, 0, 0, :now, :now)"
    " ON CONFLICT (lock_key) DO NOTHING"
)
# The bundle's lock: every change of its units or charge starts with this write.
LOCK_BUNDLE = sql(
    "UPDATE bundles SET version = version + 1, updated_at = :now WHERE lock_key = :key"
    " RETURNING id, zone, currency, policy, first_minor, each_minor, cap_minor, units,"
    " charged_minor"
)
LOCK_BUNDLE_BY_ID = sql(
    "UPDATE bundles SET version = version + 1, updated_at = :now WHERE id = :id RETURNING id"
)
ADD_TO_BUNDLE = sql(
    "UPDATE bundles SET units = units + :units, charged_minor = charged_minor + :amount"
    " WHERE id = :id"
)
TAKE_FROM_BUNDLE = sql(
    "UPDATE bundles SET units = CASE WHEN units > :units THEN units - :units ELSE 0 END,"
    " charged_minor = CASE WHEN charged_minor > :amount THEN charged_minor - :amount ELSE 0 END"
    " WHERE id = :id"
)
SET_ORDER_SHARE = sql(
    "UPDATE orders SET bundle_id = :bundle_id, shipping_amount = :amount WHERE id = :id"
)
FIRST_ORDER = sql(
    "SELECT ref FROM orders WHERE bundle_id = :bundle_id AND id <> :id ORDER BY id LIMIT 1"
)
SHIP_TO_OF_IDENTITY = sql(
    "SELECT c.ship_to FROM customer c JOIN identity i ON i.customer_id = c.id"
    " WHERE i.key = :identity"
)
SET_TAX = sql("UPDATE orders SET tax_amount = :tax WHERE ref = :ref")
QUOTE = sql("UPDATE orders SET shipping_amount = :amount WHERE ref = :ref AND bundle_id IS NULL")


class SqlShipping:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def add_zone(self, zone: Zone, now: datetime) -> Zone:
        try:
            async with transaction(self.engine) as conn:
                # Zones are few: the overlap is checked on all of them, under the write
                # that follows (SQLite's lock; on PostgreSQL a concurrent add of the same
                # country is a seller racing themself, and the name stays unique).
                for other in await _zones(conn):
                    if other.name.casefold() == zone.name.casefold():
                        raise Conflict(f"a zone {other.name} exists already")
                    if zone.world and other.world:
                        raise Conflict(f"zone {other.name} is the rest of the world already")
                    if both := sorted(zone.countries & other.countries):
                        raise Conflict(f"{', '.join(both)} ships in zone {other.name} already")
                await conn.execute(
                    INSERT_ZONE,
                    {
                        "name": zone.name,
                        "countries": zone.countries_text(),
                        "currency": zone.currency,
                        "first": zone.first,
                        "each": zone.each,
                        "cap": zone.cap,
                        "now": now,
                    },
                )
        except IntegrityError:
            raise Conflict(f"a zone {zone.name} exists already") from None
        return zone

    async def zones(self) -> list[Zone]:
        async with connection(self.engine) as conn:
            return await _zones(conn)

    async def remove_zone(self, name: str) -> Zone:
        async with transaction(self.engine) as conn:
            row = (await conn.execute(FIND_ZONE, {"name": name.strip()})).first()
            if row is None:
                raise NotFound(f"no shipping zone {name.strip()}")
            await conn.execute(DELETE_ZONE, {"name": name.strip()})
        return _zone(row)

    async def order_shipping(self, ref: str) -> OrderShipping:
        async with connection(self.engine) as conn:
            order = await _order(conn, ref)
            show = (await conn.execute(SHOW_OF_DROP, {"drop_id": order.drop_id})).first()
        return OrderShipping(
            ref=order.ref,
            units=_units(order),
            policy=show.shipping if show is not None else "buyer",
            currency=order.currency,
            bundle_id=order.bundle_id,
            shipping=order.shipping_amount,
            tax=order.tax_amount,
        )

    async def join_bundle(
        self, ref: str, ship_to: str, paid: int | None, window: timedelta, now: datetime
    ) -> ShippingShare | None:
        async with transaction(self.engine) as conn:
            order = await _order(conn, ref)
            if order.bundle_id is not None:
                return await _share(conn, order)
            units = _units(order)
            zone = zone_for(await _zones(conn), country_of(ship_to))
            if units == 0 or zone is None or zone.currency.lower() != order.currency.lower():
                return None
            show = (await conn.execute(SHOW_OF_DROP, {"drop_id": order.drop_id})).first()
            key = _lock_key(order.customer_id, ship_to, show.id if show else None)
            if show is None:
                await conn.execute(CLOSE_WINDOW, {"key": key, "before": now - window})
            await conn.execute(
                OPEN_BUNDLE,
                {
                    "key": key,
                    "customer_id": order.customer_id,
                    "ship_to": ship_to,
                    "show_id": show.id if show else None,
                    "now": now,
                    "zone": zone.name,
                    "currency": zone.currency,
                    "policy": show.shipping if show else "buyer",
                    "first": zone.first,
                    "each": zone.each,
                    "cap": zone.cap,
                },
            )
            bundle = (await conn.execute(LOCK_BUNDLE, {"key": key, "now": now})).one()
            rates = Zone(bundle.zone, frozenset(), bundle.currency,
                         bundle.first_minor, bundle.each_minor, bundle.cap_minor)  # fmt: skip
            policy = ShippingPolicy.from_stored(bundle.policy)
            due = increment(rates, policy, bundle.units, bundle.charged_minor, units)
            charged = due if paid is None else paid
            if charged > due:
                # Paid on a page that knew no address (one price per zone, a new package's):
                # the package's later orders pay that much less; the seller sees it here and
                # may refund it instead.
                over = Money(charged - due, bundle.currency)
                note = (f"shipping:overpaid {over} (its share of package {bundle.id} was"
                        f" {Money(due, bundle.currency)})")  # fmt: skip
                await record_transition(conn, order.id, order.status, order.status, note, now)
            await conn.execute(ADD_TO_BUNDLE, {"id": bundle.id, "units": units, "amount": charged})
            await conn.execute(
                SET_ORDER_SHARE, {"bundle_id": bundle.id, "amount": charged, "id": order.id}
            )
            first = await conn.execute(FIRST_ORDER, {"bundle_id": bundle.id, "id": order.id})
            return ShippingShare(
                bundle_id=bundle.id,
                zone=bundle.zone,
                currency=bundle.currency,
                due=due,
                charged=charged,
                units=bundle.units + units,
                first=bundle.units == 0,
                with_order=first.scalar(),
            )

    async def set_tax(self, ref: str, tax: int) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(SET_TAX, {"ref": ref.upper(), "tax": tax})

    async def quote(self, ref: str, shipping: int) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(QUOTE, {"ref": ref.upper(), "amount": shipping})


async def leave_bundle(conn: AsyncConnection, order_id: int, now: datetime) -> None:
    """An order that ends unpaid leaves its package, its units and its charge with it: the
    package's next order pays what the package still owes (domain/shipping.py increment).
    Runs inside the caller's transaction (the order's release)."""
    row = (
        await conn.execute(
            sql(
                "SELECT o.bundle_id, o.shipping_amount, o.quantity, p.digital, p.ship_units"
                " FROM orders o JOIN product p ON p.id = o.product_id WHERE o.id = :id"
            ),
            {"id": order_id},
        )
    ).one()
    if row.bundle_id is None:
        return
    await conn.execute(LOCK_BUNDLE_BY_ID, {"id": row.bundle_id, "now": now})
    units = ship_units(row.quantity, row.ship_units, bool(row.digital))
    await conn.execute(
        TAKE_FROM_BUNDLE, {"id": row.bundle_id, "units": units, "amount": row.shipping_amount}
    )
    await conn.execute(SET_ORDER_SHARE, {"bundle_id": None, "amount": 0, "id": order_id})


async def merge_bundles(conn: AsyncConnection, into: int, merged: int) -> None:
    """Linked identities share packages: the merged customer's packages become the other's,
    each under the other's slot (a package the other already has for that address and show
    keeps it, and the merged one takes no more orders). In the link's transaction."""
    rows = await conn.execute(
        sql("SELECT id, lock_key FROM bundles WHERE customer_id = :b"), {"b": merged}
    )
    for bundle_id, key in rows.all():
        slot = f"c{into}:{key.split(':', 1)[1]}"
        taken = await conn.execute(sql("SELECT 1 FROM bundles WHERE lock_key = :k"), {"k": slot})
        await conn.execute(
            sql("UPDATE bundles SET customer_id = :a, lock_key = :k WHERE id = :id"),
            {"a": into, "k": f"{key}:{bundle_id}" if taken.first() else slot, "id": bundle_id},
        )


async def prize_shipping(
    conn: AsyncConnection,
    product_id: int,
    currency: str,
    identity: str,
    show_id: int | None,
    fallback: Money | None,
) -> Money | None:
    """What a giveaway's winner pays to have the prize shipped: a package of it in the zone
    of the winner's known address (the dearest zone while it is unknown), under the show's
    policy; without any zone, `fallback` (LIVEBUY_GIVEAWAY_SHIPPING). None: nothing to pay
    (digital, a free show, or a price in another currency)."""
    product = (
        await conn.execute(
            sql("SELECT digital, ship_units FROM product WHERE id = :id"), {"id": product_id}
        )
    ).one()
    if product.digital:
        return None
    every = await _zones(conn)
    if not every:
        return fallback if fallback is not None and fallback.currency == currency else None
    zones = [z for z in every if z.currency == currency]
    if not zones:
        return None
    address = (await conn.execute(SHIP_TO_OF_IDENTITY, {"identity": identity})).scalar()
    stored = None
    if show_id is not None:
        stored = (await conn.execute(sql("SELECT shipping FROM show WHERE id = :id"),
                                     {"id": show_id})).scalar()  # fmt: skip
    policy = ShippingPolicy.from_stored(stored)
    units = ship_units(1, product.ship_units, False)
    zone = zone_for(zones, country_of(address))
    price = (
        package_total(zone, policy, units)
        if zone is not None
        else max(package_total(z, policy, units) for z in zones)
    )
    return Money(price, currency) if price > 0 else None


def _units(order: Any) -> int:
    """The units an order adds to its package: none for a prize (its order pays the prize's
    shipping itself, see prize_shipping) or digital goods."""
    return 0 if order.prize else ship_units(order.quantity, order.ship_units, bool(order.digital))


async def _order(conn: AsyncConnection, ref: str) -> Any:
    order = (await conn.execute(ORDER, {"ref": ref.upper()})).first()
    if order is None:
        raise NotFound(f"no order {ref.upper()}")
    return order


async def _share(conn: AsyncConnection, order: Any) -> ShippingShare:
    """The share an order got when it joined (asked again: a retried checkout)."""
    bundle = (
        await conn.execute(
            sql("SELECT id, zone, currency, units FROM bundles WHERE id = :id"),
            {"id": order.bundle_id},
        )
    ).one()
    first = (await conn.execute(FIRST_ORDER, {"bundle_id": bundle.id, "id": order.id})).scalar()
    return ShippingShare(
        bundle_id=bundle.id,
        zone=bundle.zone,
        currency=bundle.currency,
        due=order.shipping_amount,
        charged=order.shipping_amount,
        units=bundle.units,
        first=first is None,
        with_order=first,
    )


async def _zones(conn: AsyncConnection) -> list[Zone]:
    return [_zone(row) for row in (await conn.execute(ZONES)).all()]


def _zone(row: Any) -> Zone:
    return Zone(
        name=row.name,
        countries=frozenset() if row.countries == WORLD else parse_countries(row.countries),
        currency=row.currency,
        first=row.first_minor,
        each=row.each_minor,
        cap=row.cap_minor,
    )


def _lock_key(customer_id: int, ship_to: str, show_id: int | None) -> str:
    """The package's slot: the customer, the address (case and spacing aside) and the show
    (or the window outside shows)."""
    address = " ".join(ship_to.casefold().split())
    digest = hashlib.sha256(address.encode()).hexdigest()[:32]
    return f"c{customer_id}:{digest}:" + (f"s{show_id}" if show_id is not None else "w")
