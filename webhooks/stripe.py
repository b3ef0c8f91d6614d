"""POST /webhooks/stripe: verify, store once, then process; and the re-processing pass.

Stripe gets a 2xx only once the event is durably stored. A signed body that is not an event
of Stripe's shapes answers 400 and is kept (type "malformed") without being applied. A
processing error answers 500 so that Stripe retries, and the stored event is also picked up
again by `reprocess`, after a crash or a restart, so an event is never lost between storing
and processing. An event naming an order of this shop that is not in the database (yet)
answers 5xx for WAIT_FOR_ORDER after its first delivery, then is acknowledged and kept as a
dead letter that reconciliation retries. An event of the other Stripe mode (livemode against
the secret key) is acknowledged, kept and logged as a misconfiguration, never applied; a
database that cannot store an event answers 503, never 2xx.
"""

import json
import logging
from datetime import timedelta
from typing import Any

from aiohttp import web

from commerce.adapters.stripe_events import (
    MalformedEvent,
    SignatureError,
    to_payment_event,
    verify,
)
from commerce.config import Settings
from commerce.domain.commands import (
    ApplyPaymentEvent,
    ClaimPaymentEvent,
    IdentifyPayer,
    KeepMalformedEvent,
    MarkPaymentEvent,
    PaymentEventFailed,
    ProcessPaymentEvent,
    ReceivePaymentEvent,
)
from commerce.domain.payments import PaymentEvent
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.payment_events import WAIT_FOR_ORDER, EventProcessed, Processing
from commerce.service_layer.payments import OrderNotKnownYet
from webhooks.keys import BUS, SETTINGS, STRIPE_WEBHOOK_SECRET
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
        key = await bus.handle(KeepMalformedEvent(body, str(exc)))
        log.warning("stripe webhook malformed (kept as %s): %s", key, exc)
        return web.json_response({"error": str(exc)}, status=400)
    payload = body.decode()
    wrong_mode = _wrong_mode(request.app[SETTINGS], data)
    try:
        if wrong_mode is None:  # who paid, from Stripe, before the unit of work (#18)
            event = await bus.handle(IdentifyPayer(event))
        # Stored once, applied, marked processed: one unit of work (see payment_events).
        received = await bus.handle(ReceivePaymentEvent(event, payload, wrong_mode))
    except Exception as exc:
        log.exception("payment event %s (%s) failed", event.id, event.type, extra=_context(event))
        try:
            await bus.handle(PaymentEventFailed(event, payload, f"{type(exc).__name__}: {exc}"))
        except Exception:  # the database is down or locked: Stripe must retry, never 2xx
            log.exception("stripe webhook %s not stored", event.id, extra=_context(event))
            return web.json_response({"error": "not stored, retry later"}, status=503)
        return web.json_response({"error": "processing failed, retry later"}, status=500)
    if received.duplicate:
        return web.json_response({"received": True, "duplicate": True})
    if wrong_mode:
        # Test events at a live shop (or live ones at a test shop): the endpoint is
        # registered in the wrong Stripe mode. Acknowledged, kept, applied to nothing.
        log.error("stripe webhook %s: %s", event.id, wrong_mode, extra=_context(event))
        return web.json_response({"received": True, "ignored": wrong_mode})
    if received.retry:
        # Its order may still be committing: Stripe retries a 5xx, and so does `reprocess`,
        # for a while; then it is kept as a dead letter that reconciliation retries.
        log.warning("payment event %s: %s; retried later", event.id, received.outcome)
        return web.json_response({"error": "processing failed, retry later"}, status=500)
    if received.dead_letter:
        log.error(
            "payment event %s (%s): %s after %s; kept for reconciliation",
            event.id, event.type, received.outcome, WAIT_FOR_ORDER, extra=_context(event),
        )  # fmt: skip
    else:
        log.info(
            "payment event %s (%s): %s", event.id, event.type, received.outcome,
            extra=_context(event),
        )  # fmt: skip
    return web.json_response({"received": True})


def _wrong_mode(settings: Settings, data: dict[str, Any]) -> str | None:
    """Why the event's mode is not the shop's (livemode against the secret key; the
    emulator is test mode); None when it is, or when the event does not say."""
    livemode = data.get("livemode")
    if not isinstance(livemode, bool):
        return None
    key = settings.stripe_secret_key
    live = key is not None and key.get_secret_value().startswith(("sk_live_", "rk_live_"))
    if livemode == live:
        return None
    said, ours = ("live", "test") if livemode else ("test", "live")
    return f"misconfiguration: a {said}-mode event at a {ours}-mode shop"


async def process(bus: MessageBus, event: PaymentEvent) -> bool:
    """Applies a stored event; False (and the event left pending) when that fails."""
    # Its order may still be committing: Stripe retries a 5xx, and so does `reprocess`, for
    # a while; then it is kept as a dead letter that reconciliation retries.
    done: EventProcessed = await bus.handle(ProcessPaymentEvent(event, WAIT_FOR_ORDER))
    match done.status:
        case Processing.WAITING:
            log.warning("payment event %s: %s; retried later", event.id, done.error)
        case Processing.DEAD_LETTER:
            log.error(
                "payment event %s (%s): %s after %s; kept as a dead letter for reconciliation",
                event.id,
                event.type,
                done.error,
                WAIT_FOR_ORDER,
                extra=_context(event),
            )
        case Processing.FAILED:
            log.error(
                "payment event %s (%s) failed",
                event.id,
                event.type,
                exc_info=done.error,
                extra=_context(event),
            )
        case Processing.APPLIED:
            log.info(
                "payment event %s (%s): %s",
                event.id,
                event.type,
                done.outcome,
                extra=_context(event),
            )
    return done.settled


def _context(event: PaymentEvent) -> dict[str, str]:
    """Fields for JSON log lines (`livebuy run --log json`): which event, which order, which
    Checkout Session (never the buyer's address or card)."""
    return {"event": event.id, "order": event.order_ref or "", "session": event.session_id or ""}


async def reprocess(bus: MessageBus, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Processes stored events that were never processed (crash, restart, failure)."""
    done = 0
    for event_id, payload in await queries.pending_payment_events(bus.reads, older_than):
        if await bus.handle(ClaimPaymentEvent(event_id)):  # not while a delivery processes it
            try:
                event = to_payment_event(json.loads(payload))
            except (MalformedEvent, ValueError, RecursionError) as exc:
                # Stored before today's checks read it as malformed: never applied.
                await bus.handle(MarkPaymentEvent(event_id, f"malformed: {exc}"))
                continue
            done += await process(bus, event)
    return done


async def retry_dead_letters(bus: MessageBus, since: timedelta = timedelta(days=30)) -> list[str]:
    """Reconciliation's part of the webhook: events whose order was unknown for longer than
    the retry window are applied now that it exists; one line per event applied."""
    applied = []
    for event_id, payload in await queries.dead_letters(bus.reads, since):
        event = to_payment_event(json.loads(payload))  # read once before, when received
        try:
            outcome = await bus.handle(ApplyPaymentEvent(event))
        except OrderNotKnownYet:
            continue  # still unknown: kept, tried again by the next reconciliation
        except Exception:
            log.exception("dead letter %s (%s) failed", event_id, event.type)
            continue
        log.info("dead letter %s (%s): %s", event_id, event.type, outcome, extra=_context(event))
        await bus.handle(MarkPaymentEvent(event_id, outcome))
        applied.append(f"{event.order_ref or event_id}: {event.type} applied ({outcome})")
    return applied
