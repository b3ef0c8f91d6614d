"""The emulator's routes: /v1/... (Stripe's API), /pay/{id} (checkout page), /_test/...."""

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from html import escape

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from commerce.domain.money import Money
from webhooks.emulator.state import (
    Delivery,
    Obj,
    State,
    StripeFailure,
    decode_form,
    new_id,
    signature,
)

log = logging.getLogger(__name__)
RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0)  # five attempts in all
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_emulator(
    *, public_base_url: str, webhook_url: str, webhook_secret: str
) -> web.Application:
    """The emulator as a sub-application, to mount at /stripe-emulator."""
    return Emulator(public_base_url, webhook_url, webhook_secret).app()


class Emulator:
    def __init__(self, public_base_url: str, webhook_url: str, webhook_secret: str) -> None:
        self.state = State(public_base_url.rstrip("/"))
        self.webhook_url = webhook_url
        self.secret = webhook_secret
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.api_middleware])
        app.cleanup_ctx.append(self.lifetime)
        app.add_routes(
            [
                web.post("/v1/customers", self.create_customer),
                web.get("/v1/customers/{id}", self.get_customer),
                web.post("/v1/checkout/sessions", self.create_session),
                web.get("/v1/checkout/sessions", self.list_sessions),
                web.get("/v1/checkout/sessions/{id}", self.get_session),
                web.post("/v1/checkout/sessions/{id}/expire", self.expire_session),
                web.post("/v1/refunds", self.create_refund),
                web.get("/v1/events", self.list_events),
                web.get("/v1/events/{id}", self.get_event),
                web.get("/pay/{id}", self.page),
                web.post("/pay/{id}", self.pay_from_page),
                web.post("/_test/pay/{id}", self.pay_for_scripts),
                web.post("/_test/disputes/{pi}", self.open_dispute),
                web.post("/_test/disputes/{pi}/close", self.close_dispute),
                web.get("/_test/deliveries", self.deliveries),
            ]
        )
        return app

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        self.http = ClientSession(timeout=ClientTimeout(total=10))
        yield
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.close()

    # the API's envelope: auth, idempotency, errors --------------------------------------

    @web.middleware
    async def api_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.split("/stripe-emulator", 1)[-1].startswith("/v1/"):
            return await handler(request)
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer sk_test_"):
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": "Invalid API Key provided (the emulator takes sk_test_ keys).",
                    }
                },
                status=401,
            )
        key = request.headers.get("Idempotency-Key")
        fingerprint = ""
        if request.method == "POST" and key:
            body = await request.read()
            fingerprint = hashlib.sha256(request.path.encode() + b"\n" + body).hexdigest()
            seen = self.state.idempotency.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    return web.json_response(
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used "
                                "with the same parameters they were first used with.",
                            }
                        },
                        status=400,
                    )
                return web.json_response(
                    seen[2], status=seen[1], headers={"Idempotent-Replayed": "true"}
                )
        try:
            response = await handler(request)
        except StripeFailure as failure:
            response = web.json_response(failure.body, status=failure.status)
        if fingerprint and isinstance(response, web.Response) and response.status < 500:
            body = json.loads(response.text or "{}")
            self.state.idempotency[key or ""] = (fingerprint, response.status, body)
        return response

    async def params(self, request: web.Request) -> Obj:
        try:
            return decode_form(await request.post())
        except ValueError as exc:
            raise StripeFailure(str(exc)) from None

    # customers and sessions ----------------------------------------------------------------

    async def create_customer(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        return web.json_response(self.state.customer(params.get("email")))

    async def get_customer(self, request: web.Request) -> web.Response:
        customer = self.state.customers.get(request.match_info["id"])
        if customer is None:
            raise StripeFailure("No such customer", "id", 404, code="resource_missing")
        return web.json_response(customer)

    async def create_session(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.create_session(await self.params(request)))

    async def get_session(self, request: web.Request) -> web.Response:
        return web.json_response(self.expire_if_due(self.state.session(request.match_info["id"])))

    async def list_sessions(self, request: web.Request) -> web.Response:
        since = int(request.query.get("created[gte]", "0") or 0)
        limit = min(int(request.query.get("limit", "10") or 10), 100)
        found = [
            self.expire_if_due(s)
            for s in reversed(self.state.sessions.values())
            if s["created"] >= since
        ]
        return web.json_response(_list(found[:limit], len(found) > limit, "/v1/checkout/sessions"))

    async def expire_session(self, request: web.Request) -> web.Response:
        session = self.expire_if_due(self.state.session(request.match_info["id"]))
        if session["status"] != "open":
            raise StripeFailure(
                f'Only Checkout Sessions with a status in ["open"] can be expired. This '
                f'Checkout Session has a status of "{session["status"]}".',
                "session",
            )
        self.expire(session)
        return web.json_response(session)

    def expire_if_due(self, session: Obj) -> Obj:
        """Stripe expires sessions by itself at expires_at, and says so with an event."""
        if session["status"] == "open" and session["expires_at"] <= time.time():
            self.expire(session)
        return session

    def expire(self, session: Obj) -> None:
        session["status"] = "expired"
        self.send(self.state.event("checkout.session.expired", session))

    # paying ----------------------------------------------------------------------------------

    def pay(self, session: Obj) -> None:
        customer = session["customer"]
        if customer is None:  # customer_creation=always, as livebuy asks
            customer = self.state.customer(session.get("customer_email"))["id"]
        payment_intent, charge_id = new_id("pi"), new_id("ch")
        metadata = (session.get("payment_intent_data") or {}).get("metadata") or {}
        self.state.payments[payment_intent] = {
            "id": charge_id,
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": 0,
            "refunded": False,
            "currency": session["currency"],
            "customer": customer,
            "payment_intent": payment_intent,
            "metadata": metadata,
            "paid": True,
            "status": "succeeded",
        }
        session.update(
            status="complete",
            payment_status="paid",
            customer=customer,
            payment_intent=payment_intent,
        )
        self.send(self.state.event("checkout.session.completed", session))

    async def page(self, request: web.Request) -> web.Response:
        session = self.state.sessions.get(request.match_info["id"])
        if session is None:
            return _page("Unknown checkout", "<p>This checkout does not exist.</p>", 404)
        self.expire_if_due(session)
        lines = "".join(
            f"<tr><td>{line['quantity']} × {escape(line['name'])}</td>"
            f"<td>{Money(line['amount'], line['currency'])}</td></tr>"
            for line in self.state.items[session["id"]]
        )
        total = Money(session["amount_total"], session["currency"])
        if session["status"] != "open":
            return _page("Checkout closed", f"<p>This checkout is {session['status']}.</p>", 410)
        body = (
            f"<table>{lines}<tr><th>Total</th><th>{total}</th></tr></table>"
            f'<form method="post"><button type="submit">Pay with test card 4242</button></form>'
            f'<p><a href="{escape(session["cancel_url"])}">Cancel</a></p>'
        )
        return _page("Checkout", body)

    async def pay_from_page(self, request: web.Request) -> web.Response:
        session = self.state.sessions.get(request.match_info["id"])
        if session is None:
            return _page("Unknown checkout", "<p>This checkout does not exist.</p>", 404)
        self.expire_if_due(session)
        if session["status"] == "complete":
            return _page("Already paid", "<p>This checkout is paid already.</p>", 409)
        if session["status"] != "open":
            return _page("Checkout expired", "<p>This checkout has expired.</p>", 410)
        self.pay(session)
        target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        raise web.HTTPSeeOther(target)

    async def pay_for_scripts(self, request: web.Request) -> web.Response:
        session = self.expire_if_due(self.state.session(request.match_info["id"]))
        if session["status"] != "open":
            raise StripeFailure(f"The session is {session['status']}.", "session", 409)
        self.pay(session)
        return web.json_response(session)

    # refunds, disputes, events ---------------------------------------------------------------

    async def create_refund(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        charge = self.state.charge(str(params.get("payment_intent", "")))
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(params.get("amount", left))
        if not 0 < amount <= left:
            raise StripeFailure(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                "amount",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "status": "succeeded",
            "metadata": params.get("metadata") or {},
            "created": int(time.time()),
        }
        self.send(self.state.event("charge.refunded", charge))
        return web.json_response(refund)

    async def open_dispute(self, request: web.Request) -> web.Response:
        charge = self.state.charge(request.match_info["pi"])
        dispute = {
            "id": new_id("dp"),
            "object": "dispute",
            "amount": charge["amount"],
            "currency": charge["currency"],
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "status": "needs_response",
            "metadata": charge["metadata"],
            "reason": "fraudulent",
        }
        charge["dispute"] = dispute
        self.send(self.state.event("charge.dispute.created", dispute))
        return web.json_response(dispute)

    async def close_dispute(self, request: web.Request) -> web.Response:
        charge = self.state.charge(request.match_info["pi"])
        dispute = charge.get("dispute")
        status = request.query.get("status", "won")
        if dispute is None or status not in ("won", "lost"):
            raise StripeFailure("No open dispute, or status is not won|lost.", "status")
        dispute["status"] = status
        self.send(self.state.event("charge.dispute.closed", dispute))
        return web.json_response(dispute)

    async def list_events(self, request: web.Request) -> web.Response:
        kind = request.query.get("type")
        limit = min(int(request.query.get("limit", "10") or 10), 100)
        found = [e for e in reversed(self.state.events) if kind is None or e["type"] == kind]
        return web.json_response(_list(found[:limit], len(found) > limit, "/v1/events"))

    async def get_event(self, request: web.Request) -> web.Response:
        for event in self.state.events:
            if event["id"] == request.match_info["id"]:
                return web.json_response(event)
        raise StripeFailure("No such event", "id", 404, code="resource_missing")

    async def deliveries(self, request: web.Request) -> web.Response:
        return web.json_response([vars(d) for d in self.state.deliveries.values()])

    # webhooks ------------------------------------------------------------------------------

    def send(self, event: Obj) -> None:
        task = asyncio.create_task(self.deliver(event))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def deliver(self, event: Obj) -> None:
        """POSTs the signed event, retrying with backoff until a 2xx or five attempts."""
        assert self.http is not None
        payload = json.dumps(event)
        delivery = self.state.deliveries.setdefault(event["id"], Delivery(event["id"]))
        for delay in (*RETRY_DELAYS, None):
            delivery.attempts += 1
            headers = {
                "Stripe-Signature": signature(payload, self.secret),
                "Content-Type": "application/json",
            }
            try:
                async with self.http.post(self.webhook_url, data=payload, headers=headers) as r:
                    delivery.last_status = r.status
                    if 200 <= r.status < 300:
                        delivery.delivered = True
                        return
            except (ClientError, OSError, TimeoutError) as exc:
                log.info("emulator: %s not delivered (%s)", event["id"], type(exc).__name__)
            if delay is None:
                return
            await asyncio.sleep(delay)


def _list(data: list[Obj], has_more: bool, url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:0 auto;padding:1rem}}
.test{{background:#ffb020;color:#000;padding:.6rem;text-align:center;font-weight:bold}}
table{{width:100%;margin:1rem 0}}td,th{{padding:.3rem 0}}td+td,th+th{{text-align:right}}
button{{width:100%;padding:1rem;font-size:1.1rem;background:#635bff;color:#fff;border:0;
border-radius:.4rem}}</style></head><body><div class="test">TEST MODE — no real money</div>
<h1>{title}</h1>{body}<p><small>livebuy's local Stripe emulator</small></p></body></html>"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    html = PAGE.format(title=escape(title), body=body)
    return web.Response(text=html, content_type="text/html", status=status)
