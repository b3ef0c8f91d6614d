"""The claim writer: one task per process that runs the claims arriving together as one
batch (claim_batch.py decides them) and answers each caller in arrival order.

On SQLite a batch runs in the database connection's own thread with plain sqlite3
(claim_sqlite.py): one thread hop per batch. On PostgreSQL it runs on asyncpg itself, with
prepared statements and arrays (claim_postgres.py).
"""

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.claim_batch import GuardFailed, Links
from commerce.adapters.claim_postgres import decide_postgres
from commerce.adapters.claim_sqlite import decide_sqlite
from commerce.adapters.claims import replay
from commerce.adapters.db import active, connection
from commerce.domain.commands import Claim
from commerce.service_layer.group_commit import answer, drained, stop
from commerce.service_layer.results import ClaimResult

log = logging.getLogger(__name__)

# What rolls a batch back and is worth retrying claim by claim: a duplicate key racing in
# from another worker, a deadlock or a lock timeout, a guard that did not hold.
RETRIED = (IntegrityError, DBAPIError, GuardFailed, sqlite3.Error, asyncpg.PostgresError)
# A claim waiting for its batch: with its time, its pay link maker (or None), its answer.
Queued = tuple[Claim, datetime, Callable[[str], str] | None, asyncio.Future[ClaimResult]]


class ClaimWriter:
    """Runs the claims that arrive together in one transaction and answers in arrival order.

    One writer per process: callers `await submit(claim)`; a single task drains the queue.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        max_batch: int = 500,
        strikes: int = 0,
        web_first_paid: bool = False,
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._strikes = strikes  # unpaid holds after which a buyer pays first (0: never)
        # LIVEBUY_WEB_CLAIMS=first-paid: web viewers not linked to an account pay first.
        self._web_first_paid = web_first_paid
        self._queue: asyncio.Queue[Queued] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # for tests and metrics: how many transactions served the claims
        # Called with the answers of each batch once it has committed (the drops it touched
        # are theirs): one place to hook, e.g. one notice of a drop's units left per batch.
        self.after_batch: list[Callable[[list[ClaimResult]], None]] = []

    async def submit(
        self, claim: Claim, now: datetime, link: Callable[[str], str] | None = None
    ) -> ClaimResult:
        """The claim's answer, once its batch has committed. `link`: a won hold of a buyer
        with no saved card is handed its pay link in the same transaction."""
        if active(self._engine) is not None:
            # The writer's transaction would wait for the unit's (SQLite: its write lock and
            # the one pooled connection) while the unit waits for the answer: a deadlock.
            raise RuntimeError("claims are decided by the claim writer, never in a unit of work")
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="claim-writer")
        future: asyncio.Future[ClaimResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((claim, now, link, future))  # unbounded: never waits
        return await future

    async def close(self) -> None:
        # Claims still queued are answered with an error (their messages are redelivered or
        # retried; the same key makes them one claim).
        waiting = (future for *_, future in drained(self._queue))
        await stop(self._task, waiting, "the claim writer was stopped")
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                results = await self._decide(*_split(batch))
            except RETRIED as exc:
                # A duplicate key racing in from another worker, a deadlock or a guard that
                # did not hold rolls back the whole batch: each claim then runs on its own.
                log.warning("claim batch of %d retried one by one: %s", len(batch), exc)
                await self._one_by_one(batch)
                continue
            except Exception as exc:  # the callers must hear about it, not hang
                for *_, future in batch:
                    answer(future, exc)
                continue
            for (*_, future), result in zip(batch, results, strict=True):
                answer(future, result)
            self._committed(results)

    def _committed(self, results: list[ClaimResult]) -> None:
        for hook in self.after_batch:
            try:
                hook(results)
            except Exception:  # a hook's failure is its own: the claims stand
                log.exception("a hook after a claim batch failed")

    async def _decide(
        self, batch: list[tuple[Claim, datetime]], links: Links | None = None
    ) -> list[ClaimResult]:
        async with connection(self._engine) as conn:
            pooled: Any = await conn.get_raw_connection()
            driver = pooled.driver_connection
            rules = (self._strikes, self._web_first_paid)
            if self._engine.dialect.name == "sqlite":
                # The whole batch as one call in aiosqlite's own thread, where its sqlite3
                # connection lives (aiosqlite runs each statement there the same way).
                answers = await driver._execute(decide_sqlite, driver._conn, batch, *rules, links)
            else:  # create_engine's only other driver: asyncpg itself, under the pool's
                # SQLAlchemy connection (its prepared statements take plain tuples, arrays)
                answers = await decide_postgres(driver, batch, *rules, links)
            self.batches += 1
            return [
                answer if isinstance(answer, ClaimResult) else await replay(conn, answer)
                for answer in answers
            ]

    async def _one_by_one(self, batch: list[Queued]) -> None:
        for claim, now, link, future in batch:
            for attempt in range(5):
                try:
                    links = {claim.key: link} if link is not None else None
                    [result] = await self._decide([(claim, now)], links)
                    answer(future, result)
                    self._committed([result])
                    break
                except RETRIED as exc:
                    if attempt == 4:
                        answer(future, exc)
                    await asyncio.sleep(0.01 * (attempt + 1))
                except Exception as exc:
                    answer(future, exc)
                    break


def _split(batch: list[Queued]) -> tuple[list[tuple[Claim, datetime]], Links | None]:
    """The batch's claims, and the pay link makers of the claims that asked for one."""
    links = {claim.key: link for claim, _, link, _ in batch if link is not None}
    return [(claim, now) for claim, now, _, _ in batch], links or None
