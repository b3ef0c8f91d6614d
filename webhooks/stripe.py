"""POST /webhooks/stripe: verify, store once, then process; and the re-processing pass.

Stripe gets a 2xx only once the event is durably stored. A signed body that is not an event
of Stripe's shapes answers 400 and is kept (type "malformed") without being applied. A
processing error answers 500 so that Stripe retries, and the stored event is also picked up
again by `reprocess`, after a crash or a restart, so an event is never lost between storing
and processing.
"""

import json
import logging
from datetime import timedelta

from aiohttp import web

from commerce.adapters.stripe_events import (
    MalformedEvent,
    SignatureError,
    to_payment_event,
    verify,
)
from commerce.domain.commands import ApplyPaymentEvent
from commerce.domain.payments import PaymentEvent
from commerce.service_layer.messagebus import MessageBus
from webhooks.keys import BUS, STRIPE_WEBHOOK_SECRET
from webhooks.metrics import METRICS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()


@routes.post("/webhooks/stripe")
async def stripe_webhook(request: web.Request) -> web.Response:
    with request.app[METRICS].webhook_seconds.time():
        return await receive(request)


async def receive(request: web.Request) -> web.Response:
    body = await request.read()  # bounded by the app's client_max_size (413 beyond)
    bus = request.app[BUS]
    ledger = bus.deps.ledger
    assert ledger is not None
    try:
        data = verify(
            body, request.headers.get("Stripe-Signature"), request.app[STRIPE_WEBHOOK_SECRET]
        )
        event = to_payment_event(data)
    except SignatureError as exc:
        log.warning("stripe webhook refused: %s", exc)
        return web.json_response({"error": "invalid signature"}, status=400)
    except MalformedEvent as exc:
        # Signed by Stripe's secret, yet not an event of its shapes: kept for whoever looks
        # into it, applied to nothing.
        key = await ledger.store_malformed(body, str(exc), bus.deps.clock.now())
        log.warning("stripe webhook malformed (kept as %s): %s", key, exc)
        return web.json_response({"error": str(exc)}, status=400)
    if await ledger.store_event(event.id, event.type, body.decode(), bus.deps.clock.now()):
        return web.json_response({"received": True, "duplicate": True})
    if not await process(bus, event):
        return web.json_response({"error": "processing failed, retry later"}, status=500)
    return web.json_response({"received": True})


async def process(bus: MessageBus, event: PaymentEvent) -> bool:
    """Applies a stored event; False (and the event left pending) when that fails."""
    ledger = bus.deps.ledger
    assert ledger is not None
    try:
        outcome = await bus.handle(ApplyPaymentEvent(event))
    except Exception as exc:
        log.exception("payment event %s (%s) failed", event.id, event.type, extra=_context(event))
        await ledger.mark_event(
            event.id, f"error: {type(exc).__name__}", bus.deps.clock.now(), False
        )
        return False
    log.info("payment event %s (%s): %s", event.id, event.type, outcome, extra=_context(event))
    await ledger.mark_event(event.id, outcome, bus.deps.clock.now(), True)
    return True


def _context(event: PaymentEvent) -> dict[str, str]:
    """Fields for JSON log lines (`livebuy run --log json`): which event, which order."""
    return {"event": event.id, "order": event.order_ref or ""}


async def reprocess(bus: MessageBus, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Processes stored events that were never processed (crash, restart, failure)."""
    ledger = bus.deps.ledger
    assert ledger is not None
    done = 0
    now = bus.deps.clock.now()
    for event_id, payload in await ledger.pending_events(now - older_than):
        if await ledger.claim_event(event_id, now):  # not while a delivery is processing it
            try:
                event = to_payment_event(json.loads(payload))
            except (MalformedEvent, ValueError, RecursionError) as exc:
                # Stored before today's checks read it as malformed: never applied.
                await ledger.mark_event(event_id, f"malformed: {exc}", now, True)
                continue
            done += await process(bus, event)
    return done
