"""Live events shared by every worker on one PostgreSQL, through LISTEN/NOTIFY.

A worker publishes an event (a chat line, a board, a private reply); every worker, itself
included, receives it and hands it to the viewers whose streams it holds. Publishing never
blocks the caller: events queue in memory and one task sends them in order, all the events
waiting in one statement (a burst of claims publishes several events each: one round trip
each made the relay the chat path's bottleneck on PostgreSQL). Each payload carries its own
number, as PostgreSQL delivers identical payloads notified in one transaction only once (a
buyer typing the same line twice). A lost connection is reopened; events published
meanwhile wait in the queue.
"""

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "livebuy_live"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more
MAX_BATCH = 500  # events sent in one statement, at most
NOTIFY = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p"


class PgRelay:
    def __init__(self, database_url: str, receive: Callable[[dict[str, Any]], None]) -> None:
        self.dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        self.receive = receive
        self.outgoing: asyncio.Queue[str] = asyncio.Queue()
        self.listening = asyncio.Event()  # set while subscribed (tests wait for it)
        self._numbers = itertools.count()

    def publish(self, message: dict[str, Any]) -> None:
        payload = json.dumps({**message, "n": next(self._numbers)}, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD:
            log.warning("live event too large to relay (%d bytes); shown here only", len(payload))
            self.receive(message)
            return
        self.outgoing.put_nowait(payload)

    async def run(self) -> None:
        """Listens and sends until cancelled, reconnecting after a failure."""
        while True:
            try:
                await self._session()
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("live relay lost PostgreSQL (%s); reconnecting", type(exc).__name__)
            finally:
                self.listening.clear()
            await asyncio.sleep(1)

    async def _session(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            await conn.add_listener(CHANNEL, self._heard)
            self.listening.set()
            while True:
                payloads = [await self.outgoing.get()]
                while len(payloads) < MAX_BATCH and not self.outgoing.empty():
                    payloads.append(self.outgoing.get_nowait())
                try:
                    await conn.execute(NOTIFY, CHANNEL, payloads)
                except BaseException:
                    for payload in payloads:  # sent after the reconnection
                        self.outgoing.put_nowait(payload)
                    raise
        finally:
            with contextlib.suppress(Exception):
                await conn.close()

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("unreadable live event ignored")
            return
        if isinstance(message, dict):
            self.receive(message)
