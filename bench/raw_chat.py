"""The raw baseline of `livebuy bench chat --via web`: a bare aiohttp server, started in a
process of its own as the product is (`python -m bench.raw_chat --port N`, its database, public
address and Stripe from the same environment variables), serving exactly what the bench's
buyers use, with the same wire format:

- `GET /chat/<room>`: a new viewer, as the product issues one: a random secret and a public id,
  the secret's sha256 stored in `web_viewer` (one transaction), and the cookie
  `livebuy_viewer=<secret>.<HMAC of the secret>`.
- `GET /chat/<room>/events`: the viewer's live stream (server-sent events, `data: <json>`).
- `POST /chat/<room>/messages` (form `name`, `text`): the cookie's HMAC checked and its viewer
  found, `#buy` parsed, and the claim decided with bench/raw_claims.py's per-claim work (message
  key, customer, per-buyer limit, guarded decrements, waitlist, claim, order and history rows,
  an outbox row), concurrent messages batched in arrival order, up to 100 per transaction; in
  the same transaction the winner's order gets its pay link (`checkout_open`, `checkout_url`,
  the link's history row), signed as the product's (commerce.domain.pay_links). The private
  answer with the link goes to the buyer's streams, then the POST is answered.
- `GET /pay/<ref>?t=<token>`: the token checked, the order read, its Checkout Session made on
  the Stripe API (`POST /v1/checkout/sessions`, form-encoded, as Stripe's client does) and
  stored on the order, and a 303 to the session's URL.

What it does not do, compared with the product: no rate limits, no seller roles or names kept
(`AdmitWebLine`), no room history, board or overlay events, nothing sent to a stream as it
joins (the product sends the room's state and the viewer's open orders, read from the
database), no message bus, domain objects or rendering; the cookie and pay link keys are made
at start-up rather than kept in the database; a pay link never reuses or replaces an earlier
session, and makes no customer, saved-card or shipping reads. It does more in two places: an
outbox row per claim (raw_claims' work; the web chat answers on its streams instead) and the
link written by an UPDATE after the order's INSERT (the product inserts the order with it).
SQLite: one plain `sqlite3` connection in a thread of its own (the product's PRAGMAs);
PostgreSQL: an asyncpg pool, a batch's claims pipelined as one CTE each (raw_claims).
"""

import argparse
import asyncio
import base64
import contextlib
import functools
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import asyncpg
from aiohttp import ClientSession, web

from bench import raw_claims
from bench.raw_claims import Answer, DropSetup, RawClaim
from commerce.domain import pay_links

COOKIE = "livebuy_viewer"
HEARTBEAT = 15.0
PAGE = "<!doctype html><title>chat</title>"  # the buyers read only its cookie
Linked = tuple[Answer, str | None]  # a claim's answer and, for a winner, its pay link
Order = tuple[int, str, int, int, str, datetime]  # id, status, unit price, qty, currency, hold

ISSUE = "INSERT INTO web_viewer (secret_hash, public_id, created_at) VALUES ($1, $2, $3)"
LINK = (
    "UPDATE orders SET status = 'checkout_open', checkout_url = $1, updated_at = $2 WHERE ref = $3"
)
LINK_EVENT = (
    "INSERT INTO order_event (order_id, from_status, to_status, cause, at)"
    " SELECT id, 'reserved', 'checkout_open', 'link:' || ref, $1 FROM orders WHERE ref = $2"
)
ORDER = (
    "SELECT id, status, unit_price_minor, quantity, currency, hold_expires_at FROM orders"
    " WHERE ref = $1"
)
SESSION = "UPDATE orders SET checkout_session = $1, updated_at = $2 WHERE id = $3"
PRODUCT = "SELECT name FROM product WHERE id = $1"


def _mac(key: bytes, secret: str) -> str:
    """As the product signs a viewer's cookie (adapters/web_viewers.py)."""
    mac = hmac.new(key, b"web-viewer:" + secret.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


class Store(Protocol):
    product_name: str

    async def issue(self, secret_hash: str, public_id: str) -> None: ...
    async def claim(self, batch: list[RawClaim], link: Callable[[str], str]) -> list[Linked]: ...
    async def order(self, ref: str) -> Order | None: ...
    async def session_opened(self, order_id: int, session: str) -> None: ...
    async def close(self) -> None: ...


class SqliteStore:
    """One plain sqlite3 connection, used only in its own thread: one hop per batch."""

    def __init__(self, path: str) -> None:
        self.thread = ThreadPoolExecutor(1)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
            self.db.execute(f"PRAGMA {pragma}")
        self.drop = raw_claims.read_drop_sqlite(path)
        (self.product_name,) = self.db.execute(_q(PRODUCT), (self.drop.product_id,)).fetchone()

    async def _run(self, work: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.thread, work, *args)

    async def issue(self, secret_hash: str, public_id: str) -> None:
        await self._run(self.db.execute, _q(ISSUE), (secret_hash, public_id, _stamp()))

    async def claim(self, batch: list[RawClaim], link: Callable[[str], str]) -> list[Linked]:
        result: list[Linked] = await self._run(self._claim, batch, link)
        return result

    def _claim(self, batch: list[RawClaim], link: Callable[[str], str]) -> list[Linked]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            answers = raw_claims.sqlite_batch(self.db, batch, self.drop)
            linked = _linked(answers, link)
            now = _stamp()
            refs = [a.order_ref for a, url in linked if url]
            self.db.executemany(_q(LINK), [(url, now, a.order_ref) for a, url in linked if url])
            self.db.executemany(_q(LINK_EVENT), [(now, ref) for ref in refs])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return linked

    async def order(self, ref: str) -> Order | None:
        row = await self._run(lambda: self.db.execute(_q(ORDER), (ref,)).fetchone())
        if row is None:
            return None
        return (*row[:5], datetime.fromisoformat(row[5]).replace(tzinfo=UTC))

    async def session_opened(self, order_id: int, session: str) -> None:
        await self._run(self.db.execute, _q(SESSION), (session, _stamp(), order_id))

    async def close(self) -> None:
        await self._run(self.db.close)
        self.thread.shutdown()


class PostgresStore:
    """An asyncpg pool; a batch's claims on one connection, pipelined (raw_claims)."""

    @classmethod
    async def open(cls, url: str) -> "PostgresStore":
        store = cls()
        store.pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
        async with store.pool.acquire() as conn:
            store.drop = await raw_claims.read_drop_postgres(conn)
            store.product_name = await conn.fetchval(PRODUCT, store.drop.product_id)
        return store

    pool: asyncpg.Pool
    drop: DropSetup
    product_name: str

    async def issue(self, secret_hash: str, public_id: str) -> None:
        await self.pool.execute(ISSUE, secret_hash, public_id, datetime.now(UTC))

    async def claim(self, batch: list[RawClaim], link: Callable[[str], str]) -> list[Linked]:
        async with self.pool.acquire() as conn, conn.transaction():
            answers = await raw_claims.postgres_batch(conn, batch, self.drop)
            linked = _linked(answers, link)
            now = datetime.now(UTC)
            refs = [a.order_ref for a, url in linked if url]
            await conn.executemany(LINK, [(url, now, a.order_ref) for a, url in linked if url])
            await conn.executemany(LINK_EVENT, [(now, ref) for ref in refs])
        return linked

    async def order(self, ref: str) -> Order | None:
        row = await self.pool.fetchrow(ORDER, ref)
        return None if row is None else tuple(row)

    async def session_opened(self, order_id: int, session: str) -> None:
        await self.pool.execute(SESSION, session, datetime.now(UTC), order_id)

    async def close(self) -> None:
        await self.pool.close()


def _q(statement: str) -> str:
    """$1 … $n (asyncpg) as ?1 … ?n (sqlite3's numbered parameters)."""
    return statement.replace("$", "?")


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _linked(answers: list[Answer], link: Callable[[str], str]) -> list[Linked]:
    return [(a, link(a.order_ref) if a.order_ref else None) for a in answers]


class RawChat:
    def __init__(self, store: Store, public_url: str, stripe_base: str, stripe_key: str) -> None:
        self.store = store
        self.public_url = public_url
        self.stripe_base, self.stripe_key = stripe_base, stripe_key
        self.cookie_key = secrets.token_bytes(32)
        self.link_key = secrets.token_bytes(32)
        self.viewers: dict[str, str] = {}  # cookie secret -> identity
        self.streams: dict[str, set[asyncio.Queue[str]]] = {}  # identity -> its streams
        self.pending: asyncio.Queue[tuple[RawClaim, asyncio.Future[Linked]]] = asyncio.Queue()

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/chat/{room}", self.page)
        app.router.add_get("/chat/{room}/events", self.events)
        app.router.add_post("/chat/{room}/messages", self.post)
        app.router.add_get("/pay/{ref}", self.pay)
        app.cleanup_ctx.append(self._running)
        return app

    async def _running(self, app: web.Application) -> Any:
        writer = asyncio.create_task(self._write_claims())
        async with ClientSession() as self.stripe:
            yield
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        await self.store.close()

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def viewer(self, request: web.Request) -> str | None:
        """The cookie's identity if its HMAC is ours and its viewer known (every message)."""
        secret, dot, mac = request.cookies.get(COOKIE, "").partition(".")
        signed = _mac(self.cookie_key, secret).encode()
        if not dot or not hmac.compare_digest(signed, mac.encode()):
            return None
        return self.viewers.get(secret)

    async def page(self, request: web.Request) -> web.Response:
        secret, public_id = secrets.token_urlsafe(24), "v_" + secrets.token_hex(6)
        await self.store.issue(hashlib.sha256(secret.encode()).hexdigest(), public_id)
        self.viewers[secret] = f"web:{public_id}"
        response = web.Response(text=PAGE, content_type="text/html")
        response.set_cookie(COOKIE, f"{secret}.{_mac(self.cookie_key, secret)}", httponly=True)
        return response

    async def events(self, request: web.Request) -> web.StreamResponse:
        identity = self.viewer(request)
        if identity is None:
            raise web.HTTPForbidden(text="open the chat page first")
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        queue: asyncio.Queue[str] = asyncio.Queue()
        mine = self.streams.setdefault(identity, set())
        mine.add(queue)
        try:
            while True:
                try:
                    async with asyncio.timeout(HEARTBEAT):
                        data = await queue.get()
                except TimeoutError:
                    await stream.write(b": ping\n\n")
                    continue
                await stream.write(f"data: {data}\n\n".encode())
        except ConnectionError:
            return stream
        finally:
            mine.discard(queue)

    async def post(self, request: web.Request) -> web.Response:
        identity = self.viewer(request)
        if identity is None:
            return web.json_response({"error": "open the chat page first"}, status=403)
        form = await request.post()
        name, text = str(form.get("name", "")).strip()[:32], str(form.get("text", "")).strip()
        if not name or not text:
            return web.json_response({"error": "a name and a message, please"}, status=400)
        if text.split()[0].lower() == "#buy":
            room = request.match_info["room"]
            key = f"web:{room}:{secrets.token_hex(16)}"
            done: asyncio.Future[Linked] = asyncio.get_running_loop().create_future()
            self.pending.put_nowait((RawClaim(key, f"web:{room}", identity), done))
            answer, url = await done
            text = raw_claims.answer_text(answer) + (f" Pay here: {url}" if url else "")
            event = json.dumps({"type": "private", "text": f"@{name} {text}"})
            for queue in self.streams.get(identity, ()):
                queue.put_nowait(event)
        return web.json_response({"ok": True})

    async def _write_claims(self) -> None:
        """The claims waiting, in arrival order, up to 100 per transaction."""
        link = functools.partial(pay_links.url, self.public_url, self.link_key)
        while True:
            batch = [await self.pending.get()]
            while len(batch) < raw_claims.PER_TRANSACTION and not self.pending.empty():
                batch.append(self.pending.get_nowait())
            try:
                linked = await self.store.claim([claim for claim, _ in batch], link)
            except Exception as exc:  # each waiting message fails, the next batch is tried
                for _, done in batch:
                    done.set_exception(exc)
                continue
            for (_, done), result in zip(batch, linked, strict=True):
                done.set_result(result)

    async def pay(self, request: web.Request) -> web.Response:
        ref, token = request.match_info["ref"][:20].upper(), request.query.get("t", "")[:40]
        if not pay_links.genuine(self.link_key, ref, token):
            raise web.HTTPNotFound(text="This payment link is not valid.")
        order = await self.store.order(ref)
        now = datetime.now(UTC)
        if order is None or order[1] not in ("reserved", "checkout_open") or order[5] <= now:
            raise web.HTTPGone(text="This hold has ended.")
        order_id, _, price, quantity, currency, hold = order
        expires = max(hold, now + timedelta(minutes=40))
        metadata = {"order_ref": ref, "chat": "web:bench"}
        params = {
            "mode": "payment",
            "line_items[0][price_data][currency]": currency,
            "line_items[0][price_data][unit_amount]": str(price),
            "line_items[0][price_data][product_data][name]": self.store.product_name,
            "line_items[0][quantity]": str(quantity),
            "client_reference_id": ref,
            **{f"metadata[{k}]": v for k, v in metadata.items()},
            **{f"payment_intent_data[metadata][{k}]": v for k, v in metadata.items()},
            "success_url": f"{self.public_url}/checkout/done?order={ref}",
            "cancel_url": f"{self.public_url}/checkout/cancelled?order={ref}",
            "expires_at": str(int(expires.timestamp())),
            "customer_creation": "always",
        }
        headers = {"Authorization": f"Bearer {self.stripe_key}", "Idempotency-Key": f"co-{ref}"}
        url = f"{self.stripe_base}/v1/checkout/sessions"
        async with self.stripe.post(url, data=params, headers=headers) as r:
            if r.status != 200:
                return web.Response(status=503, text=await r.text())
            session = await r.json()
        await self.store.session_opened(order_id, session["id"])
        raise web.HTTPSeeOther(session["url"])


async def make_store(url: str) -> Store:
    if url.startswith("sqlite"):
        return SqliteStore(url.removeprefix("sqlite:///"))
    return await PostgresStore.open(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port

    async def app() -> web.Application:
        store = await make_store(os.environ["DATABASE_URL"])
        raw = RawChat(
            store,
            os.environ["PUBLIC_BASE_URL"],
            os.environ["STRIPE_API_BASE"],
            os.environ["STRIPE_SECRET_KEY"],
        )
        return raw.app()

    web.run_app(app(), host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    main()
