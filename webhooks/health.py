"""Liveness and readiness probes for process managers and load balancers."""

import logging
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import text

from commerce.adapters.app_settings import duty_last_done
from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.adapters.outbox import SqlOutbox
from commerce.adapters.sql import maybe_utc
from webhooks.keys import BUS, ENGINE

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


# A payment event (or a chat update) waiting longer than this makes the shop "degraded": the
# worker that should process it is stuck or gone (Stripe's retries and the reprocessing duty
# pick an event up within minutes).
BACKLOG_ALERT = timedelta(minutes=10)
PLATFORMS = ("telegram", "discord")
UNPROCESSED = text(
    "SELECT COUNT(*), MIN(received_at) FROM payment_event WHERE processed_at IS NULL"
)


@routes.get("/healthz/backlog")
async def backlog(request: web.Request) -> web.Response:
    """What is waiting, for monitoring: stored payment events not yet processed (how many,
    the oldest's age), each platform's outbox and chat inbox, and when reconciliation last
    ran. 503 "degraded" (and a warning in the log) when a payment event or a chat update has
    waited longer than BACKLOG_ALERT."""
    engine, now = request.app[ENGINE], request.app[BUS].clock.now()
    try:
        async with engine.connect() as conn:
            count, oldest = (await conn.execute(UNPROCESSED)).one()
        oldest = maybe_utc(oldest)
        outbox = {p: await SqlOutbox(engine).counts(p) for p in PLATFORMS}
        inbox = {p: await SqlChatInbox(engine, "health").state(p) for p in PLATFORMS}
        reconciled = await duty_last_done(engine, "reconcile")
    except Exception as exc:
        log.warning("backlog unknown: database unreachable (%s)", type(exc).__name__)
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)

    def age(then: datetime | None) -> float | None:
        return None if then is None else round(max(0.0, (now - then).total_seconds()), 1)

    alerts = []
    if oldest is not None and now - oldest > BACKLOG_ALERT:
        alerts.append(f"{count} payment event(s) unprocessed, the oldest for {age(oldest)} s")
    for platform, state in inbox.items():
        if state.oldest is not None and now - state.oldest > BACKLOG_ALERT:
            waited = age(state.oldest)
            alerts.append(f"{state.pending} {platform} update(s) waiting, oldest for {waited} s")
    for alert in alerts:
        log.warning("backlog: %s", alert)
    report = {
        "status": "degraded" if alerts else "ok",
        "alerts": alerts,
        "payment_events": {"unprocessed": int(count), "oldest_age_s": age(oldest)},
        "outbox": {
            p: {"waiting": c.pending, "undeliverable": c.undeliverable} for p, c in outbox.items()
        },
        "chat_inbox": {
            p: {"waiting": s.pending, "oldest_age_s": age(s.oldest)} for p, s in inbox.items()
        },
        "last_reconciliation": reconciled.isoformat() if reconciled else None,
        "last_reconciliation_age_s": age(reconciled),
    }
    return web.json_response(report, status=503 if alerts else 200)
