"""`livebuy bench flash-drop`: thousands of #buy for a hundred units, through the real service
path (bus -> claim writer -> database), checked for correctness, and compared with the raw
limit of the same database measured in the same run (plain sqlite3 or asyncpg making the
same decisions: a conditional stock decrement plus an order insert, in one transaction)."""

import asyncio
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg

from commerce.adapters.db import create_engine
from commerce.adapters.migrate import upgrade
from commerce.bootstrap import bootstrap
from commerce.config import Settings
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec
from commerce.service_layer.results import ClaimOutcome, ClaimResult

CHAT = "telegram:-1001"


@asynccontextmanager
async def scratch_database(db: str, admin_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database of the kind asked for, removed afterwards."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            await asyncio.to_thread(upgrade, url)
            yield url
        return
    name = f"livebuy_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        await asyncio.to_thread(upgrade, url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def product_path(
    url: str, claims: int, units: int, buyers: int, within: float
) -> dict[str, Any]:
    """The real claim path, many concurrent buyers, checked for correctness."""
    settings = Settings(_env_file=None, database_url=url)
    engine = create_engine(url)
    bus = bootstrap(settings, engine)
    try:
        spec = ProductSpec("HYPE", "Hyped sneaker", Money(9900, "eur"), "", ())
        await bus.handle(c.AddProduct(spec, units))
        terms = DropTerms(
            "HYPE", units, Money(9900, "eur"), None, 1, DropPolicy.HOLD, timedelta(minutes=10)
        )
        await bus.handle(c.StartDrop(terms, (CHAT,)))
        rng = random.Random(1)
        who = [
            f"telegram:{i % buyers if i < buyers else rng.randrange(buyers)}"
            for i in range(claims)
        ]
        latencies: list[float] = []

        async def claim(i: int, arrives: float) -> ClaimResult:
            await asyncio.sleep(max(0.0, arrives - time.perf_counter()))
            began = time.perf_counter()
            result: ClaimResult = await bus.handle(c.Claim(f"{CHAT}:{i}", CHAT, who[i]))
            latencies.append(time.perf_counter() - began)
            return result

        # The claims arrive evenly spread over `within` seconds, as a hyped drop's do.
        started = time.perf_counter()
        results = await asyncio.gather(
            *(claim(i, started + within * i / claims) for i in range(claims))
        )
        elapsed = time.perf_counter() - started
        store: Any = bus.deps.store
        check = verify(results, who, units)
        return {
            "claims_per_second": claims / elapsed,
            "seconds": elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000,
            "transactions": store.claims.batches,
            **check,
        }
    finally:
        await bus.deps.store.close()
        await engine.dispose()


def verify(results: list[ClaimResult], who: list[str], units: int) -> dict[str, Any]:
    """Exactly `units` won, nobody over the limit, winners first in arrival order."""
    won = [r for r in results if r.outcome is ClaimOutcome.WON]
    waitlisted = [r for r in results if r.outcome is ClaimOutcome.WAITLISTED]
    winners = [who[i] for i, r in enumerate(results) if r.outcome is ClaimOutcome.WON]
    first_come = not waitlisted or max(r.claim_id or 0 for r in won) < min(
        r.claim_id or 0 for r in waitlisted
    )
    problems = []
    if len(won) != units:
        problems.append(f"{len(won)} won instead of {units}")
    if len(set(winners)) != len(winners):
        problems.append("a buyer won more than the limit")
    if not first_come:
        problems.append("a later claim won while an earlier one waited")
    if any(r is None for r in results):
        problems.append("a claim went unanswered")
    return {
        "won": len(won),
        "waitlisted": len(waitlisted),
        "refused": len(results) - len(won) - len(waitlisted),
        "correct": not problems,
        "problems": problems,
    }


def raw_sqlite(claims: int, units: int) -> float:
    """Plain sqlite3, one transaction, the same decisions: claims per second."""
    with tempfile.TemporaryDirectory() as folder:
        db = sqlite3.connect(Path(folder) / "raw.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE drops (id INTEGER PRIMARY KEY, remaining INTEGER NOT NULL)")
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, drop_id INTEGER, buyer TEXT)")
        db.execute("INSERT INTO drops VALUES (1, ?)", (units,))
        started = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        for i in range(claims):
            taken = db.execute(
                "UPDATE drops SET remaining = remaining - 1 WHERE id = 1 AND remaining >= 1"
            ).rowcount
            if taken:
                db.execute("INSERT INTO orders (drop_id, buyer) VALUES (1, ?)", (f"b{i}",))
        db.execute("COMMIT")
        elapsed = time.perf_counter() - started
        db.close()
    return claims / elapsed


async def raw_postgres(url: str, claims: int, units: int) -> float:
    """Plain asyncpg, one transaction, the same decisions: claims per second."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(
            "CREATE TEMP TABLE raw_drops (id int PRIMARY KEY, remaining int NOT NULL);"
            "CREATE TEMP TABLE raw_orders (id serial PRIMARY KEY, drop_id int, buyer text);"
        )
        await conn.execute("INSERT INTO raw_drops VALUES (1, $1)", units)
        take = await conn.prepare(
            "UPDATE raw_drops SET remaining = remaining - 1 WHERE id = 1 AND remaining >= 1"
            " RETURNING remaining"
        )
        insert = await conn.prepare("INSERT INTO raw_orders (drop_id, buyer) VALUES (1, $1)")
        started = time.perf_counter()
        async with conn.transaction():
            for i in range(claims):
                if await take.fetchrow() is not None:
                    await insert.fetch(f"b{i}")
        return claims / (time.perf_counter() - started)
    finally:
        await conn.close()


async def flash_drop(
    claims: int, units: int, buyers: int, db: str, admin_url: str, within: float = 1.0
) -> dict[str, Any]:
    async with scratch_database(db, admin_url) as url:
        product = await product_path(url, claims, units, buyers, within)
        if db == "sqlite":
            raw = await asyncio.to_thread(raw_sqlite, claims, units)
        else:
            raw = await raw_postgres(url, claims, units)
    return {
        "benchmark": "flash-drop",
        "db": db,
        "claims": claims,
        "units": units,
        "buyers": buyers,
        "arrival_seconds": within,
        "product": product,
        "raw_claims_per_second": raw,
        "ratio": product["claims_per_second"] / raw,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
        },
    }


def report(figures: dict[str, Any]) -> str:
    p = figures["product"]
    lines = [
        f"flash drop on {figures['db']}: {figures['claims']} claims from {figures['buyers']}"
        f" buyers for {figures['units']} units, arriving within {figures['arrival_seconds']}s",
        f"  livebuy   {p['claims_per_second']:>10,.0f} claims/s   p50 {p['p50_ms']:.1f} ms"
        f"   p99 {p['p99_ms']:.1f} ms   ({p['transactions']} claim transactions)",
        f"  raw limit {figures['raw_claims_per_second']:>10,.0f} claims/s   (plain driver,"
        " same decisions, one transaction)",
        f"  ratio     {figures['ratio']:.4f}",
        f"  result    won {p['won']}, waitlisted {p['waitlisted']}, refused {p['refused']}: "
        + ("correct" if p["correct"] else "WRONG: " + "; ".join(p["problems"])),
    ]
    return "\n".join(lines)
