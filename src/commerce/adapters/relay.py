"""Live events shared by every worker on one PostgreSQL, through LISTEN/NOTIFY.

A worker publishes an event (a chat line, a board, a private reply); every worker, itself
included, receives it and hands it to the viewers whose streams it holds. Publishing never
blocks the caller: events queue in memory and one task sends them in order. A lost
connection is reopened; events published meanwhile wait in the queue.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

CHANNEL = "livebuy_live"
MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8000 bytes and more


class PgRelay:
    def __init__(self, database_url: str, receive: Callable[[dict[str, Any]], None]) -> None:
        self.dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
        self.receive = receive
        self.outgoing: asyncio.Queue[str] = asyncio.Queue()
        self.listening = asyncio.Event()  # set while subscribed (tests wait for it)

    def publish(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message, separators=(",", ":"))
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
                payload = await self.outgoing.get()
                try:
                    await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
                except BaseException:
                    self.outgoing.put_nowait(payload)  # sent after the reconnection
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
