"""Liveness and readiness probes for process managers and load balancers."""

import logging

from aiohttp import web
from sqlalchemy import text

from webhooks.keys import ENGINE

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """The process is up and serving."""
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """The process can do its work: the database answers."""
    try:
        async with request.app[ENGINE].connect() as conn:
            await conn.execute(text("SELECT 1 FROM orders LIMIT 1"))
    except Exception as exc:  # any failure means "not ready", never a 500 with a traceback
        log.warning("not ready: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})
