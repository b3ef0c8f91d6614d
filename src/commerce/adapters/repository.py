"""SqlStore: the persistence port on SQLite or PostgreSQL (see service_layer/ports.py)."""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.claim_writer import ClaimWriter
from commerce.adapters.claims import (
    FIND_LIVE_DROP,
    GIVE_TO_VARIANT,
    LEAVE_WAITLIST,
    LOCK_DROP,
    SUB_BUYER_UNITS,
    Allocation,
    allocate,
    give_units,
    take_units,
)
from commerce.adapters.db import connection, transaction
from commerce.adapters.outbox import put_message
from commerce.adapters.shipping import leave_bundle
from commerce.adapters.sql import (
    DROP_COLUMNS,
    ORDER_COLUMNS,
    ORDER_FROM,
    SELECT_DROP,
    SELECT_ORDER,
    drop_view,
    order_view,
    record_transition,
    sql,
    to_order_view,
    utc,
)
from commerce.domain.commands import Claim
from commerce.domain.drops import DropStatus, DropTerms
from commerce.domain.errors import Conflict, InvalidInput, NotFound
from commerce.domain.money import Money
from commerce.domain.orders import CANCELLABLE, HOLDING, OrderStatus, can_move, sources
from commerce.domain.payments import NO_PAYER, LimitBreach, Payer
from commerce.domain.products import DEFAULT_VARIANT, ProductSpec, normalise_sku
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.results import (
    ClaimOutcome,
    ClaimResult,
    DropView,
    OrderEventView,
    OrderView,
    ProductView,
    RefusalReason,
    Release,
    Settlement,
    SettlementOutcome,
    VariantView,
)

PAID = OrderStatus.PAID
S = OrderStatus
# Orders whose units count as paid for (a refund gives them back; review is undecided).
PAID_FOR = frozenset({S.PAID, S.FULFILLED, S.PARTIALLY_REFUNDED, S.DISPUTED})


def _in(states: frozenset[OrderStatus]) -> str:
    """A SQL list of states from the transition table (constants, never user input)."""
    return ", ".join(f"'{s.value}'" for s in sorted(states))


SELECT_PRODUCT = sql(
    "SELECT id, sku, name, price_minor, currency, option, digital, ship_units, image,"
    " description FROM product"
)
SELECT_PRODUCT_BY_SKU = sql(
    "SELECT id, sku, name, price_minor, currency, option FROM product WHERE sku = :sku"
)
SELECT_STOCK = sql("SELECT product_id, label, stock FROM variant ORDER BY id")
INSERT_PRODUCT = sql(
    "INSERT INTO product (sku, name, price_minor, currency, option, digital, ship_units,"
    " image, description, created_at) VALUES (:sku, :name, :price, :currency, :option,"
    " :digital, :ship_units, :image, :description, :now) RETURNING id"
)
INSERT_VARIANT = sql(
    "INSERT INTO variant (product_id, label, stock) VALUES (:product_id, :label, :stock)"
)
UPDATE_PRODUCT = sql(
    "UPDATE product SET name = :name, price_minor = :price, ship_units = :ship_units,"
    " image = :image, description = :description WHERE sku = :sku"
)
SET_VARIANT_STOCK = sql(
    "UPDATE variant SET stock = :stock WHERE product_id = :product_id AND label = :label"
    " RETURNING id"
)
INSERT_DROP = sql(
    "INSERT INTO drops (code, product_id, price_minor, currency, quantity, remaining,"
    " per_buyer_limit, policy, hold_seconds, status, waitlist_len, started_by, starts_at,"
    " ends_at, confirm, promo) VALUES (:code, :product_id, :price, :currency, :quantity,"
    " :quantity, :limit, :policy, :hold_seconds, 'live', 0, :actor, :now, :ends_at, :confirm,"
    " :promo) RETURNING id"
)
INSERT_CHANNEL = sql("INSERT INTO drop_channel (drop_id, chat) VALUES (:drop_id, :chat)")
LIVE_WITH_CODE = sql("SELECT id FROM drops WHERE code = :code AND status = 'live'")
FIND_DROP_TO_END = sql(
    "SELECT d.id FROM drops d WHERE d.status = 'live' AND (:code IS NULL OR d.code = :code)"
    " AND (:chat IS NULL OR EXISTS (SELECT 1 FROM drop_channel c WHERE c.drop_id = d.id"
    " AND c.chat = :chat) OR NOT EXISTS (SELECT 1 FROM drop_channel c WHERE c.drop_id = d.id))"
    " ORDER BY d.id DESC LIMIT 1"
)
END_DROP = sql(
    "UPDATE drops SET status = 'ended', ended_at = :now, waitlist_len = 0"
    " WHERE id = :id AND status = 'live'"
)
DROP_WAITLIST = sql(
    "UPDATE claim SET status = 'dropped', reason = 'drop_ended'"
    " WHERE drop_id = :id AND status = 'waitlisted' RETURNING identity, chat"
)
OVERDUE_DROPS = sql(
    "SELECT id FROM drops WHERE status = 'live' AND ends_at IS NOT NULL AND ends_at <= :now"
)
LIST_DROPS = sql(
    f"SELECT {DROP_COLUMNS} FROM drops d JOIN product p ON p.id = d.product_id"
    " WHERE (:status IS NULL OR d.status = :status) ORDER BY d.id DESC"
)
NEXT_WAITING = sql(
    "SELECT id, key, customer_id, identity, chat, quantity, variant_id FROM claim"
    " WHERE drop_id = :drop_id AND status = 'waitlisted' ORDER BY id LIMIT 1"
)
PROMOTE_CLAIM = sql(
    "UPDATE claim SET status = :status, reason = :reason, order_id = :order_id WHERE id = :id"
)
# Releasing a hold: the status change is conditional on the transition table, so a hold
# released twice (sweeper and /pass at the same moment) gives its units back once.
RELEASE_ORDER = sql(
    "UPDATE orders SET status = :to_status, holds_stock = :false, updated_at = :now"
    f" WHERE id = :id AND status IN ({_in(HOLDING)}) RETURNING status"
)
DUE_HOLDS = sql(
    f"SELECT id FROM orders WHERE status IN ({_in(HOLDING & sources(OrderStatus.EXPIRED))})"
    " AND hold_expires_at <= :now ORDER BY hold_expires_at LIMIT 500"
)
# First-paid orders that can no longer be filled: fewer units are free or held unpaid than
# they ask for (the others paid first). A payment already under way (no deadline) waits.
UNFILLABLE = sql(
    "SELECT o.id FROM orders o JOIN drops d ON d.id = o.drop_id WHERE o.holds_stock = :false"
    f" AND o.status IN ({_in(HOLDING)}) AND o.hold_expires_at IS NOT NULL"
    " AND d.remaining + COALESCE((SELECT SUM(h.quantity) FROM orders h WHERE h.drop_id = d.id"
    f" AND h.holds_stock = :true AND h.status IN ({_in(HOLDING)})), 0) < o.quantity"
    " ORDER BY o.id LIMIT 500"
)
# Taking the order's row lock first: a payment and the sweeper never act on one order at once.
LOCK_ORDER = sql("UPDATE orders SET updated_at = :now WHERE id = :id")
MARK_PAID = sql(
    "UPDATE orders SET status = 'paid', holds_stock = :true, payment_ref = :payment_ref,"
    f" paid_at = :now, updated_at = :now WHERE id = :id AND status IN ({_in(sources(PAID))})"
)
MARK_REVIEW = sql(
    "UPDATE orders SET status = 'needs_review', payment_ref = :payment_ref, updated_at = :now"
    f" WHERE id = :id AND status IN ({_in(sources(OrderStatus.NEEDS_REVIEW))})"
)
# Who paid, recorded with the payment (the first payer recorded stays).
RECORD_PAYER = sql(
    "UPDATE orders SET card_fingerprint = COALESCE(card_fingerprint, :card),"
    " payer_email = COALESCE(payer_email, :email) WHERE id = :id"
)
WENT_OVER_LIMIT = sql(
    "SELECT 1 FROM order_event WHERE order_id = :id AND to_status = 'needs_review'"
    " AND cause LIKE :why"
)
DROP_LIMIT = sql("SELECT per_buyer_limit FROM drops WHERE id = :drop_id")
SET_PAYMENT_REF = sql("UPDATE orders SET payment_ref = :payment_ref WHERE id = :id")
# Units of a drop already paid for with this card or email, by anyone (every identity and
# customer), this order aside. Read under the drop's row lock (LOCK_DROP): two payments with
# the same card for the last unit of the limit are decided one after the other.
PAID_BY_PAYER = sql(
    "SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE drop_id = :drop_id AND id <> :id"
    f" AND status IN ({_in(PAID_FOR)})"
    " AND (card_fingerprint = :card OR payer_email = :email)"
)
ADD_BUYER_UNITS_UNLIMITED = sql(
    "INSERT INTO drop_buyer (drop_id, customer_id, units) VALUES (:drop_id, :customer_id, :q)"
    " ON CONFLICT (drop_id, customer_id) DO UPDATE SET units = drop_buyer.units + excluded.units"
)
LIST_ORDERS = sql(
    f"SELECT {ORDER_COLUMNS} {ORDER_FROM}"
    " WHERE (:status IS NULL OR o.status = :status)"
    " AND (:customer_id IS NULL OR o.customer_id = :customer_id)"
    " ORDER BY o.id DESC LIMIT :limit"
)
FIND_ORDER_BY_REF = sql(f"SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE o.ref = :ref")
LATEST_CANCELLABLE = sql(
    f"SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE o.customer_id = :customer_id"
    f" AND o.status IN ({_in(CANCELLABLE)}) AND (:chat IS NULL OR o.chat = :chat)"
    " AND (:code IS NULL OR d.code = :code) ORDER BY o.id DESC LIMIT 1"
)
ORDER_HISTORY = sql(
    "SELECT from_status, to_status, cause, at FROM order_event e JOIN orders o"
    " ON o.id = e.order_id WHERE o.ref = :ref ORDER BY e.id"
)
SELECT_CUSTOMER = sql("SELECT customer_id FROM identity WHERE key = :key")
STRIKE = sql(
    "INSERT INTO strike (customer_id, order_id, cause, created_at)"
    " SELECT o.customer_id, o.id, 'hold_expired', :now FROM orders o WHERE o.id = :id"
    # A giveaway's winner who lets the shipping go unpaid turned a gift down: no strike.
    " AND NOT EXISTS (SELECT 1 FROM giveaway g WHERE g.order_id = o.id)"
    " ON CONFLICT (order_id) DO NOTHING"
)
# A place in a waitlist is counted now (the ones ahead may have left it), not kept.
WAITLIST_PLACES = sql(
    "SELECT d.code, (SELECT COUNT(*) FROM claim w WHERE w.drop_id = c.drop_id"
    " AND w.status = 'waitlisted' AND w.id <= c.id) AS place FROM claim c"
    " JOIN drops d ON d.id = c.drop_id WHERE c.customer_id = :customer_id"
    " AND c.status = 'waitlisted' AND d.status = 'live' AND (:code IS NULL OR d.code = :code)"
    " ORDER BY c.id"
)
UPSERT_SELLER = sql(
    "INSERT INTO seller (identity, role, created_at) VALUES (:identity, :role, :now)"
    " ON CONFLICT (identity) DO UPDATE SET role = excluded.role"
)
SELECT_SELLER = sql("SELECT role FROM seller WHERE identity = :identity")
LINK_IDENTITY = sql(
    "INSERT INTO identity (key, customer_id) VALUES (:key, :customer_id)"
    " ON CONFLICT (key) DO UPDATE SET customer_id = excluded.customer_id"
)


class SqlStore:
    """Products, drops, claims, orders and sellers in one SQL database."""

    def __init__(
        self, engine: AsyncEngine, strikes: int = 0, web_first_paid: bool = False
    ) -> None:
        self.engine = engine
        self.claims = ClaimWriter(engine, strikes=strikes, web_first_paid=web_first_paid)

    async def close(self) -> None:
        await self.claims.close()

    async def ping(self) -> None:
        async with connection(self.engine) as conn:
            await conn.execute(sql("SELECT 1"))

    # products -------------------------------------------------------------------------

    async def add_product(self, spec: ProductSpec, stock: int, now: datetime) -> ProductView:
        if stock < 0:
            raise InvalidInput("stock cannot be negative")
        try:
            async with transaction(self.engine) as conn:
                product_id = (
                    await conn.execute(
                        INSERT_PRODUCT,
                        {
                            "sku": spec.sku,
                            "name": spec.name.strip(),
                            "price": spec.price.minor,
                            "currency": spec.price.currency,
                            "option": spec.option,
                            "digital": spec.digital,
                            "ship_units": spec.ship_units,
                            "image": spec.image,
                            "description": spec.description.strip(),
                            "now": now,
                        },
                    )
                ).scalar_one()
                for label in spec.variants or (DEFAULT_VARIANT,):
                    await conn.execute(
                        INSERT_VARIANT, {"product_id": product_id, "label": label, "stock": stock}
                    )
        except IntegrityError:
            raise Conflict(f"a product with SKU {spec.sku} exists already") from None
        return await self.product(spec.sku)

    async def products(self) -> list[ProductView]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(SELECT_PRODUCT)).all()
            stock = (await conn.execute(SELECT_STOCK)).all()
        by_product: dict[int, list[VariantView]] = {}
        for v in stock:
            by_product.setdefault(v.product_id, []).append(VariantView(v.label, v.stock))
        return sorted(
            (_product_view(row, by_product.get(row.id, [])) for row in rows),
            key=lambda p: p.sku,
        )

    async def product(self, sku: str) -> ProductView:
        code = normalise_sku(sku)
        for product in await self.products():
            if product.sku == code:
                return product
        raise NotFound(f"no product with SKU {code}; `livebuy product list` shows them")

    async def update_product(
        self,
        sku: str,
        name: str | None,
        price: Money | None,
        ship_units: int | None = None,
        image: str | None = None,
        description: str | None = None,
    ) -> ProductView:
        """None leaves a field as it is; an empty image or description removes it."""
        product = await self.product(sku)
        if price is not None and price.currency != product.price.currency:
            raise InvalidInput(
                f"{product.sku} is priced in {product.price.currency.upper()},"
                f" not {price.currency.upper()}"
            )
        async with transaction(self.engine) as conn:
            await conn.execute(
                UPDATE_PRODUCT,
                {
                    "sku": product.sku,
                    "name": name.strip() if name else product.name,
                    "price": price.minor if price else product.price.minor,
                    "ship_units": ship_units or product.ship_units,
                    "image": product.image if image is None else (image or None),
                    "description": product.description if description is None else description,
                },
            )
        return await self.product(sku)

    async def set_stock(self, sku: str, stock: int, variant: str | None) -> ProductView:
        if stock < 0:
            raise InvalidInput("stock cannot be negative")
        product = await self.product(sku)
        labels = [v.label for v in product.variants]
        if variant is None and labels != [DEFAULT_VARIANT]:
            raise InvalidInput(f"{product.sku} has variants: name one of {', '.join(labels)}")
        label = DEFAULT_VARIANT if variant is None else _label(labels, variant, product.sku)
        async with transaction(self.engine) as conn:
            row = (await conn.execute(SELECT_PRODUCT_BY_SKU, {"sku": product.sku})).one()
            await conn.execute(
                SET_VARIANT_STOCK, {"stock": stock, "product_id": row.id, "label": label}
            )
        return await self.product(sku)

    # drops ----------------------------------------------------------------------------

    async def start_drop(
        self,
        terms: DropTerms,
        code: str | None,
        channels: tuple[str, ...],
        actor: str,
        now: datetime,
    ) -> DropView:
        product = await self.product(terms.sku)
        drop_code = normalise_sku(code or product.sku)
        if terms.price.currency != product.price.currency:
            raise InvalidInput(
                f"{product.sku} is priced in {product.price.currency.upper()},"
                f" not {terms.price.currency.upper()}"
            )
        if terms.quantity > product.stock:
            raise InvalidInput(
                f"only {product.stock} units of {product.sku} are in stock;"
                f" set more with `livebuy product stock {product.sku} N`"
            )
        async with transaction(self.engine) as conn:
            if (await conn.execute(LIVE_WITH_CODE, {"code": drop_code})).first() is not None:
                raise Conflict(f"a drop {drop_code} is live already; end it first")
            row = (await conn.execute(SELECT_PRODUCT_BY_SKU, {"sku": product.sku})).one()
            drop_id = (
                await conn.execute(
                    INSERT_DROP,
                    {
                        "code": drop_code,
                        "product_id": row.id,
                        "price": terms.price.minor,
                        "currency": terms.price.currency,
                        "quantity": terms.quantity,
                        "limit": terms.per_buyer_limit,
                        "policy": terms.policy.value,
                        "hold_seconds": int(terms.hold.total_seconds()),
                        "actor": actor[:80],
                        "now": now,
                        "ends_at": now + terms.duration if terms.duration else None,
                        "confirm": terms.confirm,
                        "promo": terms.promo,
                    },
                )
            ).scalar_one()
            for chat in sorted(set(channels)):
                await conn.execute(INSERT_CHANNEL, {"drop_id": drop_id, "chat": chat})
            return await drop_view(conn, drop_id)

    async def end_drop(
        self, code: str | None, chat: str | None, now: datetime
    ) -> tuple[DropView, list[tuple[str, str]]]:
        """Ends a live drop; returns it and the (identity, chat) of the waitlist let go."""
        async with transaction(self.engine) as conn:
            params = {"code": normalise_sku(code) if code else None, "chat": chat}
            drop_id = (await conn.execute(FIND_DROP_TO_END, params)).scalar()
            if drop_id is None:
                what = f"drop {params['code']}" if code else "drop"
                raise NotFound(f"no live {what} to end")
            return await self._end(conn, drop_id, now)

    async def _end(
        self, conn: AsyncConnection, drop_id: int, now: datetime
    ) -> tuple[DropView, list[tuple[str, str]]]:
        await conn.execute(END_DROP, {"id": drop_id, "now": now})
        waitlist = (await conn.execute(DROP_WAITLIST, {"id": drop_id})).all()
        return await drop_view(conn, drop_id), [(w.identity, w.chat) for w in waitlist]

    async def end_overdue_drops(self, now: datetime) -> list[DropView]:
        """Ends the drops whose time window has passed."""
        ended = []
        async with transaction(self.engine) as conn:
            for drop_id in (await conn.execute(OVERDUE_DROPS, {"now": now})).scalars().all():
                ended.append((await self._end(conn, drop_id, now))[0])
        return ended

    async def drops(self, status: DropStatus | None = None) -> list[DropView]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(LIST_DROPS, {"status": status})).all()
            return [await drop_view(conn, row.id) for row in rows]

    async def live_drop(self, chat: str, code: str | None) -> DropView | None:
        """The drop a `#buy` in this chat (naming `code`, or not) would claim from."""
        async with connection(self.engine) as conn:
            row = (await conn.execute(FIND_LIVE_DROP, {"code": code, "chat": chat})).first()
            return None if row is None else await drop_view(conn, row.id)

    # claims and holds -----------------------------------------------------------------

    async def claim(
        self, claim: Claim, now: datetime, link: Callable[[str], str] | None = None
    ) -> ClaimResult:
        return await self.claims.submit(claim, now, link)

    async def release(
        self,
        order_ref: str,
        to_status: OrderStatus,
        cause: str,
        now: datetime,
        letters: Sequence[Outgoing] = (),
    ) -> Release | None:
        """Gives a held order's units back and promotes the waitlist; None if not held.
        `letters` (the buyer told) are stored with the release, or not at all."""
        async with transaction(self.engine) as conn:
            row = (await conn.execute(FIND_ORDER_BY_REF, {"ref": order_ref})).first()
            if row is None:
                return None
            release = await self._release(conn, row.id, to_status, cause, now)
            if release is not None:
                for letter in letters:
                    await put_message(conn, letter, now)
            return release

    async def _release(
        self, conn: AsyncConnection, order_id: int, to_status: OrderStatus, cause: str, now: Any
    ) -> Release | None:
        row = (await conn.execute(SELECT_ORDER, {"id": order_id})).one()
        released = (
            await conn.execute(
                RELEASE_ORDER,
                {"id": order_id, "to_status": to_status, "now": now, "true": True, "false": False},
            )
        ).first()
        if released is None:
            return None
        keys = {"drop_id": row.drop_id, "variant_id": row.variant_id, "q": row.quantity}
        # The drop's row lock first: claim batches read the buyer counts under it.
        await conn.execute(LOCK_DROP, keys)
        if row.holds_stock:  # a first-paid order never took any
            await give_units(conn, keys)
        await conn.execute(SUB_BUYER_UNITS, {**keys, "customer_id": row.customer_id})
        await leave_bundle(conn, order_id, now)
        await record_transition(conn, order_id, row.status, to_status, cause, now)
        promoted = await self._promote(conn, row.drop_id, now)
        return Release(await order_view(conn, order_id), tuple(promoted))

    async def _promote(self, conn: AsyncConnection, drop_id: int, now: Any) -> list[ClaimResult]:
        """Offers freed units to the waitlist, first come first served."""
        promoted: list[ClaimResult] = []
        drop = (await conn.execute(SELECT_DROP, {"id": drop_id})).one()
        while drop.status == DropStatus.LIVE:
            waiting = (await conn.execute(NEXT_WAITING, {"drop_id": drop_id})).first()
            if waiting is None:
                break
            want = Allocation(
                drop,
                waiting.customer_id,
                waiting.identity,
                waiting.chat,
                waiting.variant_id,
                waiting.quantity,
            )
            order_id, reason, left = await allocate(conn, want, f"waitlist:{waiting.key}", now)
            if reason is RefusalReason.NOT_ENOUGH_LEFT and left == 0:
                break  # nothing free any more: the rest keep their places
            await conn.execute(LEAVE_WAITLIST, {"drop_id": drop_id})
            status = ClaimOutcome.WON if order_id is not None else ClaimOutcome.REFUSED
            await conn.execute(
                PROMOTE_CLAIM,
                {
                    "id": waiting.id,
                    "status": status.value,
                    "reason": "promoted" if order_id is not None else reason or "",
                    "order_id": order_id,
                },
            )
            if order_id is not None:
                promoted.append(
                    ClaimResult(
                        ClaimOutcome.WON,
                        await drop_view(conn, drop_id),
                        await order_view(conn, order_id),
                        claim_id=waiting.id,
                        order_id=order_id,
                    )
                )
        return promoted

    async def expire_due(self, now: datetime) -> list[Release]:
        """Expires holds whose time is up, one transaction per hold."""
        async with connection(self.engine) as conn:
            due = (await conn.execute(DUE_HOLDS, {"now": now, "true": True})).scalars().all()
        releases = []
        for order_id in due:
            async with transaction(self.engine) as conn:
                release = await self._release(
                    conn, order_id, OrderStatus.EXPIRED, "sweeper:hold_expired", now
                )
                if release is not None:  # an unpaid hold: a strike against the buyer
                    await conn.execute(STRIKE, {"id": order_id, "now": now})
            if release is not None:
                releases.append(release)
        return releases

    async def expire_unfillable(self, now: datetime) -> list[Release]:
        """First-paid orders whose units others paid for: closed (no strike), one by one."""
        async with connection(self.engine) as conn:
            params = {"true": True, "false": False}
            due = (await conn.execute(UNFILLABLE, params)).scalars().all()
        releases = []
        for order_id in due:
            async with transaction(self.engine) as conn:
                release = await self._release(
                    conn, order_id, OrderStatus.EXPIRED, "sweeper:sold_to_first_payers", now
                )
            if release is not None:
                releases.append(release)
        return releases

    async def settle(
        self,
        order_ref: str,
        payment_ref: str,
        cause: str,
        now: datetime,
        payer: Payer = NO_PAYER,
        breach: LimitBreach = LimitBreach.REFUND,
    ) -> Settlement:
        """Records a payment for an order: paid when it has (or can still get) its units.

        A held order is simply paid. A first-paid order, or a hold that expired or was
        cancelled before the money came, takes its units now if they are free; otherwise the
        order goes to needs_review and the caller refunds the payment. A payment recorded
        before (webhooks come more than once) changes nothing. A payment whose card or email
        already paid for the drop's per-buyer limit (under any identity) is over it: the order
        goes to needs_review, its units (if it held any) back to the drop, and the caller
        refunds it (`breach` refund) or leaves it to the seller (review).
        """
        async with transaction(self.engine) as conn:
            found = (await conn.execute(FIND_ORDER_BY_REF, {"ref": order_ref.upper()})).first()
            if found is None:
                raise NotFound(f"no order {order_ref.upper()}")
            await conn.execute(LOCK_ORDER, {"id": found.id, "now": now})
            row = (await conn.execute(SELECT_ORDER, {"id": found.id})).one()
            status = OrderStatus(row.status)
            if _second_payment(status, row.payment_ref, payment_ref):
                # Paid twice (a link and a saved card, or a Telegram invoice): kept on record,
                # and the caller refunds this one.
                await record_transition(conn, row.id, status, status, f"{cause}:paid_twice", now)
                return Settlement(to_order_view(row), SettlementOutcome.PAID_TWICE)
            if not can_move(status, PAID) or status is PAID:
                return Settlement(to_order_view(row), SettlementOutcome.UNCHANGED)
            if payer.known:
                await conn.execute(
                    RECORD_PAYER, {"id": row.id, "card": payer.card, "email": payer.email}
                )
                over = await self._over_limit(conn, row, payer, payment_ref, cause, now, breach)
                if over is not None:
                    return over
            params = {"id": row.id, "payment_ref": payment_ref, "now": now, "true": True}
            if not row.holds_stock:
                keys = {"drop_id": row.drop_id, "variant_id": row.variant_id, "q": row.quantity}
                if await take_units(conn, keys, live_only=False) is not None:
                    if status is OrderStatus.NEEDS_REVIEW:  # reported again: still no units
                        return Settlement(to_order_view(row), SettlementOutcome.UNCHANGED)
                    await conn.execute(MARK_REVIEW, params)
                    await record_transition(
                        conn, row.id, status, OrderStatus.NEEDS_REVIEW, f"{cause}:no_stock", now
                    )
                    return Settlement(await order_view(conn, row.id), SettlementOutcome.NO_STOCK)
                if status not in HOLDING:  # its units left the buyer's count when it ended
                    buyer = {**keys, "customer_id": row.customer_id}
                    await conn.execute(ADD_BUYER_UNITS_UNLIMITED, buyer)
            await conn.execute(MARK_PAID, params)
            await record_transition(conn, row.id, status, PAID, cause, now)
            return Settlement(await order_view(conn, row.id), SettlementOutcome.PAID)

    async def _over_limit(
        self,
        conn: AsyncConnection,
        row: Any,
        payer: Payer,
        payment_ref: str,
        cause: str,
        now: datetime,
        breach: LimitBreach,
    ) -> Settlement | None:
        """The settlement of a payment that takes its card or email over the drop's
        per-buyer limit; None when it stays within (or the drop has no limit)."""
        keys = {"drop_id": row.drop_id, "variant_id": row.variant_id, "q": row.quantity}
        limit = (await conn.execute(DROP_LIMIT, keys)).scalar()
        if limit is None:
            return None
        # The drop's row lock: payments of one drop are counted one after the other (on
        # SQLite the write transaction already is the only one).
        await conn.execute(LOCK_DROP, keys)
        paid = (
            await conn.execute(
                PAID_BY_PAYER,
                {**keys, "id": row.id, "card": payer.card, "email": payer.email},
            )
        ).scalar_one()
        if int(paid) + row.quantity <= limit:
            return None
        outcome = (
            SettlementOutcome.OVER_LIMIT_REVIEW
            if breach is LimitBreach.REVIEW
            else SettlementOutcome.OVER_LIMIT
        )
        status = OrderStatus(row.status)
        if status is OrderStatus.NEEDS_REVIEW:
            went = {"id": row.id, "why": "%:over_limit"}
            if (await conn.execute(WENT_OVER_LIMIT, went)).first() is None:
                return None  # in review for another reason (no stock): decided as before
            return Settlement(to_order_view(row), outcome, again=True)  # reported again
        why = f"{cause}:over_limit"
        release = None
        if status in HOLDING:  # its units (if it held any) go back, to the waitlist first
            release = await self._release(conn, row.id, OrderStatus.NEEDS_REVIEW, why, now)
            await conn.execute(SET_PAYMENT_REF, {"id": row.id, "payment_ref": payment_ref})
        else:  # an expired or cancelled hold: its units went back when it ended
            params = {"id": row.id, "payment_ref": payment_ref, "now": now}
            await conn.execute(MARK_REVIEW, params)
            await record_transition(conn, row.id, status, OrderStatus.NEEDS_REVIEW, why, now)
        return Settlement(await order_view(conn, row.id), outcome, release)

    # orders ---------------------------------------------------------------------------

    async def customer_id(self, identity: str) -> int | None:
        async with connection(self.engine) as conn:
            found = (await conn.execute(SELECT_CUSTOMER, {"key": identity})).scalar()
        return None if found is None else int(found)

    async def orders(
        self, status: OrderStatus | None, customer_id: int | None, limit: int = 1000
    ) -> list[OrderView]:
        async with connection(self.engine) as conn:
            rows = (
                await conn.execute(
                    LIST_ORDERS, {"status": status, "customer_id": customer_id, "limit": limit}
                )
            ).all()
        return [to_order_view(r) for r in rows]

    async def order(self, ref: str) -> OrderView:
        async with connection(self.engine) as conn:
            row = (await conn.execute(FIND_ORDER_BY_REF, {"ref": ref.upper()})).first()
        if row is None:
            raise NotFound(f"no order {ref.upper()}")
        return to_order_view(row)

    async def latest_cancellable(
        self, customer_id: int, chat: str | None, code: str | None
    ) -> OrderView | None:
        async with connection(self.engine) as conn:
            row = (
                await conn.execute(
                    LATEST_CANCELLABLE, {"customer_id": customer_id, "chat": chat, "code": code}
                )
            ).first()
        return None if row is None else to_order_view(row)

    async def waitlist_places(self, customer_id: int, code: str | None) -> list[tuple[str, int]]:
        """The live drops whose waitlist the customer is in, with their place in each."""
        async with connection(self.engine) as conn:
            rows = (
                await conn.execute(WAITLIST_PLACES, {"customer_id": customer_id, "code": code})
            ).all()
        return [(r.code, int(r.place)) for r in rows]

    async def order_customer(self, ref: str) -> int:
        async with connection(self.engine) as conn:
            row = (await conn.execute(FIND_ORDER_BY_REF, {"ref": ref.upper()})).first()
        if row is None:
            raise NotFound(f"no order {ref.upper()}")
        return int(row.customer_id)

    async def history(self, ref: str) -> list[OrderEventView]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(ORDER_HISTORY, {"ref": ref.upper()})).all()
        return [OrderEventView(r.from_status, r.to_status, r.cause, utc(r.at)) for r in rows]

    # identities and sellers -----------------------------------------------------------

    async def link(self, identity: str, to_identity: str) -> None:
        """Joins `identity` to the customer of `to_identity` (both must have been seen)."""
        target = await self.customer_id(to_identity)
        if target is None:
            raise NotFound(f"{to_identity} has never bought anything")
        async with transaction(self.engine) as conn:
            await conn.execute(LINK_IDENTITY, {"key": identity, "customer_id": target})

    async def add_seller(self, identity: str, role: str, now: datetime) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(UPSERT_SELLER, {"identity": identity, "role": role, "now": now})

    async def restock(self, ref: str, now: datetime) -> list[ClaimResult]:
        """Puts a refunded order's units back on the shelf (the variant's stock); while its
        drop is live they go back to the drop too, and to its waitlist first."""
        async with transaction(self.engine) as conn:
            row = (await conn.execute(FIND_ORDER_BY_REF, {"ref": ref.upper()})).one()
            keys = {"drop_id": row.drop_id, "variant_id": row.variant_id, "q": row.quantity}
            await conn.execute(LOCK_DROP, keys)
            # On record: the show report counts a refund whose units came back as a return.
            await record_transition(conn, row.id, row.status, row.status, "restock", now)
            drop = (await conn.execute(SELECT_DROP, {"id": row.drop_id})).one()
            if drop.status != DropStatus.LIVE:
                await conn.execute(GIVE_TO_VARIANT, keys)
                return []
            await give_units(conn, keys)
            return await self._promote(conn, row.drop_id, now)

    async def seller_role(self, identity: str) -> str | None:
        async with connection(self.engine) as conn:
            role = (await conn.execute(SELECT_SELLER, {"identity": identity})).scalar()
        return None if role is None else str(role)


def _product_view(row: Any, variants: list[VariantView]) -> ProductView:
    return ProductView(
        sku=row.sku,
        name=row.name,
        price=Money(row.price_minor, row.currency),
        option=row.option,
        variants=tuple(variants),
        digital=bool(row.digital),
        ship_units=row.ship_units,
        image=row.image,
        description=row.description,
    )


def _label(labels: list[str], wanted: str, sku: str) -> str:
    for label in labels:
        if label.casefold() == wanted.strip().casefold():
            return label
    raise InvalidInput(f"{sku} has no variant '{wanted}'; it has {', '.join(labels) or 'none'}")


# The states of an order that has been paid (or whose payment is being refunded).
PAID_BEFORE = (
    PAID,
    OrderStatus.FULFILLED,
    OrderStatus.REFUNDED,
    OrderStatus.PARTIALLY_REFUNDED,
    OrderStatus.DISPUTED,
    OrderStatus.NEEDS_REVIEW,
)


def _second_payment(status: OrderStatus, paid_with: str | None, payment_ref: str) -> bool:
    """Another payment (not the same one reported again) for an order that is paid."""
    payments = ("pi_", "ch_")  # a session id stands in for a payment only when none is known
    return (
        status in PAID_BEFORE
        and paid_with is not None
        and paid_with != payment_ref
        and paid_with.startswith(payments)
        and payment_ref.startswith(payments)
    )
