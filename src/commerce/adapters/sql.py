"""SQL shared by the claim writer and the repository, and rows turned into views.

Plain SQL (`text`) that both SQLite (>= 3.35) and PostgreSQL run: conditional updates,
`ON CONFLICT` and `RETURNING` keep every stock decision inside the database.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, String, TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import TypeEngine

from commerce.adapters.tables import UTCDateTime
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer.results import DropView, OrderView

# Parameter types by name: times go through the UTC type (naive on SQLite), and parameters
# that may be NULL (`:code IS NULL OR ...`) need a type PostgreSQL can infer.
_PARAM_TYPES: dict[str, Callable[[], TypeEngine[Any]]] = {
    **dict.fromkeys(
        ("now", "at", "lease", "until", "before", "hold_expires_at", "ends_at", "since", "stale"),
        UTCDateTime,
    ),
    **dict.fromkeys(("code", "chat", "status", "ref"), String),
    **dict.fromkeys(("limit", "customer_id"), Integer),
}


def sql(statement: str) -> TextClause:
    """A text statement with its parameters typed by name."""
    names = [n for n in _PARAM_TYPES if re.search(rf":{n}\b", statement)]
    return text(statement).bindparams(*(bindparam(n, type_=_PARAM_TYPES[n]()) for n in names))


def utc(value: Any) -> datetime:
    """Time columns read through `text()` come back naive on SQLite (and as strings)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def maybe_utc(value: Any) -> datetime | None:
    return None if value is None else utc(value)


DROP_COLUMNS = """
    d.id, d.code, d.product_id, d.price_minor, d.currency, d.quantity, d.remaining,
    d.per_buyer_limit, d.policy, d.hold_seconds, d.status, d.waitlist_len,
    d.starts_at, d.ends_at, p.sku, p.name, p.digital, d.confirm, d.promo, d.ended_at,
    p.image, p.description
"""
SELECT_DROP = sql(
    f"SELECT {DROP_COLUMNS} FROM drops d JOIN product p ON p.id = d.product_id WHERE d.id = :id"
)
SELECT_CHANNELS = sql("SELECT chat FROM drop_channel WHERE drop_id = :id ORDER BY chat")

ORDER_COLUMNS = """
    o.id, o.ref, d.code, p.sku, p.name, v.label, o.identity, o.chat, o.quantity,
    o.amount_minor, o.currency, o.status, o.hold_expires_at, o.created_at, o.drop_id,
    o.variant_id, o.customer_id, o.holds_stock, o.checkout_session, o.checkout_url,
    o.payment_ref, o.refunded_minor, o.dispute, o.unit_price_minor, c.disputes AS buyer_disputes,
    p.digital, o.confirm_until, o.charge_attempt, o.ship_to, o.payment_pending_since,
    o.payment_attempts, o.shipping_amount, o.tax_amount, o.bundle_id
"""
ORDER_FROM = """
    FROM orders o JOIN drops d ON d.id = o.drop_id JOIN product p ON p.id = o.product_id
    JOIN variant v ON v.id = o.variant_id JOIN customer c ON c.id = o.customer_id
"""
SELECT_ORDER = sql(f"SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE o.id = :id")

# Only addresses the buyer typed (a Checkout page, an invoice) count; a saved card's charge
# copies the customer's address onto its order (charge_attempt set) and must not outrank a
# newer one typed on an older order's page.
NEWEST_SHIP_TO = (
    "SELECT o.ship_to FROM orders o WHERE o.customer_id = {customer} AND o.ship_to IS NOT NULL"
    " AND o.charge_attempt IS NULL ORDER BY o.created_at DESC, o.id DESC LIMIT 1"
)

INSERT_ORDER_EVENT = sql(
    "INSERT INTO order_event (order_id, from_status, to_status, cause, at)"
    " VALUES (:order_id, :from_status, :to_status, :cause, :at)"
)


async def drop_view(conn: AsyncConnection, drop_id: int) -> DropView:
    row = (await conn.execute(SELECT_DROP, {"id": drop_id})).one()
    channels = (await conn.execute(SELECT_CHANNELS, {"id": drop_id})).scalars().all()
    return to_drop_view(row, tuple(channels))


def to_drop_view(row: Any, channels: tuple[str, ...]) -> DropView:
    return DropView(
        id=row.id,
        code=row.code,
        sku=row.sku,
        name=row.name,
        price=Money(row.price_minor, row.currency),
        quantity=row.quantity,
        remaining=row.remaining,
        per_buyer_limit=row.per_buyer_limit,
        policy=row.policy,
        hold_seconds=row.hold_seconds,
        status=row.status,
        waitlist=row.waitlist_len,
        channels=channels,
        starts_at=utc(row.starts_at),
        ends_at=maybe_utc(row.ends_at),
        confirm=row.confirm,
        promo=bool(row.promo),
        ended_at=maybe_utc(row.ended_at),
        image=row.image,
        description=row.description,
    )


async def order_view(conn: AsyncConnection, order_id: int) -> OrderView:
    return to_order_view((await conn.execute(SELECT_ORDER, {"id": order_id})).one())


def to_order_view(row: Any) -> OrderView:
    return OrderView(
        ref=row.ref,
        drop_code=row.code,
        sku=row.sku,
        name=row.name,
        variant=row.label,
        identity=row.identity,
        chat=row.chat,
        quantity=row.quantity,
        amount=Money(row.amount_minor, row.currency),
        status=OrderStatus(row.status),
        hold_expires_at=maybe_utc(row.hold_expires_at),
        created_at=utc(row.created_at),
        checkout_session=row.checkout_session,
        checkout_url=row.checkout_url,
        payment_ref=row.payment_ref,
        refunded=Money(row.refunded_minor, row.currency),
        unit_price=Money(row.unit_price_minor, row.currency),
        buyer_disputes=row.buyer_disputes,
        digital=bool(row.digital),
        confirm_until=maybe_utc(row.confirm_until),
        charging=row.charge_attempt is not None,
        charge_pending=row.charge_attempt == "pending",
        ship_to=row.ship_to,
        payment_pending_since=maybe_utc(row.payment_pending_since),
        payment_attempts=row.payment_attempts,
        shipping_amount=row.shipping_amount,
        tax_amount=row.tax_amount,
        bundle_id=row.bundle_id,
        holds_stock=bool(row.holds_stock),
    )


async def record_transition(
    conn: AsyncConnection,
    order_id: int,
    from_status: str | None,
    to_status: str,
    cause: str,
    at: datetime,
) -> None:
    await conn.execute(
        INSERT_ORDER_EVENT,
        {
            "order_id": order_id,
            "from_status": from_status,
            "to_status": to_status,
            "cause": cause[:200],
            "at": at,
        },
    )
