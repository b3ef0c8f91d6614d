"""The emulator's routes: /v1/... (Stripe's API), /pay/{id} (checkout page), /_test/...."""

import asyncio
import base64
import contextlib
import hashlib
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from commerce.adapters.stripe_version import API_VERSION
from commerce.domain.money import Money
from webhooks.devtools.emulator.params import ROUTES, unknown_parameter
from webhooks.devtools.emulator.state import (
    DEFAULT_CARD,
    TEST_ADDRESS,
    TEST_CARDS,
    TEST_EMAIL,
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


@dataclass(frozen=True)
class ApiRequest:
    """One request to the emulated API, as a watcher sees it once it is answered."""

    method: str
    route: str  # the route's pattern, e.g. /v1/checkout/sessions/{id}
    params: Obj  # the form body or the query string, decoded (values are text)
    version: str | None  # the Stripe-Version header
    status: int
    client: str  # the User-Agent header (the stripe library's: "Stripe/v1 PythonBindings/...")


# Called with every request to /v1/ (rejected ones included); the test suite checks each
# against the stripe library's typed parameters.
WATCHERS: list[Callable[[ApiRequest], None]] = []


def create_emulator(
    *,
    public_base_url: str,
    webhook_url: str,
    webhook_secret: str,
    api_key: str | Callable[[], Awaitable[str]],
    public: bool = False,
) -> web.Application:
    """The emulator as a sub-application, to mount at /stripe-emulator.

    Its API and its `_test/` routes take `api_key` only (or the key the callable gives at
    start-up). Unless `public`, it answers this machine only (loopback peers); anybody else
    is told how to use real Stripe test keys instead."""
    return Emulator(public_base_url, webhook_url, webhook_secret, api_key, public).app()


# What a client that is not this machine reads instead of the emulator.
NOT_LOCAL = (
    "livebuy's Stripe test emulator answers this machine only (loopback), as anyone who "
    "reaches it could 'pay' without money and read buyers' addresses. To take test payments "
    "from other machines, set real Stripe test keys: STRIPE_SECRET_KEY (sk_test_..., from "
    "https://dashboard.stripe.com/test/apikeys) and STRIPE_WEBHOOK_SECRET (whsec_..., of a "
    "webhook endpoint at PUBLIC_BASE_URL/webhooks/stripe). Or, on a network you trust, set "
    "LIVEBUY_EMULATOR_PUBLIC=1.\n"
)
# Headers a reverse proxy adds: its loopback connection carries someone else's request.
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


class Emulator:
    def __init__(
        self,
        public_base_url: str,
        webhook_url: str,
        webhook_secret: str,
        api_key: str | Callable[[], Awaitable[str]],
        public: bool = False,
    ) -> None:
        self.state = State(public_base_url.rstrip("/"))
        self.webhook_url = webhook_url
        self.secret = webhook_secret
        self.api_key = api_key
        self.key: str | None = api_key if isinstance(api_key, str) else None
        self.public = public
        self.tasks: set[asyncio.Task[None]] = set()
        self.http: ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self.local_only, self.api_middleware])
        app.cleanup_ctx.append(self.lifetime)
        app.add_routes(
            [
                web.post("/v1/customers", self.create_customer),
                web.get("/v1/customers/{id}", self.get_customer),
                web.get("/v1/customers/{id}/payment_methods", self.customer_cards),
                web.get("/v1/payment_methods", self.list_cards),
                web.get("/v1/payment_methods/{id}", self.get_card),
                web.post("/v1/payment_methods/{id}/detach", self.detach_card),
                web.post("/v1/payment_intents", self.create_intent),
                web.get("/v1/payment_intents/{id}", self.get_intent),
                web.get("/v1/setup_intents/{id}", self.get_setup),
                web.get("/v1/charges/{id}", self.get_charge),
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
                web.post("/_test/payment_intents/{id}/settle", self.settle_intent),
                web.post("/_test/disputes/{pi}", self.open_dispute),
                web.post("/_test/disputes/{pi}/close", self.close_dispute),
                web.get("/_test/deliveries", self.deliveries),
            ]
        )
        return app

    async def lifetime(self, app: web.Application) -> AsyncIterator[None]:
        if not isinstance(self.api_key, str):
            self.key = await self.api_key()
        self.http = ClientSession(timeout=ClientTimeout(total=10))
        yield
        for task in list(self.tasks):
            task.cancel()
        for task in list(self.tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.http.close()

    # who may ask: this machine, with the key -----------------------------------------------

    @web.middleware
    async def local_only(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Everything (API, checkout page, `_test/`) for loopback peers only, unless public."""
        if self.public or from_loopback(request):
            return await handler(request)
        if _route(request).startswith("/v1/"):
            return _error(403, NOT_LOCAL.strip())
        return web.Response(text=NOT_LOCAL, status=403)

    def refused_key(self, request: web.Request) -> web.Response | None:
        """Stripe's 401 when the request does not carry the emulator's key, else None."""
        given = _api_key(request.headers.get("Authorization", ""))
        if not given:
            return _error(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
            )
        if self.key is None or not secrets.compare_digest(given.encode(), self.key.encode()):
            return _error(401, f"Invalid API Key provided: {_masked(given)}")
        return None

    # the API's envelope: auth, idempotency, errors --------------------------------------

    @web.middleware
    async def api_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = _route(request)
        if route.startswith(("/v1/", "/_test/")):  # not the checkout page (a buyer's browser)
            refused = self.refused_key(request)
            if refused is not None:
                return refused
        if not route.startswith("/v1/"):
            try:
                return await handler(request)
            except StripeFailure as failure:
                return web.json_response(failure.body, status=failure.status)
        pattern = _pattern(request)
        params: Obj = {}
        try:
            params = await self.request_params(request)
            self.check_request(request, pattern, params)
            response = await self.api_call(request, handler)
        except StripeFailure as failure:
            response = web.json_response(failure.body, status=failure.status)
        response.headers["Stripe-Version"] = API_VERSION
        seen = ApiRequest(
            request.method,
            pattern,
            params,
            request.headers.get("Stripe-Version"),
            response.status,
            request.headers.get("User-Agent", ""),
        )
        for watch in WATCHERS:
            watch(seen)
        return response

    async def request_params(self, request: web.Request) -> Obj:
        """The parameters: the form body of a POST, the query string otherwise."""
        form = await request.post() if request.method == "POST" else request.query
        try:
            return decode_form(form)
        except ValueError as exc:
            raise StripeFailure(str(exc)) from None

    def check_request(self, request: web.Request, pattern: str, params: Obj) -> None:
        """Refuses what Stripe refuses before it begins: another API version than the one
        emulated, and parameters that version does not know (nothing is kept for the
        idempotency key then, as at Stripe)."""
        asked = request.headers.get("Stripe-Version")
        if asked is not None and asked != API_VERSION:
            raise StripeFailure(
                f"This emulator speaks Stripe API version {API_VERSION} only (the version "
                f"livebuy pins), not {asked}."
            )
        typed = ROUTES.get((request.method, pattern))
        unknown = unknown_parameter(params, typed) if typed is not None else None
        if unknown is not None:
            raise StripeFailure(f"Received unknown parameter: {unknown}", unknown)

    async def api_call(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """The handler's answer, or the one kept for a repeated idempotency key."""
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
            self.state.forget()
        return response

    async def params(self, request: web.Request) -> Obj:
        try:
            return decode_form(await request.post())
        except ValueError as exc:
            raise StripeFailure(str(exc)) from None

    # customers and sessions ----------------------------------------------------------------

    async def create_customer(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        return web.json_response(self.state.customer(params.get("email"), params.get("metadata")))

    async def get_customer(self, request: web.Request) -> web.Response:
        customer = self.state.customers.get(request.match_info["id"])
        if customer is None:
            raise StripeFailure("No such customer", "id", 404, code="resource_missing")
        return web.json_response(customer)

    # cards and payment intents -------------------------------------------------------------

    async def customer_cards(self, request: web.Request) -> web.Response:
        customer = request.match_info["id"]
        if customer not in self.state.customers:
            raise StripeFailure("No such customer", "customer", 404, code="resource_missing")
        found = self.state.cards_of(customer)
        return web.json_response(_list(found, False, f"/v1/customers/{customer}/payment_methods"))

    async def list_cards(self, request: web.Request) -> web.Response:
        kind = request.query.get("type", "card")
        found = self.state.cards_of(request.query.get("customer")) if kind == "card" else []
        return web.json_response(_list(found, False, "/v1/payment_methods"))

    async def get_card(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.payment_method(request.match_info["id"]))

    async def detach_card(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.detach(request.match_info["id"]))

    async def create_intent(self, request: web.Request) -> web.Response:
        intent, events, failure = self.state.create_intent(await self.params(request))
        self.send(*events)
        if failure is not None:
            raise failure
        return web.json_response(intent)

    async def get_intent(self, request: web.Request) -> web.Response:
        intent = self.state.payment_intent(request.match_info["id"])
        return web.json_response(self.expanded(intent, request))

    async def get_setup(self, request: web.Request) -> web.Response:
        setup = self.state.setup_intent(request.match_info["id"])
        return web.json_response(self.expanded(setup, request))

    async def get_charge(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.charge_by_id(request.match_info["id"]))

    def expanded(self, obj: Obj, request: web.Request) -> Obj:
        """`expand[]=payment_method` (or `expand[0]=...`): ids replaced by their objects."""
        wanted = {v for k, v in request.query.items() if k.startswith("expand[")}
        sources = {
            "payment_method": self.state.payment_methods,
            "customer": self.state.customers,
            "latest_charge": {c["id"]: c for c in self.state.payments.values()},
        }
        copy = dict(obj)
        for name in wanted:
            if name not in sources:
                raise StripeFailure(f"This property cannot be expanded ({name}).", "expand")
            if isinstance(copy.get(name), str):
                copy[name] = sources[name].get(copy[name], copy[name])
        return copy

    # sessions ------------------------------------------------------------------------------

    async def create_session(self, request: web.Request) -> web.Response:
        return web.json_response(self.state.create_session(await self.params(request)))

    async def get_session(self, request: web.Request) -> web.Response:
        return web.json_response(self.expire_if_due(self.state.session(request.match_info["id"])))

    async def list_sessions(self, request: web.Request) -> web.Response:
        since = int(request.query.get("created[gte]", "0") or 0)
        limit = min(int(request.query.get("limit", "10") or 10), 100)
        status = request.query.get("status")
        found = [
            self.expire_if_due(s)
            for s in reversed(self.state.sessions.values())
            if s["created"] >= since
        ]
        found = [s for s in found if status is None or s["status"] == status]
        after = request.query.get("starting_after")
        if after:
            ids = [s["id"] for s in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
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

    def pay(self, session: Obj, card: str | None, address: Mapping[str, Any]) -> None:
        """Completes the session with a test card and the shipping address typed (a card
        error or a missing address leaves it open)."""
        self.send(*self.state.complete(session, card, address))

    async def page(self, request: web.Request) -> web.Response:
        session = self.state.sessions.get(request.match_info["id"])
        if session is None:
            return _page("Unknown checkout", "<p>This checkout does not exist.</p>", 404)
        self.expire_if_due(session)
        if session["status"] != "open":
            return _page("Checkout closed", f"<p>This checkout is {session['status']}.</p>", 410)
        return self.checkout_page(session)

    def checkout_page(
        self,
        session: Obj,
        chosen: str = DEFAULT_CARD,
        error: str = "",
        status: int = 200,
        typed: Mapping[str, Any] | None = None,
    ) -> web.Response:
        setup = session["mode"] == "setup"
        terms = self.state.session_terms[session["id"]]
        saving = setup or bool(terms["payment_intent_data"].get("setup_future_usage"))
        verb = "Save" if setup else "Pay"
        body = ""
        if not setup:
            lines = "".join(
                f"<tr><td>{line['quantity']} × {escape(line['name'])}</td>"
                f"<td>{Money(line['amount'], line['currency'])}</td></tr>"
                for line in self.state.items[session["id"]]
            )
            details = session["total_details"]
            for label, key in (("Shipping", "amount_shipping"), ("Tax (test rate)", "amount_tax")):
                if details[key] or (key == "amount_shipping" and session["shipping_cost"]):
                    amount = Money(details[key], session["currency"])
                    lines += f'<tr class="{key}"><td>{label}</td><td>{amount}</td></tr>'
            total = Money(session["amount_total"], session["currency"])
            body += f"<table>{lines}<tr><th>Total</th><th>{total}</th></tr></table>"
        if error:
            body += f'<p class="error" role="alert">{escape(error)}</p>'
        choices = "".join(
            f'<label><input type="radio" name="card" value="{card.number}"'
            f"{' checked' if card.number == chosen else ''}> <code>{card.spaced()}</code> "
            f"{escape(card.label)}</label>"
            for card in TEST_CARDS.values()
            if card.listed
        )
        # The button names the chosen card (without script it stays right for the default).
        script = (
            "this.querySelector('button').textContent=this.dataset.verb+' with test card '+"
            "this.card.value.slice(-4)"
        )
        body += f'<form method="post" data-verb="{verb}" onchange="{escape(script)}">'
        if not setup:  # Stripe's Checkout asks every buyer for an email (customer_details)
            typed_email = (typed or {}).get("email") or session.get("customer_email") or ""
            body += (
                '<label>Email <input type="email" name="email" autocomplete="email" '
                f'value="{escape(str(typed_email or TEST_EMAIL))}"></label>'
            )
        if session.get("shipping_address_collection"):
            body += _address_fields(typed or {})
        body += self._rate_choices(session, typed or {})
        body += f"<fieldset><legend>Test card</legend>{choices}</fieldset>"
        if saving:
            body += (
                '<p class="save">Your card will be remembered for one-message buys. '
                "Type /unlink to forget it.</p>"
            )
        body += (
            f'<button type="submit">{verb} with test card {chosen[-4:]}</button></form>'
            f'<p><a href="{escape(session["cancel_url"])}">Cancel</a></p>'
        )
        return _page("Save card" if setup else "Checkout", body, status)

    def _rate_choices(self, session: Obj, typed: Mapping[str, Any]) -> str:
        """The shipping options as radio buttons, the chosen one checked."""
        rates = self.state.shipping_rates(session)
        if not rates:
            return ""
        cost = session["shipping_cost"]
        chosen = str(typed.get("shipping_rate") or (cost["shipping_rate"] if cost else ""))
        choices = "".join(
            f'<label><input type="radio" name="shipping_rate" value="{rate["id"]}"'
            f"{' checked' if rate['id'] == chosen else ''}> {escape(rate['display_name'])}: "
            f"{Money(rate['amount'], session['currency'])}</label>"
            for rate in rates
        )
        return f"<fieldset><legend>Shipping</legend>{choices}</fieldset>"

    async def pay_from_page(self, request: web.Request) -> web.Response:
        session = self.state.sessions.get(request.match_info["id"])
        if session is None:
            return _page("Unknown checkout", "<p>This checkout does not exist.</p>", 404)
        self.expire_if_due(session)
        if session["status"] == "complete":
            done = "saved" if session["mode"] == "setup" else "paid"
            return _page(f"Already {done}", f"<p>This checkout is {done} already.</p>", 409)
        if session["status"] != "open":
            return _page("Checkout expired", "<p>This checkout has expired.</p>", 410)
        form = await request.post()
        card = str(form.get("card") or DEFAULT_CARD)
        try:
            self.pay(session, card, form)
        except StripeFailure as failure:
            message = str(failure.body["error"]["message"])
            chosen = card if card in TEST_CARDS else DEFAULT_CARD
            return self.checkout_page(session, chosen, message, failure.status, form)
        target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])
        raise web.HTTPSeeOther(target)

    async def pay_for_scripts(self, request: web.Request) -> web.Response:
        session = self.expire_if_due(self.state.session(request.match_info["id"]))
        if session["status"] != "open":
            raise StripeFailure(f"The session is {session['status']}.", "session", 409)
        form = await request.post()
        card = form.get("card")
        self.pay(session, str(card) if card else None, form)
        return web.json_response(session)

    async def settle_intent(self, request: web.Request) -> web.Response:
        """Ends a processing payment: `outcome=succeeded|failed`; `webhook=0` keeps its event
        from being delivered (listed by /v1/events, as a delivery that never arrived)."""
        form = await request.post()
        outcome = form.get("outcome", "succeeded")
        if outcome not in ("succeeded", "failed"):
            raise StripeFailure("outcome is succeeded or failed.", "outcome")
        event = self.state.settle(request.match_info["id"], outcome == "succeeded")
        if form.get("webhook", "1") != "0":
            self.send(event)
        return web.json_response(event["data"]["object"])

    # refunds, disputes, events ---------------------------------------------------------------

    async def create_refund(self, request: web.Request) -> web.Response:
        params = await self.params(request)
        if params.get("charge"):
            charge = self.state.charge_by_id(str(params["charge"]))
        else:
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
        charge["disputed"] = True
        self.state.disputes[charge["payment_intent"]] = dispute
        self.send(self.state.event("charge.dispute.created", dispute))
        return web.json_response(dispute)

    async def close_dispute(self, request: web.Request) -> web.Response:
        charge = self.state.charge(request.match_info["pi"])
        dispute = self.state.disputes.get(charge["payment_intent"])
        status = request.query.get("status", "won")
        if dispute is None or status not in ("won", "lost"):
            raise StripeFailure("No open dispute, or status is not won|lost.", "status")
        dispute["status"] = status
        self.send(self.state.event("charge.dispute.closed", dispute))
        return web.json_response(dispute)

    async def list_events(self, request: web.Request) -> web.Response:
        """Newest first: `type` or `types[]`, `created[gte]`, `delivery_success` (false: the
        events whose webhook never got a 2xx), paged by `starting_after`."""
        query = await self.request_params(request)
        kinds = query.get("types") or ([query["type"]] if query.get("type") else None)
        since = int((query.get("created") or {}).get("gte", 0) or 0)
        delivered = query.get("delivery_success")
        limit = min(int(query.get("limit", "10") or 10), 100)

        def wanted(event: Obj) -> bool:
            delivery = self.state.deliveries.get(event["id"])
            ok = delivery is not None and delivery.delivered
            return (
                (kinds is None or event["type"] in kinds)
                and event["created"] >= since
                and (delivered is None or ok == (delivered == "true"))
            )

        found = [e for e in reversed(self.state.events) if wanted(e)]
        after = query.get("starting_after")
        if after:
            ids = [e["id"] for e in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
        return web.json_response(_list(found[:limit], len(found) > limit, "/v1/events"))

    async def get_event(self, request: web.Request) -> web.Response:
        for event in self.state.events:
            if event["id"] == request.match_info["id"]:
                return web.json_response(event)
        raise StripeFailure("No such event", "id", 404, code="resource_missing")

    async def deliveries(self, request: web.Request) -> web.Response:
        return web.json_response([vars(d) for d in self.state.deliveries.values()])

    # webhooks ------------------------------------------------------------------------------

    def send(self, *events: Obj) -> None:
        """Delivers in the background; the events of one action one after the other."""
        if events:
            task = asyncio.create_task(self.deliver_all(events))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def deliver_all(self, events: tuple[Obj, ...]) -> None:
        for event in events:
            await self.deliver(event)

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


# The shipping address inputs: Stripe's field name -> label, autocomplete token.
ADDRESS_INPUTS = {
    "name": ("Name", "name"),
    "line1": ("Address line 1", "address-line1"),
    "line2": ("Address line 2", "address-line2"),
    "postal_code": ("Postal code", "postal-code"),
    "city": ("City", "address-level2"),
    "state": ("State", "address-level1"),
    "country": ("Country (two letters)", "country"),
}


def _address_fields(typed: Mapping[str, Any]) -> str:
    """The shipping address inputs, holding what was typed or else the test address."""
    inputs = "".join(
        f'<label>{label} <input name="{name}" autocomplete="shipping {token}" '
        f'value="{escape(str(typed.get(name, TEST_ADDRESS[name])))}"></label>'
        for name, (label, token) in ADDRESS_INPUTS.items()
    )
    return f"<fieldset><legend>Shipping address</legend>{inputs}</fieldset>"


def from_loopback(request: web.Request) -> bool:
    """The TCP peer is this machine (127.0.0.0/8, ::1) and relays nobody else's request."""
    if any(name in request.headers for name in FORWARDED):
        return False
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not isinstance(peer, tuple) or not peer:
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _route(request: web.Request) -> str:
    """The path inside the emulator: /v1/..., /pay/..., /_test/...."""
    return request.path.split("/stripe-emulator", 1)[-1]


def _pattern(request: web.Request) -> str:
    """The matched route's pattern from /v1/ on (/v1/customers/{id}); the path when no route
    matched."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    return path[path.find("/v1/") :] if "/v1/" in path else path


def _api_key(authorization: str) -> str:
    """The key of `Authorization: Bearer KEY` or of Basic auth (`curl -u KEY:`, as Stripe
    also takes it)."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
        except (ValueError, UnicodeDecodeError):
            return ""
    return ""


def _masked(key: str) -> str:
    """A key as Stripe shows a wrong one: its kind, stars, and its last four characters."""
    kind = next(
        (p for p in ("sk_test_", "sk_live_", "rk_test_", "rk_live_") if key.startswith(p)), ""
    )
    rest = key[len(kind) :]
    tail = rest[-4:] if len(rest) > 8 else ""
    return kind + "*" * min(len(rest) - len(tail), 32) + tail


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"error": {"type": "invalid_request_error", "message": message}}, status=status
    )


def _list(data: list[Obj], has_more: bool, url: str) -> Obj:
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:0 auto;padding:1rem}}
.test{{background:#ffb020;color:#000;padding:.6rem;text-align:center;font-weight:bold}}
table{{width:100%;margin:1rem 0}}fieldset{{border:0;padding:0;margin:1rem 0}}
label{{display:block;padding:.3rem 0}}.error{{color:#b00020;font-weight:bold}}
td,th{{padding:.3rem 0}}td+td,th+th{{text-align:right}}
button{{width:100%;padding:1rem;font-size:1.1rem;background:#635bff;color:#fff;border:0;
border-radius:.4rem}}</style></head><body><div class="test">TEST MODE — no real money</div>
<h1>{title}</h1>{body}<p><small>livebuy's local Stripe emulator</small></p></body></html>"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    html = PAGE.format(title=escape(title), body=body)
    return web.Response(text=html, content_type="text/html", status=status)
