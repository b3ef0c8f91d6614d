"""`livebuy bench webhook`: signed Stripe webhooks posted over loopback to the real app, next
to the raw baseline of the same run (bench/raw_webhook.py: a bare aiohttp handler that
verifies the signature and, in one transaction, stores the event once and pays the order) on
a second database of the same kind. Every order must end paid exactly once, duplicates
included, and both databases must hold as many paid orders, events and history rows."""

import asyncio
import hashlib
import hmac
import json
import socket
import sqlite3
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import asyncpg
from aiohttp import ClientSession, TCPConnector, web
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.flash_drop import scratch_database
from bench.raw_webhook import raw_app
from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.config import Settings
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec
from commerce.service_layer.messagebus import MessageBus

# The service under test, made by the caller (the CLI hands in the real web app, and how to
# reach its bus once it has started): the bench never imports the app it measures, so that
# the CLI can import the bench.
ServeApp = Callable[[Settings, AsyncEngine], tuple[web.Application, Callable[[], MessageBus]]]

SECRET = "whsec_bench"  # noqa: S105 (a benchmark's own test secret)
CHAT = "web:bench"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _signed(event: dict[str, Any]) -> tuple[bytes, str]:
    body = json.dumps(event)
    t = int(time.time())
    signature = hmac.new(SECRET.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return body.encode(), f"t={t},v1={signature}"


def _completed(ref: str, n: int) -> dict[str, Any]:
    return {
        "id": f"evt_bench_{n}",
        "object": "event",
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": f"cs_bench_{ref}",
                "object": "checkout.session",
                "client_reference_id": ref,
                "metadata": {"order_ref": ref},
                "payment_status": "paid",
                "status": "complete",
                "payment_intent": f"pi_bench_{ref}",
                "amount_total": 500,
                "currency": "eur",
            }
        },
    }


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = _free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def _load(url: str, deliveries: list[tuple[bytes, str]], concurrency: int) -> dict[str, Any]:
    """Posts every delivery, `concurrency` at a time; events/s and latencies."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(deliveries))

    async def worker(http: ClientSession) -> None:
        while queue:
            body, header = queue.pop()
            began = time.perf_counter()
            async with http.post(
                url,
                data=body,
                headers={"Stripe-Signature": header, "Content-Type": "application/json"},
            ) as r:
                await r.read()
                statuses[r.status] = statuses.get(r.status, 0) + 1
            latencies.append(time.perf_counter() - began)

    async with ClientSession(connector=TCPConnector(limit=concurrency)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "events_per_second": len(deliveries) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000 if len(latencies) > 1 else 0,
        "statuses": statuses,
    }


async def _orders(bus: MessageBus, count: int) -> list[str]:
    await bus.handle(
        c.AddProduct(ProductSpec("BENCH", "Bench tee", Money(500, "eur"), "", ()), count)
    )
    terms = DropTerms(
        "BENCH", count, Money(500, "eur"), None, None, DropPolicy.HOLD, timedelta(hours=1)
    )
    await bus.handle(c.StartDrop(terms, (CHAT,)))
    results = await asyncio.gather(
        *(bus.handle(c.Claim(f"{CHAT}:{i}", CHAT, f"web:b{i}")) for i in range(count))
    )
    return [r.order.ref for r in results if r.order is not None]


async def _paid_rows(url: str) -> dict[str, int]:
    """What the payments left in a database: paid orders, stored events, history rows."""
    counted = {
        "paid_orders": "SELECT COUNT(*) FROM orders WHERE status = 'paid'",
        "payment_events": "SELECT COUNT(*) FROM payment_event",
        "paid_history": "SELECT COUNT(*) FROM order_event WHERE to_status = 'paid'",
    }
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return {k: db.execute(q).fetchone()[0] for k, q in counted.items()}
    conn = await asyncpg.connect(url)
    try:
        return {k: await conn.fetchval(q) for k, q in counted.items()}
    finally:
        await conn.close()


async def _raw_orders(url: str, count: int) -> list[str]:
    """The same orders on the raw baseline's database, made through the core."""
    engine = create_engine(url)
    bus = bootstrap(Settings(_env_file=None, database_url=url, livebuy_web_claims="hold"), engine)
    try:
        return await _orders(bus, count)
    finally:
        await bus.deps.store.close()
        await engine.dispose()


def _deliveries(refs: list[str], duplicates: float) -> list[tuple[bytes, str]]:
    deliveries = [_signed(_completed(ref, n)) for n, ref in enumerate(refs)]
    return deliveries + deliveries[: int(len(deliveries) * duplicates)]


async def webhook(
    serve: ServeApp,
    events: int,
    duplicates: float,
    db: str,
    admin_url: str,
    concurrency: int = 20,
) -> dict[str, Any]:
    async with (
        scratch_database(db, admin_url) as url,
        scratch_database(db, admin_url) as raw_url,
    ):
        settings = Settings(
            _env_file=None,
            database_url=url,
            stripe_secret_key="sk_test_bench",  # noqa: S106 (never sent anywhere)
            stripe_webhook_secret=SECRET,
            stripe_api_base="http://127.0.0.1:9",
            livebuy_web_claims="hold",  # the bench's web buyers hold, as the baseline's do
        )
        engine = create_engine(url)
        app, started_bus = serve(settings, engine)
        runner, base = await _serve(app)
        try:
            bus = started_bus()
            bus.deps.payments = None  # the claims need no checkout for this measurement
            refs = await _orders(bus, events)
            deliveries = _deliveries(refs, duplicates)
            product = await _load(f"{base}/webhooks/stripe", deliveries, concurrency)
            paid = await bus.deps.store.orders(OrderStatus.PAID, None, events + 1)
            histories = await asyncio.gather(*(bus.deps.store.history(r) for r in refs[:50]))
        finally:
            await runner.cleanup()
            await engine.dispose()
        raw_deliveries = _deliveries(await _raw_orders(raw_url, events), duplicates)
        raw_runner, raw_base = await _serve(raw_app(raw_url, SECRET))
        try:
            raw = await _load(f"{raw_base}/webhooks/stripe", raw_deliveries, concurrency)
        finally:
            await raw_runner.cleanup()
        rows, raw_rows = await _paid_rows(url), await _paid_rows(raw_url)
    once = all([e.to_status for e in h].count("paid") == 1 for h in histories)
    correct = (
        len(paid) == len(refs)
        and once
        and product["statuses"] == {200: len(deliveries)}
        and rows == raw_rows
    )
    return {
        "benchmark": "webhook",
        "db": db,
        "events": len(refs),
        "duplicates": len(deliveries) - len(refs),
        "concurrency": concurrency,
        "product": product,
        "raw": raw,
        "ratio": product["events_per_second"] / raw["events_per_second"],
        "correct": correct,
        "paid": len(paid),
        "rows": rows,
        "raw_rows": raw_rows,
    }


def report(f: dict[str, Any]) -> str:
    p, r = f["product"], f["raw"]
    return "\n".join(
        [
            f"webhooks on {f['db']}: {f['events']} checkout.session.completed"
            f" + {f['duplicates']} duplicate deliveries",
            f"  livebuy   {p['events_per_second']:>8,.0f} events/s   p50 {p['p50_ms']:.1f} ms"
            f"   p99 {p['p99_ms']:.1f} ms",
            f"  raw limit {r['events_per_second']:>8,.0f} events/s"
            "   (bare aiohttp: verify, store once and pay in one transaction)",
            f"  ratio     {f['ratio']:.3f}",
            f"  result    {f['paid']} orders paid: " + ("correct" if f["correct"] else "WRONG"),
        ]
    )
