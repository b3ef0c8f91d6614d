"""The show report: how each lot went, when sales spiked, how the chat converted.

`SqlShowReport(engine).report(code, now)` reads the show, its lots and what they became, and
returns a `ShowReport`. The SQL is plain and runs on SQLite and PostgreSQL; the figures are
computed from the rows in Python (a show has at most 500 lots). Definitions:

- **The show's orders**: the orders of its fixed-price lots' drops and of its auctions' sales
  (first wins and second-chance offers). A giveaway's prize is not a sale: it is not counted
  there, only as the giveaway lot's result.
- **Paid**: the order was paid at some point (`paid_at` set), whatever happened later; a
  later refund shows under refunds.
- **Per lot**: `position`, `sku`, `mode`, `result` and `price`:
  - auction: `sold` (the current offer was paid), `awaiting payment` (the winner, or the
    runner-up offered a second chance, has not paid yet), `unpaid` (the win lapsed and no
    runner-up was left), `no bids`, `reserve not met`, `no stock`, or `live`; the price is
    the winning offer's amount (none without a winner);
  - fixed: `n of m sold`, n the units of paid orders, m the lot's units; the price is the
    lot's unit price;
  - giveaway: `won by NAME`, `no entries`, `live`, or just `giveaway` where this database has
    no giveaway table;
  - a lot left out is `skipped`, one not reached `pending`.
  `buyers`: who paid for the lot (the customer's display name, else the identity), the
  giveaway's winner. `seconds_to_sell`: auction, from its start to its close when it found a
  winner; fixed, from the lot's start to the claim that took its last unit (none if it never
  sold out); giveaway, from the lot's start to the draw.
- **Sales per minute**: from the show's opening (or its first lot's start) to its end (or
  `now`), at most 24 hours: per minute the show's orders created in it (a won claim or an
  auction win), how many of them got paid and their amount. **Peaks**: the minutes with
  paid orders of at least 80 % of the busiest minute's, at most 3 (most paid first, then most
  revenue, then the earliest).
- **Chatters per platform**: distinct identities that wrote in the show's chats while it ran
  (`show_chatter`); **buyers per platform**: distinct identities with a paid order. The
  platform is the identity's prefix (`telegram:123` → telegram).
- **Conversion**: claims = won claims of the fixed lots' drops plus auction wins (every order
  an auction offered); checkouts = those orders whose buyer opened the checkout (its pay link
  made a Checkout session; a link handed out and never opened is no checkout), were charged
  with a saved card (an order event with cause `charge:…`) or were paid (e.g. by a Telegram
  invoice); paid = those paid.
- **Unpaid wins**: auction orders that expired or were cancelled.
- **Refunds**: orders now `refunded` or `partially_refunded`, how many and the amount refunded;
  **returns** among them: the units went back to stock (`RefundOrder(restock=True)` records
  an order event with cause `restock`).
- **Totals**: revenue = the amount of paid orders (before refunds), refunded, net = revenue −
  refunded, items sold = units of paid orders, in the currency of the show's products.
"""

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.db import connection
from commerce.adapters.sql import maybe_utc, sql, utc
from commerce.domain.errors import NotFound
from commerce.domain.money import Money

PEAK_SHARE = 0.8
MAX_PEAKS = 3
MAX_MINUTES = 24 * 60

SHOW = sql("SELECT * FROM show WHERE code = :code")
CHANNELS = sql("SELECT chat FROM show_channel WHERE show_id = :id ORDER BY chat")
LOTS = sql(
    "SELECT l.position, l.sku, l.mode, l.price_minor, l.quantity, l.status, l.drop_id,"
    " l.auction_id, l.giveaway_id, l.started_at, l.ended_at, p.name, p.currency,"
    " a.status AS auction_status, a.outcome, a.starts_at AS auction_start, a.closed_at,"
    " a.order_id AS offer_id FROM lot l JOIN product p ON p.sku = l.sku"
    " LEFT JOIN auction a ON a.id = l.auction_id WHERE l.show_id = :id ORDER BY l.position"
)
ORDERS = sql(
    "SELECT l.position, l.mode, o.id, o.identity, o.quantity, o.amount_minor, o.status,"
    " o.created_at, o.paid_at, o.refunded_minor, o.checkout_session, c.display_name,"
    " o.shipping_amount, o.tax_amount, o.bundle_id,"
    " (SELECT p.digital FROM product p WHERE p.id = o.product_id) AS digital,"
    " EXISTS (SELECT 1 FROM order_event e WHERE e.order_id = o.id"
    "  AND e.cause LIKE 'charge:%') AS checkout,"
    " EXISTS (SELECT 1 FROM order_event e WHERE e.order_id = o.id AND e.cause = 'restock')"
    "  AS returned"
    " FROM lot l LEFT JOIN auction a ON a.id = l.auction_id"
    " JOIN orders o ON o.drop_id = COALESCE(l.drop_id, a.drop_id)"
    " JOIN customer c ON c.id = o.customer_id WHERE l.show_id = :id ORDER BY o.id"
)
CLAIMS = sql(
    "SELECT l.position, c.status, c.quantity, c.created_at FROM lot l"
    " JOIN claim c ON c.drop_id = l.drop_id WHERE l.show_id = :id AND l.mode = 'fixed'"
    " ORDER BY c.id"
)
CHATTERS = sql("SELECT identity FROM show_chatter WHERE show_id = :id")
GIVEAWAY = sql(
    "SELECT status, outcome, winner_name, winner_identity, drawn_at FROM giveaway WHERE id = :id"
)
REPORT_COLUMNS = [
    "position", "sku", "name", "mode", "status", "result", "price", "quantity", "sold",
    "revenue", "buyers", "seconds_to_sell", "started_at",
]  # fmt: skip
LAPSED = ("expired", "cancelled")
REFUNDED = ("refunded", "partially_refunded")


@dataclass(frozen=True, slots=True)
class LotLine:
    position: int
    sku: str
    name: str
    mode: str  # auction | fixed | giveaway
    status: str  # the lot's: pending | live | done | skipped
    result: str  # see the module's docstring
    price_minor: int | None
    quantity: int
    sold: int  # units paid
    revenue_minor: int
    buyers: tuple[str, ...]
    seconds_to_sell: float | None
    started_at: datetime | None
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class MinuteLine:
    minute: datetime
    orders: int  # the show's orders created in this minute
    paid: int  # of them, paid
    revenue_minor: int  # their amount
    peak: bool = False


@dataclass(frozen=True, slots=True)
class Funnel:
    claims: int
    checkouts: int
    paid: int

    def rate(self, part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None


@dataclass(frozen=True, slots=True)
class UnpaidWin:
    position: int
    sku: str
    buyer: str
    amount_minor: int
    status: str  # expired | cancelled


@dataclass(frozen=True, slots=True)
class Refunds:
    orders: int
    refunded_minor: int
    returns: int  # of them, whose units went back to stock
    returned_units: int


@dataclass(frozen=True, slots=True)
class ShowReport:
    code: str
    title: str
    status: str
    starts_at: datetime
    opened_at: datetime | None
    ended_at: datetime | None
    channels: tuple[str, ...]
    currency: str
    lots: tuple[LotLine, ...]
    minutes: tuple[MinuteLine, ...]
    chatters: dict[str, int]  # platform -> distinct identities
    buyers: dict[str, int]
    funnel: Funnel
    claims_by_status: dict[str, int]  # every #buy of the fixed lots: won, waitlisted, ...
    unpaid: tuple[UnpaidWin, ...]
    refunds: Refunds
    orders: int
    paid_orders: int
    items_sold: int
    revenue_minor: int  # the items of paid orders
    shipping_minor: int = 0  # the shipping they paid
    tax_minor: int = 0  # the tax the provider added to them
    packages: int = 0  # to send: a bundle is one, an order that ships without one another

    @property
    def total_minor(self) -> int:
        """What buyers paid: items, shipping and tax."""
        return self.revenue_minor + self.shipping_minor + self.tax_minor

    @property
    def net_minor(self) -> int:
        return self.revenue_minor - self.refunds.refunded_minor

    @property
    def peaks(self) -> tuple[MinuteLine, ...]:
        return tuple(m for m in self.minutes if m.peak)

    def money(self, minor: int | None) -> str:
        return "" if minor is None else str(Money(minor, self.currency))

    def decimal(self, minor: int | None) -> str:
        return "" if minor is None else str(Money(minor, self.currency).decimal())

    def rows(self) -> list[dict[str, Any]]:
        """The per-lot table (REPORT_COLUMNS) as text: amounts as decimals in the show's
        currency, buyers joined by '; ', empty cells for what does not apply."""
        return [
            {
                "position": lot.position,
                "sku": lot.sku,
                "name": lot.name,
                "mode": lot.mode,
                "status": lot.status,
                "result": lot.result,
                "price": self.decimal(lot.price_minor),
                "quantity": lot.quantity,
                "sold": lot.sold,
                "revenue": self.decimal(lot.revenue_minor),
                "buyers": "; ".join(lot.buyers),
                "seconds_to_sell": seconds(lot.seconds_to_sell),
                "started_at": lot.started_at.isoformat() if lot.started_at else "",
            }
            for lot in self.lots
        ]

    def as_dict(self) -> dict[str, Any]:
        """Everything, with times in ISO 8601 and amounts in minor units."""
        data = asdict(self)
        data["net_minor"] = self.net_minor
        data["total_minor"] = self.total_minor
        data["peaks"] = [m.minute for m in self.peaks]
        f = self.funnel
        data["funnel"] |= {
            "checkout_rate": f.rate(f.checkouts, f.claims),
            "paid_rate": f.rate(f.paid, f.checkouts),
            "conversion": f.rate(f.paid, f.claims),
        }
        jsonable: dict[str, Any] = _jsonable(data)
        return jsonable


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def seconds(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def platform(identity: str) -> str:
    return identity.split(":", 1)[0] if ":" in identity else "other"


def mark_peaks(minutes: list[MinuteLine]) -> list[MinuteLine]:
    """The busiest minutes (paid orders ≥ 80 % of the maximum), at most three."""
    top = max((m.paid for m in minutes), default=0)
    if top == 0:
        return minutes
    busy = [m for m in minutes if m.paid >= PEAK_SHARE * top]
    busy.sort(key=lambda m: (-m.paid, -m.revenue_minor, m.minute))
    chosen = {m.minute for m in busy[:MAX_PEAKS]}
    return [
        MinuteLine(m.minute, m.orders, m.paid, m.revenue_minor, m.minute in chosen)
        for m in minutes
    ]


class SqlShowReport:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def report(self, code: str, now: datetime) -> ShowReport:
        async with connection(self.engine) as conn:
            show = (await conn.execute(SHOW, {"code": code.strip().upper()})).first()
            if show is None:
                raise NotFound(f"no show {code.strip().upper()}")
            keys = {"id": show.id}
            channels = tuple((await conn.execute(CHANNELS, keys)).scalars().all())
            lots = list((await conn.execute(LOTS, keys)).all())
            orders = list((await conn.execute(ORDERS, keys)).all())
            claims = list((await conn.execute(CLAIMS, keys)).all())
            chatters = (await conn.execute(CHATTERS, keys)).scalars().all()
            giveaways = await _giveaways(conn, [lot.giveaway_id for lot in lots])
        currency = lots[0].currency if lots else "eur"
        paid = [o for o in orders if o.paid_at is not None]
        opened = maybe_utc(show.opened_at)
        starts = [utc(lot.started_at) for lot in lots if lot.started_at is not None]
        begin = opened or (min(starts) if starts else None)
        end = maybe_utc(show.ended_at) or now
        auction_orders = [o for o in orders if o.mode == "auction"]
        won_claims = sum(1 for c in claims if c.status == "won")
        checkouts = sum(1 for o in orders if _checked_out(o))
        refunded = [o for o in orders if o.status in REFUNDED]
        returned = [o for o in refunded if o.returned]
        return ShowReport(
            code=show.code,
            title=show.title,
            status=show.status,
            starts_at=utc(show.starts_at),
            opened_at=opened,
            ended_at=maybe_utc(show.ended_at),
            channels=channels,
            currency=currency,
            lots=tuple(_lot(lot, orders, claims, giveaways) for lot in lots),
            minutes=tuple(mark_peaks(_minutes(orders, begin, end))),
            chatters=dict(sorted(Counter(platform(i) for i in set(chatters)).items())),
            buyers=dict(sorted(Counter(platform(i) for i in {o.identity for o in paid}).items())),
            funnel=Funnel(
                claims=won_claims + len(auction_orders),
                checkouts=checkouts,
                paid=len(paid),
            ),
            claims_by_status=dict(sorted(Counter(c.status for c in claims).items())),
            unpaid=tuple(
                UnpaidWin(o.position, _sku(lots, o.position), _name(o), o.amount_minor, o.status)
                for o in auction_orders
                if o.status in LAPSED
            ),
            refunds=Refunds(
                orders=len(refunded),
                refunded_minor=sum(o.refunded_minor for o in refunded),
                returns=len(returned),
                returned_units=sum(o.quantity for o in returned),
            ),
            orders=len(orders),
            paid_orders=len(paid),
            items_sold=sum(o.quantity for o in paid),
            revenue_minor=sum(o.amount_minor for o in paid),
            shipping_minor=sum(o.shipping_amount for o in paid),
            tax_minor=sum(o.tax_amount for o in paid),
            packages=packages(paid),
        )


def packages(paid: list[Any]) -> int:
    """The packages paid orders make: one per bundle, and one per order that ships without
    one (a shop without shipping zones); digital goods make none."""
    bundles = {o.bundle_id for o in paid if o.bundle_id is not None}
    alone = sum(1 for o in paid if o.bundle_id is None and not o.digital)
    return len(bundles) + alone


async def _giveaways(conn: AsyncConnection, ids: list[int | None]) -> dict[int, Any] | None:
    """Each giveaway lot's draw; None where this database has no giveaways yet."""
    if not await conn.run_sync(lambda sync: inspect(sync).has_table("giveaway")):
        return None
    found = {}
    for giveaway_id in ids:
        if giveaway_id is not None:
            row = (await conn.execute(GIVEAWAY, {"id": giveaway_id})).first()
            if row is not None:
                found[giveaway_id] = row
    return found


def _checked_out(order: Any) -> bool:
    return bool(order.checkout or order.checkout_session or order.paid_at is not None)


def _name(order: Any) -> str:
    return str(order.display_name or order.identity)


def _sku(lots: list[Any], position: int) -> str:
    return next(str(lot.sku) for lot in lots if lot.position == position)


def _buyers(orders: list[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_name(o) for o in orders))


def _lot(
    lot: Any, orders: list[Any], claims: list[Any], giveaways: dict[int, Any] | None
) -> LotLine:
    mine = [o for o in orders if o.position == lot.position]
    paid = [o for o in mine if o.paid_at is not None]
    started = maybe_utc(lot.started_at)
    price: int | None = lot.price_minor
    seconds: float | None = None
    buyers = _buyers(paid)
    if lot.status == "skipped":
        result = "skipped"
    elif started is None:
        result = "pending"
    elif lot.mode == "auction":
        result, price = _auction_result(lot, mine)
        if result in ("sold", "awaiting payment") and lot.closed_at is not None:
            begin = maybe_utc(lot.auction_start) or started
            seconds = (utc(lot.closed_at) - begin).total_seconds()
    elif lot.mode == "fixed":
        units = sum(o.quantity for o in paid)
        result = f"{units} of {lot.quantity} sold"
        seconds = _sold_out_after(lot, started, claims)
    else:
        result, seconds, buyers = _giveaway_result(lot, started, giveaways)
    return LotLine(
        position=lot.position,
        sku=lot.sku,
        name=lot.name,
        mode=lot.mode,
        status=lot.status,
        result=result,
        price_minor=price,
        quantity=lot.quantity,
        sold=sum(o.quantity for o in paid),
        revenue_minor=sum(o.amount_minor for o in paid),
        buyers=buyers,
        seconds_to_sell=seconds,
        started_at=started,
        ended_at=maybe_utc(lot.ended_at),
    )


def _auction_result(lot: Any, orders: list[Any]) -> tuple[str, int | None]:
    if lot.auction_status == "live":
        return "live", None
    offer = next((o for o in orders if o.id == lot.offer_id), None)
    if lot.outcome == "sold" and offer is not None:
        if offer.paid_at is not None:
            return "sold", offer.amount_minor
        if offer.status in LAPSED:
            return "unpaid", offer.amount_minor  # the sweeper has not offered it on yet
        return "awaiting payment", offer.amount_minor
    if lot.outcome == "unpaid" and orders:
        return "unpaid", orders[-1].amount_minor  # the last offer, which lapsed too
    return str(lot.outcome or "closed").replace("_", " "), None


def _sold_out_after(lot: Any, started: datetime, claims: list[Any]) -> float | None:
    """Seconds from the lot's start to the won claim that took its last unit."""
    units = 0
    for claim in claims:
        if claim.position == lot.position and claim.status == "won":
            units += claim.quantity
            if units >= lot.quantity:
                return (utc(claim.created_at) - started).total_seconds()
    return None


def _giveaway_result(
    lot: Any, started: datetime, giveaways: dict[int, Any] | None
) -> tuple[str, float | None, tuple[str, ...]]:
    draw = None if giveaways is None else giveaways.get(lot.giveaway_id)
    if draw is None:
        return "giveaway", None, ()
    drawn = maybe_utc(draw.drawn_at)
    seconds = (drawn - started).total_seconds() if drawn else None
    if draw.status != "drawn":
        return "live", None, ()
    if draw.outcome == "won":
        winner = str(draw.winner_name or draw.winner_identity)
        return f"won by {winner}", seconds, (winner,)
    return str(draw.outcome or "drawn").replace("_", " "), seconds, ()


def _minutes(orders: list[Any], begin: datetime | None, end: datetime) -> list[MinuteLine]:
    if begin is None:
        return []
    first = begin.replace(second=0, microsecond=0)
    last = max(end, first).replace(second=0, microsecond=0)
    count = min(int((last - first).total_seconds() // 60) + 1, MAX_MINUTES)
    made: Counter[datetime] = Counter()
    paid: Counter[datetime] = Counter()
    revenue: Counter[datetime] = Counter()
    for order in orders:
        minute = utc(order.created_at).replace(second=0, microsecond=0)
        made[minute] += 1
        if order.paid_at is not None:
            paid[minute] += 1
            revenue[minute] += order.amount_minor
    slots = [first + timedelta(minutes=i) for i in range(count)]
    return [MinuteLine(m, made[m], paid[m], revenue[m]) for m in slots]
