"""The composition root: the aiohttp application that owns the core and its background work."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.config import Settings
from commerce.domain.commands import ExpireHolds
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import Clock, Notifier
from webhooks import health
from webhooks.keys import BUS, ENGINE, SETTINGS

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024  # webhooks and forms are small; refuse anything larger early


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    sweep_every: float = 1.0,
) -> web.Application:
    """The whole service; tests pass their own engine, clock or notifier."""
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings

    async def core(app: web.Application) -> AsyncIterator[None]:
        app[ENGINE] = engine or create_engine(settings.database_url)
        app[BUS] = bootstrap(settings, app[ENGINE], clock=clock, notifier=notifier)
        yield
        await app[BUS].deps.store.close()
        if engine is None:  # a caller's engine is the caller's to dispose
            await app[ENGINE].dispose()

    async def sweeper(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(sweep(app[BUS], sweep_every), name="hold-sweeper")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.extend([core, sweeper])
    app.add_routes(health.routes)
    return app


async def sweep(bus: MessageBus, every: float) -> None:
    """Expires holds and overdue drops, forever; one failure never stops the loop."""
    while True:
        try:
            await bus.handle(ExpireHolds())
        except Exception:
            log.exception("hold sweeper pass failed; retrying")
        await asyncio.sleep(every)
