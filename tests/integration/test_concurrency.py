"""No oversell under real concurrency: four OS processes race for one drop on one database."""

import asyncio
import random
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import pytest

from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import ClaimOutcome
from tests.conftest import test_settings
from tests.integration.helpers import add_product, start_drop

PROCESSES = 4
CLAIMS = 2000
BUYERS = 500
UNITS = 100
LIMIT = 1

Answer = tuple[str, str, str, int | None, str | None]  # identity, outcome, reason, claim, ref


def race(database_url: str, claims: list[tuple[str, str]], start_at: float) -> list[Answer]:
    """One worker process: its own engine and bus, all its claims fired at once."""

    async def run() -> list[Answer]:
        engine = create_engine(database_url)
        bus = bootstrap(test_settings(database_url), engine)
        try:
            await bus.deps.store.ping()  # connect before the start line
            await asyncio.sleep(max(0.0, start_at - time.time()))
            results = await asyncio.gather(
                *(
                    bus.handle(c.Claim(key=key, chat="telegram:-100", identity=who))
                    for key, who in claims
                )
            )
        finally:
            await bus.deps.store.close()
            await engine.dispose()
        return [
            (
                who,
                r.outcome.value,
                r.reason.value if r.reason else "",
                r.claim_id,
                r.order.ref if r.order else None,
            )
            for (_, who), r in zip(claims, results, strict=True)
        ]

    return asyncio.run(run())


@pytest.mark.slow
async def test_processes_racing_for_a_drop_never_oversell(
    bus: MessageBus, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_product(bus, stock=UNITS + 20)
    await start_drop(bus, quantity=UNITS, limit=LIMIT, channels=("telegram:-100",))
    rng = random.Random(7)
    claims = [(f"telegram:-100:{i}", f"telegram:{rng.randrange(BUYERS)}") for i in range(CLAIMS)]
    # Every buyer claims at least once, so there really are BUYERS distinct buyers.
    claims[:BUYERS] = [(f"telegram:-100:{i}", f"telegram:{i}") for i in range(BUYERS)]
    rng.shuffle(claims)
    slices = [claims[i::PROCESSES] for i in range(PROCESSES)]

    started = time.perf_counter()
    with ProcessPoolExecutor(PROCESSES, mp_context=get_context("spawn")) as pool:
        start_at = time.time() + 5  # the time it takes the workers to import and connect
        loop = asyncio.get_running_loop()
        answers = [
            a
            for part in await asyncio.gather(
                *(loop.run_in_executor(pool, race, database_url, s, start_at) for s in slices)
            )
            for a in part
        ]
    elapsed = time.perf_counter() - started - 5

    assert len(answers) == CLAIMS  # every claim answered
    won = [a for a in answers if a[1] == ClaimOutcome.WON]
    waitlisted = [a for a in answers if a[1] == ClaimOutcome.WAITLISTED]
    refused = [a for a in answers if a[1] == ClaimOutcome.REFUSED]
    assert len(won) == UNITS
    assert all(a[2] for a in refused)  # each refusal carries its reason
    assert {a[2] for a in refused} <= {"limit_reached", "already_waitlisted"}
    per_buyer: dict[str, int] = {}
    for who, *_ in won:
        per_buyer[who] = per_buyer.get(who, 0) + 1
    assert max(per_buyer.values()) <= LIMIT
    assert len({a[0] for a in answers}) == BUYERS
    # Arrival order: nobody was waitlisted before the last unit was won.
    assert max(a[3] for a in won) < min(a[3] for a in waitlisted)  # type: ignore[type-var]

    drop = (await bus.deps.store.drops())[0]
    assert drop.remaining == 0
    assert drop.waitlist == len(waitlisted)
    product = await bus.deps.store.product("TEE")
    assert product.stock == 20  # never below zero, exactly UNITS taken
    orders = await bus.handle(c.ListOrders())
    assert sorted(o.ref for o in orders) == sorted(a[4] for a in won)  # type: ignore[type-var]
    with capsys.disabled():
        backend = database_url.split(":", 1)[0]
        print(
            f"\n[concurrency {backend}] {PROCESSES} processes, {CLAIMS} claims from {BUYERS}"
            f" buyers for {UNITS} units: {elapsed:.2f}s ({CLAIMS / elapsed:.0f} claims/s);"
            f" won {len(won)}, waitlisted {len(waitlisted)}, refused {len(refused)}"
        )
