"""SqlLedger: the payment side of orders (checkouts, webhook events, refunds, disputes)."""

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from commerce.adapters.db import connection, transaction
from commerce.adapters.payment_batch import pay_checkouts
from commerce.adapters.sql import (
    NEWEST_SHIP_TO,
    ORDER_COLUMNS,
    ORDER_FROM,
    SELECT_ORDER,
    order_view,
    record_transition,
    sql,
    to_order_view,
)
from commerce.domain.errors import NotFound
from commerce.domain.orders import HOLDING, REFUND_REVERTS, OrderStatus, can_move
from commerce.domain.payments import FAILED_REFUND
from commerce.service_layer.ports import CheckoutPaid, PaidCheckout
from commerce.service_layer.results import OrderView

S = OrderStatus

STORE_EVENT = sql(
    "INSERT INTO payment_event (id, type, payload, received_at, outcome, attempts, claimed_until)"
    " VALUES (:id, :type, :payload, :now, '', 0, :until) ON CONFLICT (id) DO NOTHING RETURNING id"
)
# A signed body that is no readable event: kept for inspection, processed at once (never
# applied). Its own id may be missing or unusable: it is kept under a digest of the body, so
# that a redelivery of the same body is one row.
INSERT_MALFORMED = sql(
    "INSERT INTO payment_event (id, type, payload, received_at, processed_at, outcome, attempts)"
    " VALUES (:id, 'malformed', :payload, :now, :now, :outcome, 0) ON CONFLICT (id) DO NOTHING"
)
CLAIM_EVENT = sql(
    "UPDATE payment_event SET claimed_until = :until WHERE id = :id AND processed_at IS NULL"
    " AND (claimed_until IS NULL OR claimed_until <= :now)"
)
MARK_EVENT = sql(
    "UPDATE payment_event SET processed_at = :now, outcome = :outcome, attempts = attempts + 1,"
    " claimed_until = NULL WHERE id = :id"
)
COUNT_ATTEMPT = sql(
    "UPDATE payment_event SET attempts = attempts + 1, outcome = :outcome, claimed_until = NULL"
    " WHERE id = :id"
)
PENDING_EVENTS = sql(
    "SELECT id, payload FROM payment_event WHERE processed_at IS NULL AND received_at <= :now"
    " AND attempts < 20 ORDER BY received_at LIMIT 100"
)
# An event naming an order not (yet) in the database: told to wait (Stripe retries, the
# re-processing pass too) while its first delivery is recent, without counting an attempt.
WAIT_FOR_ORDER = sql(
    "UPDATE payment_event SET outcome = :outcome, claimed_until = NULL"
    " WHERE id = :id AND received_at > :since"
)
DEAD_LETTER = "dead letter: "  # the outcome of an event kept for reconciliation to retry
DEAD_LETTERS = sql(
    "SELECT id, payload FROM payment_event WHERE outcome LIKE 'dead letter: %'"
    " AND received_at >= :since ORDER BY received_at LIMIT 100"
)
EVENT_CLAIM = timedelta(seconds=60)  # longer than any processing; a dead worker's runs out
FIND_ORDER = sql(
    "SELECT id FROM orders WHERE ref = :ref OR checkout_session = :session"
    " OR payment_ref = :payment ORDER BY id LIMIT 1"
)
LOCK_ORDER = sql("UPDATE orders SET updated_at = :now WHERE id = :id")
SET_LINK = sql("UPDATE orders SET checkout_url = :url, updated_at = :now WHERE id = :id")
SET_SESSION = sql(
    "UPDATE orders SET checkout_session = :session, updated_at = :now WHERE id = :id"
)
SET_STATUS = sql("UPDATE orders SET status = :to_status, updated_at = :now WHERE id = :id")
SET_REFUNDED = sql(
    "UPDATE orders SET refunded_minor = :refunded, payment_ref = COALESCE(payment_ref, :payment)"
    " WHERE id = :id"
)
# Each refund once, by its id; a failed one stays failed whatever is reported after.
UPSERT_REFUND = sql(
    "INSERT INTO payment_refund (id, order_id, amount_minor, status, updated_at)"
    " VALUES (:id, :order_id, :amount, :status, :now) ON CONFLICT (id) DO UPDATE"
    " SET amount_minor = excluded.amount_minor, status = excluded.status,"
    " updated_at = excluded.updated_at WHERE payment_refund.status NOT IN ('failed', 'canceled')"
)
REFUND_STATUS = sql("SELECT status FROM payment_refund WHERE id = :id")
REFUND_SUMS = sql(
    "SELECT COALESCE(SUM(CASE WHEN status IN ('failed', 'canceled') THEN 0"
    " ELSE amount_minor END), 0) AS live, COALESCE(SUM(CASE WHEN status IN ('failed',"
    " 'canceled') THEN amount_minor ELSE 0 END), 0) AS failed"
    " FROM payment_refund WHERE order_id = :order_id"
)
SET_REFUNDED_TOTAL = sql("UPDATE orders SET refunded_minor = :refunded WHERE id = :id")
FLAG_BUYER = sql("UPDATE customer SET disputes = disputes + 1 WHERE id = :id")
SET_DISPUTE = sql("UPDATE orders SET dispute = :dispute WHERE id = :id")
# Two addresses of one buyer recorded at once: the second waits here, so that its choice of
# the newest sees the first. A no-op update locks the row on both databases (as LOCK_DROP).
# Order first, then its customer: the order the webhooks' batch path takes them in
# (payment_batch.py). The other way round, a buyer back from Checkout (check_payment) and
# the webhook of that payment deadlocked on PostgreSQL.
LOCK_ORDER_BY_REF = sql("UPDATE orders SET ship_to = ship_to WHERE ref = :ref")
LOCK_CUSTOMER_OF = sql(
    "UPDATE customer SET ship_to = ship_to"
    " WHERE id = (SELECT customer_id FROM orders WHERE ref = :ref)"
)
SET_SHIP_TO = sql(
    "UPDATE orders SET ship_to = :ship_to, updated_at = :now WHERE ref = :ref AND ship_to IS NULL"
)
# The address of the buyer's newest order that has one is where their next one-message buy
# goes: by when the orders were made, not when their webhooks came (a late redelivery of an
# older one does not bring an old address back).
REMEMBER_SHIP_TO = sql(
    f"UPDATE customer SET ship_to = ({NEWEST_SHIP_TO.format(customer='customer.id')})"
    " WHERE id = (SELECT customer_id FROM orders WHERE ref = :ref)"
)
AWAIT_ASYNC = sql(
    "UPDATE orders SET hold_expires_at = NULL, payment_ref = COALESCE(payment_ref, :payment),"
    " payment_pending_since = COALESCE(payment_pending_since, :now) WHERE id = :id"
)
PAYMENT_CUSTOMER = sql(
    "SELECT c.payment_customer FROM customer c JOIN identity i ON i.customer_id = c.id"
    " WHERE i.key = :identity"
)
SET_PAYMENT_CUSTOMER = sql(
    "UPDATE customer SET payment_customer = :customer WHERE payment_customer IS NULL"
    " AND id = (SELECT customer_id FROM orders WHERE id = :id)"
)
# Recent checkouts, and every delayed payment still under way however old (until its wait
# ends); none whose last question to the provider failed and waits for its next try.
TO_RECONCILE = sql(
    f"SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE ("
    " o.checkout_session IS NOT NULL AND o.created_at >= :since"
    " AND o.status IN ('reserved', 'checkout_open', 'expired', 'cancelled', 'needs_review')"
    " OR o.payment_pending_since IS NOT NULL AND o.status IN ('reserved', 'checkout_open'))"
    " AND (o.payment_retry_at IS NULL OR o.payment_retry_at <= :at) ORDER BY o.id"
)
AWAITING_CHECKOUT = sql(
    f"SELECT {ORDER_COLUMNS} {ORDER_FROM} WHERE o.status = 'reserved'"
    " AND o.checkout_session IS NULL AND o.created_at <= :now"
    # one-message buys are confirmed and charged, promo drops paid by the message
    " AND o.confirm_until IS NULL AND o.charge_attempt IS NULL AND NOT d.promo"
    " ORDER BY o.id LIMIT 50"
)

CALL_FAILED = sql(
    "UPDATE orders SET payment_attempts = payment_attempts + 1 WHERE id = :id"
    " RETURNING payment_attempts"
)
RETRY_AT = sql("UPDATE orders SET payment_retry_at = :at WHERE id = :id")
CALL_OK = sql(
    "UPDATE orders SET payment_attempts = 0, payment_retry_at = NULL"
    " WHERE ref = :ref AND (payment_attempts > 0 OR payment_retry_at IS NOT NULL)"
)


class SqlLedger:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # webhook events: stored first, processed idempotently ------------------------------

    async def store_event(self, event_id: str, type_: str, payload: str, now: datetime) -> bool:
        """Stores an event once and claims it for processing; True when another delivery
        has it already (processed, or being processed by another worker right now). A new
        event is stored and claimed by one statement; a known one is claimed if nobody
        holds it and it is not processed yet (a retry after a failure)."""
        params = {
            "id": event_id, "type": type_, "payload": payload, "now": now,
            "until": now + EVENT_CLAIM,
        }  # fmt: skip
        async with transaction(self.engine) as conn:
            if (await conn.execute(STORE_EVENT, params)).first() is not None:
                return False
            return not (await conn.execute(CLAIM_EVENT, params)).rowcount

    async def pay_checkouts(
        self, payments: list[PaidCheckout], now: datetime, check_card: bool
    ) -> list[CheckoutPaid]:
        """Paid Checkouts in one call to the driver (adapters/payment_batch.py)."""
        async with transaction(self.engine) as conn:
            return await pay_checkouts(conn, payments, now, check_card)

    async def store_malformed(self, payload: bytes, reason: str, now: datetime) -> str:
        """Keeps a signed body that is not a readable event; returns the key it is kept
        under ("malformed_" and a digest of the body)."""
        key = "malformed_" + hashlib.sha256(payload).hexdigest()[:40]
        # A signed body is UTF-8 (verified), but PostgreSQL's text takes no NUL character.
        text = payload.decode("utf-8", "replace").replace("\x00", "\ufffd")
        params = {"id": key, "payload": text, "now": now, "outcome": f"malformed: {reason}"[:200]}
        async with transaction(self.engine) as conn:
            await conn.execute(INSERT_MALFORMED, params)
        return key

    async def claim_event(self, event_id: str, now: datetime) -> bool:
        """Takes an unprocessed event for processing, unless another delivery holds it."""
        params = {"id": event_id, "now": now, "until": now + EVENT_CLAIM}
        async with transaction(self.engine) as conn:
            return bool((await conn.execute(CLAIM_EVENT, params)).rowcount)

    async def mark_event(self, event_id: str, outcome: str, now: datetime, done: bool) -> None:
        async with transaction(self.engine) as conn:
            statement = MARK_EVENT if done else COUNT_ATTEMPT
            await conn.execute(statement, {"id": event_id, "outcome": outcome[:200], "now": now})

    async def wait_for_order(self, event_id: str, outcome: str, received_since: datetime) -> bool:
        """Leaves an event for a retry while it was first received after `received_since`;
        False once that window has passed."""
        params = {"id": event_id, "outcome": outcome[:200], "since": received_since}
        async with transaction(self.engine) as conn:
            return bool((await conn.execute(WAIT_FOR_ORDER, params)).rowcount)

    async def dead_letter(self, event_id: str, reason: str, now: datetime) -> None:
        """Done with for now (answered 2xx), kept for reconciliation to retry."""
        await self.mark_event(event_id, DEAD_LETTER + reason, now, True)

    async def dead_letters(self, received_since: datetime) -> list[tuple[str, str]]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(DEAD_LETTERS, {"since": received_since})).all()
        return [(r.id, r.payload) for r in rows]

    async def pending_events(self, received_before: datetime) -> list[tuple[str, str]]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(PENDING_EVENTS, {"now": received_before})).all()
        return [(r.id, r.payload) for r in rows]

    # orders -----------------------------------------------------------------------------

    async def find_order(
        self, ref: str | None, session: str | None, payment: str | None
    ) -> OrderView | None:
        async with connection(self.engine) as conn:
            params = {"ref": (ref or "").upper() or None, "session": session, "payment": payment}
            order_id = (await conn.execute(FIND_ORDER, params)).scalar()
            return None if order_id is None else await order_view(conn, order_id)

    async def link_handed_out(self, ref: str, url: str, cause: str, now: datetime) -> OrderView:
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            await conn.execute(SET_LINK, {"id": row.id, "url": url, "now": now})
            if row.status == S.RESERVED:
                await self._move(conn, row, S.CHECKOUT_OPEN, cause, now)
            return await order_view(conn, row.id)

    async def session_opened(self, ref: str, session: str, now: datetime) -> OrderView:
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            await conn.execute(SET_SESSION, {"id": row.id, "session": session, "now": now})
            return await order_view(conn, row.id)

    async def awaiting_checkout(self, created_before: datetime) -> list[OrderView]:
        async with connection(self.engine) as conn:
            rows = (await conn.execute(AWAITING_CHECKOUT, {"now": created_before})).all()
        return [to_order_view(r) for r in rows]

    async def await_async_payment(self, ref: str, payment: str | None, now: datetime) -> None:
        """A delayed payment method (SEPA, ...) is under way: the hold must not expire; the
        wait for it counts from its first report."""
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            await conn.execute(AWAIT_ASYNC, {"id": row.id, "payment": payment, "now": now})

    # background calls to the provider: backoff and give-up, per order --------------------

    async def payment_call_failed(
        self, ref: str, now: datetime, delay: Callable[[int], timedelta]
    ) -> int:
        """Counts a failed call for the order and keeps every worker from calling again
        before `now + delay(attempts)`; returns the attempts so far."""
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            attempts = int((await conn.execute(CALL_FAILED, {"id": row.id})).scalar_one())
            await conn.execute(RETRY_AT, {"id": row.id, "at": now + delay(attempts)})
            return attempts

    async def payment_call_ok(self, ref: str) -> None:
        """A call for the order went through: the next failure starts the backoff anew."""
        async with transaction(self.engine) as conn:
            await conn.execute(CALL_OK, {"ref": ref.upper()})

    async def give_up_payment_call(
        self, ref: str, cause: str, now: datetime, until: datetime
    ) -> OrderView | None:
        """The provider refused a call for good: no worker makes it again before `until`,
        the refusal goes into the order's history, and an order still open goes to review
        (returned; None when the order was closed already and stays as it is)."""
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            await conn.execute(CALL_FAILED, {"id": row.id})
            await conn.execute(RETRY_AT, {"id": row.id, "at": until})
            status = S(row.status)
            if status in HOLDING and can_move(status, S.NEEDS_REVIEW):
                await self._move(conn, row, S.NEEDS_REVIEW, cause, now)
                return await order_view(conn, row.id)
            await record_transition(conn, row.id, row.status, row.status, cause, now)
            return None

    async def payment_customer(self, identity: str) -> str | None:
        async with connection(self.engine) as conn:
            found = (await conn.execute(PAYMENT_CUSTOMER, {"identity": identity})).scalar()
        return None if found is None else str(found)

    async def remember_payment_customer(self, ref: str, customer: str) -> None:
        async with transaction(self.engine) as conn:
            row = (
                await conn.execute(FIND_ORDER, {"ref": ref, "session": None, "payment": None})
            ).first()
            if row is not None:
                await conn.execute(SET_PAYMENT_CUSTOMER, {"id": row.id, "customer": customer})

    async def record_refund(
        self,
        ref: str,
        refunded_total: int,
        payment: str | None,
        cause: str,
        now: datetime,
        refunds: tuple[tuple[str, int, str], ...] = (),
    ) -> OrderView:
        """Keeps the highest refunded total seen (events repeat and reorder) and moves a paid
        order to refunded or partially_refunded; an unpaid one keeps it for later. Refunds
        known to have failed never count again (a report from before the failure)."""
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            for refund_id, amount, status in refunds:
                await self._upsert_refund(conn, row.id, refund_id, amount, status, now)
            sums = (await conn.execute(REFUND_SUMS, {"order_id": row.id})).one()
            total = max(row.refunded_minor, refunded_total - sums.failed, sums.live)
            await conn.execute(SET_REFUNDED, {"id": row.id, "refunded": total, "payment": payment})
            await self._apply_refund(conn, row.id, cause, now, total > row.refunded_minor)
            return await order_view(conn, row.id)

    async def refund_changed(
        self,
        ref: str,
        refund_id: str,
        amount: int,
        status: str,
        payment: str | None,
        cause: str,
        now: datetime,
    ) -> tuple[OrderView, bool]:
        """One refund reported by its id (counted once, however many events report it). A
        refund that failed is taken back once: the refunded total shrinks by it and a
        refunded order is paid again (partially_refunded by what the others left); the
        second value says whether this report was that failure."""
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            before = (await conn.execute(REFUND_STATUS, {"id": refund_id})).scalar()
            await self._upsert_refund(conn, row.id, refund_id, amount, status, now)
            if status not in FAILED_REFUND:
                sums = (await conn.execute(REFUND_SUMS, {"order_id": row.id})).one()
                total = max(row.refunded_minor, sums.live)
                await conn.execute(
                    SET_REFUNDED, {"id": row.id, "refunded": total, "payment": payment}
                )
                await self._apply_refund(conn, row.id, cause, now, total > row.refunded_minor)
                return await order_view(conn, row.id), False
            if before in FAILED_REFUND:
                return await order_view(conn, row.id), False  # its failure is known already
            total = max(0, row.refunded_minor - amount)
            await conn.execute(SET_REFUNDED_TOTAL, {"id": row.id, "refunded": total})
            current = S(row.status)
            back = S.PAID if total == 0 else S.PARTIALLY_REFUNDED
            if back in REFUND_REVERTS.get(current, frozenset()):
                await self._move(conn, row, back, f"{cause}:refund_failed", now)
            else:  # not refunded yet (or disputed, ...): the failure is on record all the same
                await record_transition(
                    conn, row.id, current, current, f"{cause}:refund_failed", now
                )
            return await order_view(conn, row.id), True

    async def _upsert_refund(
        self,
        conn: AsyncConnection,
        order_id: int,
        refund_id: str,
        amount: int,
        status: str,
        now: datetime,
    ) -> None:
        params = {
            "id": refund_id,
            "order_id": order_id,
            "amount": amount,
            "status": status[:20],
            "now": now,
        }
        await conn.execute(UPSERT_REFUND, params)

    async def record_dispute(self, ref: str, state: str, cause: str, now: datetime) -> OrderView:
        """`state`: open, won or lost. Applied at once to a paid order, else once paid."""
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            if row.dispute in ("won", "lost") and state == "open":
                state = row.dispute  # a late "created" never reopens a closed dispute
            if row.dispute is None:  # the first word of this dispute flags the buyer
                await conn.execute(FLAG_BUYER, {"id": row.customer_id})
            await conn.execute(SET_DISPUTE, {"id": row.id, "dispute": state})
            await self._apply_dispute(conn, row.id, cause, now)
            return await order_view(conn, row.id)

    async def apply_pending(self, ref: str, cause: str, now: datetime) -> OrderView:
        """After a payment: refunds and disputes that were reported before it take effect."""
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            await self._apply_dispute(conn, row.id, cause, now)
            await self._apply_refund(conn, row.id, cause, now, grew=False)
            return await order_view(conn, row.id)

    async def transition(
        self, ref: str, to: OrderStatus, cause: str, now: datetime
    ) -> OrderView | None:
        """Moves an order if the transition table allows it; None (and no change) if not."""
        async with transaction(self.engine) as conn:
            row = await self._locked(conn, ref, now)
            if not can_move(S(row.status), to):
                return None
            await self._move(conn, row, to, cause, now)
            return await order_view(conn, row.id)

    async def record_ship_to(self, ref: str, ship_to: str, now: datetime) -> None:
        """The first address wins: one conditional update, so a redelivered webhook or a
        concurrent one never replaces it."""
        async with transaction(self.engine) as conn:
            params = {"ref": ref.upper(), "ship_to": ship_to, "now": now}
            await conn.execute(LOCK_ORDER_BY_REF, params)
            await conn.execute(LOCK_CUSTOMER_OF, params)
            if (await conn.execute(SET_SHIP_TO, params)).rowcount == 1:
                await conn.execute(REMEMBER_SHIP_TO, params)

    async def to_reconcile(self, since: datetime, now: datetime | None = None) -> list[OrderView]:
        """Checkouts made since `since` and delayed payments under way, except those whose
        last question to the provider failed and waits beyond `now` for its next try."""
        params = {"since": since, "at": now or since}
        async with connection(self.engine) as conn:
            rows = (await conn.execute(TO_RECONCILE, params)).all()
        return [to_order_view(r) for r in rows]

    # internals ----------------------------------------------------------------------------

    async def _locked(self, conn: AsyncConnection, ref: str, now: datetime) -> Any:
        """The order's row, locked for the rest of the transaction."""
        params = {"ref": ref.upper(), "session": None, "payment": None}
        order_id = (await conn.execute(FIND_ORDER, params)).scalar()
        if order_id is None:
            raise NotFound(f"no order {ref.upper()}")
        await conn.execute(LOCK_ORDER, {"id": order_id, "now": now})
        return (await conn.execute(SELECT_ORDER, {"id": order_id})).one()

    async def _move(
        self, conn: AsyncConnection, row: Any, to: OrderStatus, cause: str, now: datetime
    ) -> Any:
        await conn.execute(SET_STATUS, {"id": row.id, "to_status": to.value, "now": now})
        await record_transition(conn, row.id, row.status, to, cause, now)
        return (await conn.execute(SELECT_ORDER, {"id": row.id})).one()

    async def _apply_refund(
        self, conn: AsyncConnection, order_id: int, cause: str, now: datetime, grew: bool
    ) -> None:
        row = (await conn.execute(SELECT_ORDER, {"id": order_id})).one()
        status = S(row.status)
        if row.refunded_minor <= 0 or status not in REFUNDABLE:
            return  # nothing refunded, or not paid yet: kept until the payment arrives
        to = S.REFUNDED if row.refunded_minor >= row.amount_minor else S.PARTIALLY_REFUNDED
        if can_move(status, to) and (status is not to or grew):
            await self._move(conn, row, to, cause, now)

    async def _apply_dispute(
        self, conn: AsyncConnection, order_id: int, cause: str, now: datetime
    ) -> None:
        row = (await conn.execute(SELECT_ORDER, {"id": order_id})).one()
        if row.dispute is None:
            return
        if row.dispute in ("open", "lost") and S(row.status) in DISPUTABLE:
            row = await self._move(conn, row, S.DISPUTED, cause, now)
        if row.dispute in ("won", "lost") and S(row.status) is S.DISPUTED:
            await self._move(conn, row, S.PAID if row.dispute == "won" else S.REFUNDED, cause, now)


# States in which a refund or a dispute reported earlier can take effect.
REFUNDABLE = frozenset({S.PAID, S.FULFILLED, S.PARTIALLY_REFUNDED, S.NEEDS_REVIEW})
DISPUTABLE = frozenset({S.PAID, S.FULFILLED, S.PARTIALLY_REFUNDED})
