"""What the seller dashboard shows: the funnel of each drop and sales per minute.

Platforms are read off identities ('telegram:123'), with CASE … LIKE so the same SQL runs on
SQLite and PostgreSQL.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import connection
from commerce.adapters.sql import sql, utc

PLATFORM = """CASE
  WHEN {col} LIKE 'telegram:%' THEN 'telegram' WHEN {col} LIKE 'discord:%' THEN 'discord'
  WHEN {col} LIKE 'web:%' THEN 'web' WHEN {col} LIKE 'youtube:%' THEN 'youtube'
  WHEN {col} LIKE 'twitch:%' THEN 'twitch' ELSE 'other' END"""
CLAIMS = sql(
    f"SELECT d.code, {PLATFORM.format(col='c.identity')} AS platform, COUNT(*)"
    " FROM claim c JOIN drops d ON d.id = c.drop_id GROUP BY d.code, platform"
)
ORDERS = sql(
    f"SELECT d.code, {PLATFORM.format(col='o.identity')} AS platform,"
    # A checkout: the buyer opened the pay link (a session was made), or paid another way.
    " SUM(CASE WHEN o.checkout_session IS NOT NULL OR o.paid_at IS NOT NULL THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN o.paid_at IS NOT NULL THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN o.refunded_minor > 0 OR o.status = 'refunded' THEN 1 ELSE 0 END)"
    " FROM orders o JOIN drops d ON d.id = o.drop_id GROUP BY d.code, platform"
)
NAMES = sql(
    "SELECT o.ref, c.display_name FROM orders o JOIN customer c ON c.id = o.customer_id"
    " ORDER BY o.id DESC LIMIT :limit"
)
PAID_SINCE = sql(
    "SELECT paid_at, amount_minor FROM orders WHERE paid_at IS NOT NULL AND paid_at >= :since"
)
# Paid orders by currency: items, shipping and tax apart, and the packages they make (one
# per bundle, one per order that ships without one; digital goods make none).
REVENUE = sql(
    "SELECT o.currency, COUNT(*) AS orders, SUM(o.amount_minor) AS items,"
    " SUM(o.shipping_amount) AS shipping, SUM(o.tax_amount) AS tax,"
    " COUNT(DISTINCT o.bundle_id)"
    " + SUM(CASE WHEN o.bundle_id IS NULL AND NOT p.digital THEN 1 ELSE 0 END) AS packages"
    " FROM orders o JOIN product p ON p.id = o.product_id"
    " WHERE o.paid_at IS NOT NULL GROUP BY o.currency ORDER BY o.currency"
)
# What the seller keeps of paid orders: items, shipping and tax less what was refunded; fully
# refunded orders count as no sale. `{where}` narrows it to a day or a show.
SALES = """SELECT o.currency, COUNT(*) AS orders, SUM(o.quantity) AS items,
 SUM(o.amount_minor + o.shipping_amount + o.tax_amount - o.refunded_minor) AS revenue
 FROM orders o WHERE o.paid_at IS NOT NULL AND o.status <> 'refunded' {where}
 GROUP BY o.currency ORDER BY COUNT(*) DESC, o.currency"""
SALES_ALL = sql(SALES.format(where=""))
SALES_SINCE = sql(SALES.format(where="AND o.paid_at >= :since"))
SALES_OF_SHOW = sql(
    SALES.format(
        where="AND o.drop_id IN ("
        " SELECT drop_id FROM lot WHERE show_id = :show_id AND drop_id IS NOT NULL"
        " UNION SELECT a.drop_id FROM lot l JOIN auction a ON a.id = l.auction_id"
        " WHERE l.show_id = :show_id AND a.drop_id IS NOT NULL)"
    )
)


@dataclass(frozen=True, slots=True)
class Sales:
    """Paid orders in one currency over a period: revenue (refunds taken off) in minor
    units, the orders, the units sold."""

    currency: str
    orders: int = 0
    items: int = 0
    revenue: int = 0

    @property
    def average(self) -> int:
        """The average order, in minor units (rounded down)."""
        return self.revenue // self.orders if self.orders else 0


@dataclass(frozen=True, slots=True)
class Revenue:
    """What paid orders brought in one currency, in minor units."""

    currency: str
    orders: int
    items: int
    shipping: int
    tax: int
    packages: int

    @property
    def total(self) -> int:
        return self.items + self.shipping + self.tax


@dataclass(frozen=True, slots=True)
class FunnelRow:
    drop: str
    platform: str
    claims: int = 0
    checkouts: int = 0
    paid: int = 0
    refunded: int = 0


@dataclass(frozen=True, slots=True)
class MinuteSales:
    minute: datetime
    orders: int
    amount_minor: int


class SqlReports:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def funnel(self) -> list[FunnelRow]:
        """Claims → checkouts opened → paid → refunded, per drop and platform."""
        async with connection(self.engine) as conn:
            claims = (await conn.execute(CLAIMS)).all()
            orders = (await conn.execute(ORDERS)).all()
        rows: dict[tuple[str, str], dict[str, int]] = {}
        for code, platform, count in claims:
            rows.setdefault((code, platform), {})["claims"] = int(count)
        for code, platform, checkouts, paid, refunded in orders:
            row = rows.setdefault((code, platform), {})
            row.update(checkouts=int(checkouts), paid=int(paid), refunded=int(refunded))
        return [FunnelRow(code, platform, **row) for (code, platform), row in sorted(rows.items())]

    async def revenue(self) -> list[Revenue]:
        """Paid orders' revenue per currency, split into items, shipping and tax, and the
        packages they make."""
        async with connection(self.engine) as conn:
            rows = (await conn.execute(REVENUE)).all()
        return [
            Revenue(
                r.currency,
                int(r.orders),
                int(r.items),
                int(r.shipping),
                int(r.tax),
                int(r.packages),
            )
            for r in rows
        ]

    async def sales(
        self, currency: str, since: datetime | None = None, show_id: int | None = None
    ) -> Sales:
        """Paid orders in the shop's currency: all of them, those paid since `since`, or
        those of a show's lots."""
        keys: dict[str, object] = {}
        if show_id is not None:
            statement, keys = SALES_OF_SHOW, {"show_id": show_id}
        elif since is not None:
            statement, keys = SALES_SINCE, {"since": since}
        else:
            statement = SALES_ALL
        async with connection(self.engine) as conn:
            rows = (await conn.execute(statement, keys)).all()
        for r in rows:
            if r.currency == currency.lower():
                return Sales(r.currency, int(r.orders), int(r.items), int(r.revenue))
        return Sales(currency.lower())

    async def buyer_names(self, limit: int) -> dict[str, str]:
        """The names buyers chat under, for the latest `limit` orders (by order ref)."""
        async with connection(self.engine) as conn:
            rows = (await conn.execute(NAMES, {"limit": limit})).all()
        return {ref: name for ref, name in rows if name}

    async def sales_per_minute(self, now: datetime, minutes: int = 30) -> list[MinuteSales]:
        """Paid orders per minute over the last `minutes` (empty minutes included)."""
        start = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes - 1)
        async with connection(self.engine) as conn:
            paid = (await conn.execute(PAID_SINCE, {"since": start})).all()
        count: Counter[datetime] = Counter()
        amount: Counter[datetime] = Counter()
        for paid_at, minor in paid:
            minute = utc(paid_at).replace(second=0, microsecond=0)
            count[minute] += 1
            amount[minute] += int(minor)
        slots = (start + timedelta(minutes=i) for i in range(minutes))
        return [MinuteSales(m, count[m], amount[m]) for m in slots]
