"""`livebuy bench flash-drop`: thousands of #buy for a hundred units, through the real service
path (bus -> claim writer -> database), checked for correctness, and compared with the
same-work raw baseline (bench/raw_claims.py) run in the same process on a second database of
the same kind and schema: the ratio of the two is the figure to watch. Both databases are then
read back: the same winners, the same waitlist and the same row counts, or the run is wrong."""

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

from bench import raw_claims
from bench.raw_claims import Answer, RawClaim
from commerce.adapters.db import create_engine
from commerce.adapters.migrate import upgrade
from commerce.bootstrap import bootstrap, freeze_startup_heap
from commerce.config import Settings
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec
from commerce.service_layer.results import ClaimOutcome, ClaimResult

CHAT = "telegram:-1001"
# Seconds between making the buyers' tasks and the first claim's arrival (see product_path).
START_AHEAD = 0.5


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


async def start_drop(url: str, units: int) -> None:
    """The product and its live drop, made through the bus on either database."""
    engine = create_engine(url)
    bus = bootstrap(Settings(_env_file=None, database_url=url), engine)
    try:
        spec = ProductSpec("HYPE", "Hyped sneaker", Money(9900, "eur"), "", ())
        await bus.handle(c.AddProduct(spec, units))
        terms = DropTerms(
            "HYPE", units, Money(9900, "eur"), None, 1, DropPolicy.HOLD, timedelta(minutes=10)
        )
        await bus.handle(c.StartDrop(terms, (CHAT,)))
    finally:
        await bus.deps.store.close()
        await engine.dispose()


def arrivals(claims: int, buyers: int, repeats: float) -> list[RawClaim]:
    """The claims in arrival order: every buyer once first, then random buyers again; a
    share `repeats` is a message delivered again (the same key)."""
    rng = random.Random(1)
    made: list[RawClaim] = []
    for i in range(claims):
        if made and repeats and rng.random() < repeats:
            made.append(made[rng.randrange(len(made))])
            continue
        buyer = i % buyers if i < buyers else rng.randrange(buyers)
        made.append(RawClaim(f"{CHAT}:{i}", CHAT, f"telegram:{buyer}"))
    return made


async def product_path(
    url: str, claims: list[RawClaim], units: int, within: float
) -> dict[str, Any]:
    """The real claim path, many concurrent buyers, checked for correctness."""
    settings = Settings(_env_file=None, database_url=url)
    engine = create_engine(url)
    bus = bootstrap(settings, engine)
    freeze_startup_heap()  # as the server does once it has started
    try:
        latencies: list[float] = []
        arrived: list[int] = []  # the claims' indices in the order the product got them

        async def claim(i: int, one: RawClaim, arrives: float) -> ClaimResult:
            wait = arrives - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            arrived.append(i)  # nothing yields between here and the claim writer's queue
            began = time.perf_counter()
            result: ClaimResult = await bus.handle(c.Claim(one.key, one.chat, one.identity))
            latencies.append(time.perf_counter() - began)
            return result

        # The claims arrive evenly spread over `within` seconds, as a hyped drop's do, from
        # a start far enough ahead that every buyer's task is made and waiting by then:
        # making 10,000 tasks takes the event loop some 50-100 ms, and claims due meanwhile
        # would all arrive at once when it ends (a burst of the load generator's own making,
        # which the first 2,000 claims' latency showed: p50 45-95 ms against 3-7 ms after).
        n = len(claims)
        started = time.perf_counter() + START_AHEAD
        results = await asyncio.gather(
            *(claim(i, one, started + within * i / n) for i, one in enumerate(claims))
        )
        elapsed = time.perf_counter() - started
        store: Any = bus.deps.store
        check = verify(results, [one.identity for one in claims], units)
        return {
            "claims_per_second": n / elapsed,
            "seconds": elapsed,
            "p50_ms": statistics.median(latencies) * 1000,
            "p99_ms": statistics.quantiles(latencies, n=100)[98] * 1000,
            "transactions": store.claims.batches,
            "arrived": arrived,
            **check,
        }
    finally:
        await bus.deps.store.close()
        await engine.dispose()


def verify(results: list[ClaimResult], who: list[str], units: int) -> dict[str, Any]:
    """Exactly `units` won (or one per buyer, the limit, when buyers are fewer), nobody over
    the limit, winners first in arrival order."""
    fresh = [(i, r) for i, r in enumerate(results) if r is not None and not r.duplicate]
    won = [r for _, r in fresh if r.outcome is ClaimOutcome.WON]
    waitlisted = [r for _, r in fresh if r.outcome is ClaimOutcome.WAITLISTED]
    winners = [who[i] for i, r in fresh if r.outcome is ClaimOutcome.WON]
    first_come = not waitlisted or max(r.claim_id or 0 for r in won) < min(
        r.claim_id or 0 for r in waitlisted
    )
    problems = []
    expected = min(units, len(set(who)))
    if len(won) != expected:
        problems.append(f"{len(won)} won instead of {expected}")
    if len(set(winners)) != len(winners):
        problems.append("a buyer won more than the limit")
    if not first_come:
        problems.append("a later claim won while an earlier one waited")
    if any(r is None for r in results):
        problems.append("a claim went unanswered")
    return {
        "won": len(won),
        "waitlisted": len(waitlisted),
        "refused": len(fresh) - len(won) - len(waitlisted),
        "repeats": len(results) - len(fresh),
        "correct": not problems,
        "problems": problems,
    }


def tally(answers: list[Answer]) -> dict[str, int]:
    fresh = [a for a in answers if not a.duplicate]
    return {
        "won": sum(a.outcome == "won" for a in fresh),
        "waitlisted": sum(a.outcome == "waitlisted" for a in fresh),
        "refused": sum(a.outcome == "refused" for a in fresh),
        "repeats": len(answers) - len(fresh),
    }


# What both sides decided, read back from their databases.
DECISIONS = (
    "SELECT key, status, reason, position, identity, order_id IS NOT NULL FROM claim ORDER BY key"
)
COUNTED = ("claim", "orders", "order_event", "drop_buyer", "customer", "identity")
DROP_STATE = "SELECT remaining, waitlist_len FROM drops ORDER BY id"


def _decisions(claims: list[Any], counts: list[int], drops: list[Any]) -> dict[str, Any]:
    return {
        "claims": [tuple(row) for row in claims],
        "rows": dict(zip(COUNTED, counts, strict=True)),
        "drops": [tuple(row) for row in drops],
    }


async def decisions(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            return _decisions(
                db.execute(DECISIONS).fetchall(),
                [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in COUNTED],
                db.execute(DROP_STATE).fetchall(),
            )
    conn = await asyncpg.connect(url)
    try:
        return _decisions(
            await conn.fetch(DECISIONS),
            [await conn.fetchval(f"SELECT COUNT(*) FROM {t}") for t in COUNTED],
            await conn.fetch(DROP_STATE),
        )
    finally:
        await conn.close()


async def raw_path(url: str, claims: list[RawClaim]) -> tuple[float, list[Answer]]:
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        drop = raw_claims.read_drop_sqlite(path)
        return await asyncio.to_thread(raw_claims.raw_sqlite, path, claims, drop)
    conn = await asyncpg.connect(url)
    try:
        drop = await raw_claims.read_drop_postgres(conn)
    finally:
        await conn.close()
    return await raw_claims.raw_postgres(url, claims, drop)


async def flash_drop(
    claims: int,
    units: int,
    buyers: int,
    db: str,
    admin_url: str,
    within: float = 1.0,
    repeats: float = 0.0,
) -> dict[str, Any]:
    arriving = arrivals(claims, buyers, repeats)
    async with (
        scratch_database(db, admin_url) as product_url,
        scratch_database(db, admin_url) as raw_url,
        scratch_database(db, admin_url) as raw_again_url,
    ):
        for url in (product_url, raw_url, raw_again_url):
            await start_drop(url, units)
        product = await product_path(product_url, arriving, units, within)
        # The raw baseline takes the claims in the order the product got them (tasks woken
        # in the same instant may swap places), twice, each time on a database of its own,
        # and the faster run is the yardstick: a shared machine's load changes by the
        # second, and the product is not to gain from a slow baseline.
        in_order = [arriving[i] for i in product.pop("arrived")]
        before, answers = await raw_path(raw_url, in_order)
        after, _ = await raw_path(raw_again_url, in_order)
        ours, theirs = await decisions(product_url), await decisions(raw_url)
    raw_seconds = min(before, after)
    raw = {
        "claims_per_second": claims / raw_seconds,
        "seconds": raw_seconds,
        "runs_claims_per_second": [claims / before, claims / after],
        **tally(answers),
    }
    same = ours == theirs
    if not same:
        product["correct"] = False
        product["problems"].append("the raw baseline decided otherwise")
    return {
        "benchmark": "flash-drop",
        "db": db,
        "claims": claims,
        "units": units,
        "buyers": buyers,
        "arrival_seconds": within,
        "repeats": repeats,
        "product": product,
        "raw": raw,
        "raw_claims_per_second": raw["claims_per_second"],
        "ratio": product["claims_per_second"] / raw["claims_per_second"],
        "same_decisions": same,
        "rows": ours["rows"],
        "raw_rows": theirs["rows"],
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
        " the same work per claim, 100 claims a transaction)",
        f"  ratio     {figures['ratio']:.4f}",
        f"  result    won {p['won']}, waitlisted {p['waitlisted']}, refused {p['refused']}: "
        + ("correct" if p["correct"] else "WRONG: " + "; ".join(p["problems"]))
        + (", same decisions as the raw baseline" if figures["same_decisions"] else ""),
    ]
    return "\n".join(lines)
