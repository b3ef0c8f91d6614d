"""The raw baseline of `livebuy bench webhook`: a bare aiohttp handler that verifies the
signature and, in one transaction, stores the event once (`INSERT ... ON CONFLICT DO NOTHING
RETURNING`) and pays the order (a guarded UPDATE, its history row, the event marked
processed), on the product's own schema. SQLite: one plain sqlite3 connection in a thread of
its own (one thread hop per event); PostgreSQL: an asyncpg pool."""

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import asyncpg
import stripe
from aiohttp import web

STORE = (
    "INSERT INTO payment_event (id, type, payload, received_at, outcome, attempts)"
    " VALUES ($1, $2, $3, $4, '', 0) ON CONFLICT (id) DO NOTHING RETURNING id"
)
PAY = (
    "UPDATE orders SET status = 'paid', paid_at = $1, payment_ref = $2, checkout_session = $3,"
    " holds_stock = holds_stock, updated_at = $1"
    " WHERE ref = $4 AND status IN ('reserved', 'checkout_open') RETURNING id, status"
)
HISTORY = (
    "INSERT INTO order_event (order_id, from_status, to_status, cause, at)"
    " VALUES ($1, 'reserved', 'paid', $2, $3)"
)
MARK = "UPDATE payment_event SET processed_at = $1, outcome = $2, attempts = 1 WHERE id = $3"


def _qmark(statement: str) -> str:
    """$1 ... $n (asyncpg) as ?1 ... ?n (sqlite3's numbered parameters)."""
    return statement.replace("$", "?")


def _sqlite_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _pay_sqlite(db: sqlite3.Connection, event: dict[str, Any], body: str) -> str:
    now = _sqlite_time(datetime.now(UTC))
    session = event["data"]["object"]
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute(_qmark(STORE), (event["id"], event["type"], body, now)).fetchone() is None:
            db.execute("ROLLBACK")
            return "duplicate"
        paid = db.execute(
            _qmark(PAY),
            (now, session["payment_intent"], session["id"], session["client_reference_id"]),
        ).fetchone()
        if paid is not None:
            db.execute(_qmark(HISTORY), (paid[0], f"stripe:{event['id']}", now))
        outcome = "paid" if paid is not None else "ignored"
        db.execute(_qmark(MARK), (now, outcome, event["id"]))
        db.execute("COMMIT")
        return outcome
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


async def _pay_postgres(pool: asyncpg.Pool, event: dict[str, Any], body: str) -> str:
    now = datetime.now(UTC)
    session = event["data"]["object"]
    async with pool.acquire() as conn, conn.transaction():
        if await conn.fetchval(STORE, event["id"], event["type"], body, now) is None:
            return "duplicate"
        paid = await conn.fetchrow(
            PAY, now, session["payment_intent"], session["id"], session["client_reference_id"]
        )
        if paid is not None:
            await conn.execute(HISTORY, paid["id"], f"stripe:{event['id']}", now)
        outcome = "paid" if paid is not None else "ignored"
        await conn.execute(MARK, now, outcome, event["id"])
        return outcome


def raw_app(url: str, secret: str) -> web.Application:
    """The handler at /webhooks/stripe, over the database at `url` (sqlite:/// or
    postgresql://)."""
    app = web.Application()
    sqlite = url.startswith("sqlite")
    state: dict[str, Any] = {}

    async def open_database(app: web.Application) -> Any:
        if sqlite:
            executor = ThreadPoolExecutor(max_workers=1)  # the connection's one thread
            db = sqlite3.connect(
                url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
            )
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                db.execute(f"PRAGMA {pragma}")
            state.update(executor=executor, db=db)
            yield
            db.close()
            executor.shutdown()
        else:
            state["pool"] = await asyncpg.create_pool(url, min_size=5, max_size=20)
            yield
            await state["pool"].close()

    async def handler(request: web.Request) -> web.Response:
        body = (await request.read()).decode()
        try:
            stripe.WebhookSignature.verify_header(
                body, request.headers.get("Stripe-Signature"), secret, 300
            )
        except stripe.SignatureVerificationError:
            return web.json_response({"error": "bad signature"}, status=400)
        event = json.loads(body)
        if sqlite:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(state["executor"], _pay_sqlite, state["db"], event, body)
        else:
            await _pay_postgres(state["pool"], event, body)
        return web.json_response({"received": True})

    app.cleanup_ctx.append(open_database)
    app.router.add_post("/webhooks/stripe", handler)
    return app
