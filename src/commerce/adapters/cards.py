"""SqlCards: saved cards, linked identities and the confirm step of one-message buying.

A customer is what the shop knows as one buyer; identities (telegram:1, discord:2, web:anna)
point at it. Linking moves every row of one customer to the other in one transaction, so
the card, the order history and the per-buyer limits are shared from then on.
"""

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.claim_batch import resolve_customers
from commerce.adapters.claims import LOCK_DROP
from commerce.adapters.db import connection, transaction
from commerce.adapters.shipping import merge_bundles
from commerce.adapters.sql import (
    NEWEST_SHIP_TO,
    ORDER_COLUMNS,
    ORDER_FROM,
    order_view,
    record_transition,
    sql,
    to_order_view,
    utc,
)
from commerce.domain.errors import InvalidInput, NotFound
from commerce.service_layer.ports import Linked, SavedCard
from commerce.service_layer.results import OrderView

# No 0/O, 1/I/L: codes are read on one screen and typed on another.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
# Longer than the gateway's timeout with its retries: the hold outlives the charge's answer.
CHARGE_TIME = timedelta(minutes=3)

CUSTOMER_OF = sql("SELECT customer_id FROM identity WHERE key = :identity")
CARD_OF = sql(
    "SELECT s.payment_customer, s.payment_method, s.brand, s.last4, s.fingerprint"
    " FROM saved_card s"
    " JOIN identity i ON i.customer_id = s.customer_id WHERE i.key = :identity"
)
CARD_OF_CUSTOMER = sql(
    "SELECT payment_customer, payment_method, brand, last4, fingerprint FROM saved_card"
    " WHERE customer_id = :customer_id"
)
SAVE_CARD = sql(
    "INSERT INTO saved_card (customer_id, payment_customer, payment_method, brand, last4,"
    " fingerprint, saved_at) VALUES (:customer_id, :payment_customer, :payment_method, :brand,"
    " :last4, :fingerprint, :now) ON CONFLICT (customer_id) DO UPDATE SET"
    " payment_customer = excluded.payment_customer, payment_method = excluded.payment_method,"
    " brand = excluded.brand, last4 = excluded.last4, fingerprint = excluded.fingerprint,"
    " saved_at = excluded.saved_at"
)
REMEMBER_CUSTOMER = sql(
    "UPDATE customer SET payment_customer = :payment_customer WHERE id = :customer_id"
)
FORGET_CARD = sql("DELETE FROM saved_card WHERE customer_id = :customer_id")
SHIP_TO_OF = sql(
    "SELECT c.ship_to FROM customer c JOIN identity i ON i.customer_id = c.id"
    " WHERE i.key = :identity"
)
TRUSTED = sql(
    "SELECT 1 FROM orders o JOIN identity i ON i.customer_id = o.customer_id"
    " WHERE i.key = :identity AND o.status IN ('paid', 'fulfilled') LIMIT 1"
)
NEW_CODE = sql(
    "INSERT INTO link_code (code, customer_id, identity, expires_at)"
    " VALUES (:code, :customer_id, :identity, :until)"
)
FIND_CODE = sql(
    "SELECT customer_id, identity, expires_at, used_by FROM link_code WHERE code = :code"
)
USE_CODE = sql("UPDATE link_code SET used_by = :identity WHERE code = :code AND used_by IS NULL")
IDENTITIES = sql("SELECT key FROM identity WHERE customer_id = :customer_id ORDER BY key")

DROPS_OF = sql(
    "SELECT DISTINCT drop_id FROM drop_buyer WHERE customer_id IN (:a, :b) ORDER BY drop_id"
)
# Everything of customer :b becomes customer :a's. Per-drop unit counts add up, so a
# per-buyer limit counts what both identities bought.
MERGE = [
    sql(
        "UPDATE drop_buyer SET units = units + (SELECT b.units FROM drop_buyer b"
        " WHERE b.customer_id = :b AND b.drop_id = drop_buyer.drop_id)"
        " WHERE customer_id = :a"
        " AND drop_id IN (SELECT drop_id FROM drop_buyer WHERE customer_id = :b)"
    ),
    sql(
        "DELETE FROM drop_buyer WHERE customer_id = :b"
        " AND drop_id IN (SELECT drop_id FROM drop_buyer WHERE customer_id = :a)"
    ),
    sql("UPDATE drop_buyer SET customer_id = :a WHERE customer_id = :b"),
    sql("UPDATE identity SET customer_id = :a WHERE customer_id = :b"),
    sql("UPDATE claim SET customer_id = :a WHERE customer_id = :b"),
    sql("UPDATE orders SET customer_id = :a WHERE customer_id = :b"),
    sql("UPDATE bid SET customer_id = :a WHERE customer_id = :b"),
    sql("UPDATE strike SET customer_id = :a WHERE customer_id = :b"),
    sql("UPDATE auction SET leader_customer_id = :a WHERE leader_customer_id = :b"),
    sql("UPDATE link_code SET customer_id = :a WHERE customer_id = :b"),
    # One entry and one vote per person: someone who entered a live giveaway (or voted)
    # with both identities keeps the first identity's; drawn giveaways keep their record.
    sql(
        "DELETE FROM giveaway_entry WHERE customer_id = :b AND giveaway_id IN ("
        " SELECT e.giveaway_id FROM giveaway_entry e JOIN giveaway g ON g.id = e.giveaway_id"
        " WHERE e.customer_id = :a AND g.status = 'live')"
    ),
    sql(
        "UPDATE giveaway_entry SET customer_id = :a WHERE customer_id = :b AND giveaway_id"
        " NOT IN (SELECT giveaway_id FROM giveaway_entry WHERE customer_id = :a)"
    ),
    sql(
        "DELETE FROM poll_vote WHERE customer_id = :b AND poll_id IN ("
        " SELECT v.poll_id FROM poll_vote v JOIN poll p ON p.id = v.poll_id"
        " WHERE v.customer_id = :a AND p.status = 'live')"
    ),
    sql(
        "UPDATE poll_vote SET customer_id = :a WHERE customer_id = :b"
        " AND poll_id NOT IN (SELECT poll_id FROM poll_vote WHERE customer_id = :a)"
    ),
    # The card of the code's owner wins; the other's is kept only if they had none.
    sql(
        "UPDATE saved_card SET customer_id = :a WHERE customer_id = :b"
        " AND NOT EXISTS (SELECT 1 FROM saved_card s WHERE s.customer_id = :a)"
    ),
    sql("DELETE FROM saved_card WHERE customer_id = :b"),
    sql(
        "UPDATE customer SET disputes = disputes + (SELECT c.disputes FROM customer c"
        " WHERE c.id = :b), payment_customer = COALESCE(payment_customer,"
        " (SELECT c.payment_customer FROM customer c WHERE c.id = :b)),"
        # Both buyers' orders are :a's now: the newest one's address, as if one buyer.
        f" ship_to = COALESCE(({NEWEST_SHIP_TO.format(customer=':a')}), ship_to,"
        " (SELECT c.ship_to FROM customer c WHERE c.id = :b))"
        " WHERE id = :a"
    ),
    sql("DELETE FROM customer WHERE id = :b"),
]

ASK_CONFIRM = sql(
    "UPDATE orders SET confirm_until = :until, hold_expires_at = :until,"
    " charge_attempt = NULL, updated_at = :now WHERE ref = :ref AND status = 'reserved'"
    " RETURNING id"
)
AWAITING_CONFIRM = sql(
    f"SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE o.status = 'reserved'"
    " AND o.confirm_until IS NOT NULL AND (:ref IS NULL OR o.ref = :ref)"
    " AND o.customer_id = (SELECT customer_id FROM identity WHERE key = :identity)"
    " ORDER BY o.id DESC LIMIT 1"
)
# A double tap, or a confirm racing a timeout: one caller takes the charge.
START_CHARGE = sql(
    "UPDATE orders SET charge_attempt = 'pending', confirm_until = NULL, updated_at = :now,"
    " ship_to = :ship_to,"  # the buyer's address goes with the charge
    # The sweeper must not give the units away while Stripe answers (retries included).
    " hold_expires_at = CASE WHEN hold_expires_at < :until THEN :until ELSE hold_expires_at END"
    " WHERE ref = :ref AND status = 'reserved' AND charge_attempt IS NULL"
    " AND checkout_session IS NULL AND hold_expires_at > :now"
)
CHARGE_STARTED = sql(
    "UPDATE orders SET charge_attempt = :payment, payment_ref = :payment, updated_at = :now"
    " WHERE ref = :ref AND status = 'reserved' AND charge_attempt = 'pending'"
)
# The provider's answer and its webhook may both report a failure: the first one counts.
CHARGE_FAILED = sql(
    # The link's Checkout page asks for the address again.
    "UPDATE orders SET charge_attempt = NULL, confirm_until = NULL, payment_ref = NULL,"
    " ship_to = NULL,"
    " hold_expires_at = :until, updated_at = :now WHERE ref = :ref AND status = 'reserved'"
    " AND charge_attempt IN ('pending', :payment) RETURNING id"
)


class SqlCards:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def card(self, identity: str) -> SavedCard | None:
        async with connection(self.engine) as conn:
            row = (await conn.execute(CARD_OF, {"identity": identity})).first()
        return _card(row)

    async def save_card(self, identity: str, card: SavedCard, now: datetime) -> None:
        async with transaction(self.engine) as conn:
            customer_id = await _customer(conn, identity, now)
            await conn.execute(
                SAVE_CARD,
                {
                    "customer_id": customer_id,
                    "payment_customer": card.payment_customer,
                    "payment_method": card.payment_method,
                    "brand": card.brand[:20],
                    "last4": card.last4[-4:],
                    "fingerprint": card.fingerprint,
                    "now": now,
                },
            )
            keys = {"customer_id": customer_id, "payment_customer": card.payment_customer}
            await conn.execute(REMEMBER_CUSTOMER, keys)

    async def forget_card(self, identity: str) -> SavedCard | None:
        async with transaction(self.engine) as conn:
            customer_id = (await conn.execute(CUSTOMER_OF, {"identity": identity})).scalar()
            if customer_id is None:
                return None
            keys = {"customer_id": customer_id}
            card = _card((await conn.execute(CARD_OF_CUSTOMER, keys)).first())
            await conn.execute(FORGET_CARD, keys)
        return card

    async def trusted(self, identity: str) -> bool:
        async with connection(self.engine) as conn:
            return (await conn.execute(TRUSTED, {"identity": identity})).first() is not None

    async def issue_code(self, identity: str, now: datetime, ttl: timedelta) -> str:
        async with transaction(self.engine) as conn:
            customer_id = await _customer(conn, identity, now)
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            keys = {"code": code, "customer_id": customer_id, "identity": identity}
            await conn.execute(NEW_CODE, {**keys, "until": now + ttl})
        return code

    async def redeem_code(self, identity: str, code: str, now: datetime) -> Linked:
        code = code.strip().upper()
        async with transaction(self.engine) as conn:
            found = (await conn.execute(FIND_CODE, {"code": code})).first()
            if found is None:
                raise InvalidInput("no such code; type /link in a private chat to get one")
            if found.identity == identity:
                raise InvalidInput("type this code on your other platform, not here")
            if found.used_by is not None:
                raise InvalidInput("this code was used already; type /link for a new one")
            if utc(found.expires_at) <= now:
                raise InvalidInput("this code has expired; type /link for a new one")
            if (await conn.execute(USE_CODE, {"code": code, "identity": identity})).rowcount != 1:
                raise InvalidInput("this code was used already; type /link for a new one")
            return await _join(conn, int(found.customer_id), identity, now)

    async def join(self, account: str, identity: str, now: datetime) -> Linked:
        async with transaction(self.engine) as conn:
            return await _join(conn, await _customer(conn, account, now), identity, now)

    async def ask_confirm(self, ref: str, until: datetime, now: datetime) -> OrderView:
        async with transaction(self.engine) as conn:
            found = await conn.execute(ASK_CONFIRM, {"ref": ref, "until": until, "now": now})
            order_id = found.scalar()
            if order_id is None:
                raise NotFound(f"order {ref} is not waiting for a payment")
            await record_transition(conn, order_id, "reserved", "reserved", "confirm:asked", now)
            return await order_view(conn, order_id)

    async def awaiting_confirm(self, identity: str, ref: str | None) -> OrderView | None:
        async with connection(self.engine) as conn:
            keys = {"identity": identity, "ref": ref.upper() if ref else None}
            row = (await conn.execute(AWAITING_CONFIRM, keys)).first()
        return None if row is None else to_order_view(row)

    async def ship_to(self, identity: str) -> str | None:
        async with connection(self.engine) as conn:
            found = (await conn.execute(SHIP_TO_OF, {"identity": identity})).scalar()
        return str(found) if found else None

    async def start_charge(self, ref: str, now: datetime, ship_to: str | None = None) -> bool:
        async with transaction(self.engine) as conn:
            keys = {"ref": ref, "now": now, "until": now + CHARGE_TIME, "ship_to": ship_to}
            result = await conn.execute(START_CHARGE, keys)
        return bool(result.rowcount == 1)

    async def charge_started(self, ref: str, payment: str, now: datetime) -> None:
        async with transaction(self.engine) as conn:
            await conn.execute(CHARGE_STARTED, {"ref": ref, "payment": payment, "now": now})

    async def charge_failed(
        self, ref: str, payment: str | None, hold: datetime, cause: str, now: datetime
    ) -> OrderView | None:
        async with transaction(self.engine) as conn:
            keys = {"ref": ref, "payment": payment or "pending", "until": hold, "now": now}
            order_id = (await conn.execute(CHARGE_FAILED, keys)).scalar()
            if order_id is None:
                return None
            await record_transition(conn, order_id, "reserved", "reserved", cause, now)
            return await order_view(conn, order_id)


async def _join(conn: AsyncConnection, owner: int, identity: str, now: datetime) -> Linked:
    """Moves everything of `identity`'s customer to customer `owner` (/link and sign-in)."""
    mine = await _customer(conn, identity, now)
    if mine != owner:
        # Claims of either customer wait (drops locked in id order, as the claim
        # writer does): a limit counts both once merged, never one while merging.
        for drop_id in (await conn.execute(DROPS_OF, {"a": owner, "b": mine})).scalars():
            await conn.execute(LOCK_DROP, {"drop_id": drop_id})
        # Packages first: the merged customer's row goes at the end of MERGE.
        await merge_bundles(conn, owner, mine)
        for statement in MERGE:
            await conn.execute(statement, {"a": owner, "b": mine})
    keys = {"customer_id": owner}
    identities = (await conn.execute(IDENTITIES, keys)).scalars().all()
    card = _card((await conn.execute(CARD_OF_CUSTOMER, keys)).first())
    return Linked(tuple(identities), card)


async def _customer(conn: AsyncConnection, identity: str, now: datetime) -> int:
    """The identity's customer, created as the claim writer creates a new buyer's."""
    return (await resolve_customers(conn, {identity: ""}, now))[identity]


def _card(row: Any) -> SavedCard | None:
    if row is None:
        return None
    return SavedCard(
        row.payment_customer, row.payment_method, row.brand, row.last4, row.fingerprint
    )
