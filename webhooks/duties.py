"""Long-running work that one worker at a time may do (Telegram polling, the Discord gateway),
held by a lease in the database (see `commerce.adapters.leases`)."""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from webhooks.keys import BUS, LEASES

log = logging.getLogger(__name__)

# Seconds between renewals (and heartbeats). A lease lasts three renewals (SqlLeases' ttl),
# so a dead holder's duty moves to another worker within about six seconds.
RENEW_EVERY = 2.0


async def while_holding(
    app: web.Application,
    lease: str,
    start: Callable[[], Awaitable[None]],
    stop: Callable[[], Awaitable[None]],
    what: str,
    retried: tuple[type[Exception], ...] = (),
) -> None:
    """Starts the work when this worker takes the lease, stops it when another worker holds
    it, renews the lease meanwhile, and stops the work when cancelled (shutdown). Errors of
    the `retried` kinds while starting or stopping are tried again at the next renewal."""
    leases, clock = app[LEASES], app[BUS].clock
    running = False
    try:
        while True:
            try:
                holding = await leases.hold(lease, clock.now())
            except Exception:
                log.exception("%s: the lease cannot be checked", what)
                holding = running  # keep what we have until the lease runs out
            try:
                if holding and not running:
                    await start()
                    running = True
                    log.info("%s: this worker holds it", what)
                elif not holding and running:
                    log.warning("%s: another worker holds it now; stopping here", what)
                    running = False
                    await stop()
            except retried as exc:
                log.warning("%s could not start or stop (%s); retrying", what, exc)
            await asyncio.sleep(RENEW_EVERY)
    finally:
        if running:
            await stop()
