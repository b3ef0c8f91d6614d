"""The seller dashboard at /dashboard: products and stock, drops, live orders, refunds, the
funnel of each drop, sales per minute during a show, and a CSV export.

The page is one Jinja2 template; its script fills the tables from `/dashboard/state` and then
from a server-sent event stream that sends a new state whenever it changes. The stream reads
the database (once a second per open dashboard), so it shows what every worker process did.
Forms post with the CSRF token; a script asks for JSON (`Accept: application/json`), a plain
form post gets a redirect back (or a 4xx page that says what was wrong).
"""

import asyncio
import contextlib
import csv
import io
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from commerce.adapters.dashboard_sessions import MAX_LIFE, SqlSessions
from commerce.adapters.reports import Revenue, Sales, SqlReports
from commerce.domain.commands import CountThrottled
from commerce.domain.media import public_image_url
from commerce.domain.money import Money
from commerce.domain.orders import CANCELLABLE, OrderStatus
from commerce.service_layer import queries
from commerce.service_layer.results import AuctionView, DropView, OrderView, ProductView
from webhooks import spreadsheet
from webhooks.dashboard import auth, forms, overlays, shipping, shows, zones
from webhooks.dashboard.replies import bus_of, refuse, wants_json
from webhooks.keys import ADMIN_TOKEN, BUS, ENGINE, SETTINGS
from webhooks.peers import client_ip

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
POLL = web.AppKey("dashboard_poll", float)  # seconds between two looks at the database
CLOSING = web.AppKey("dashboard_closing", asyncio.Event)  # set at shutdown: streams end
THROTTLE = web.AppKey("dashboard_login_throttle", auth.LoginThrottle)
NONCE = web.RequestKey("dashboard_session", str)  # the session id, set by `signed_in`
REFUNDABLE = {OrderStatus.PAID, OrderStatus.FULFILLED, OrderStatus.PARTIALLY_REFUNDED}
ORDER_ROWS = 50  # the live table; the CSV has them all
PUBLIC = {"/dashboard/login", "/dashboard/static"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

routes = web.RouteTableDef()


def create_dashboard(poll: float = 1.0) -> web.Application:
    """The dashboard as a sub-application, to mount at /dashboard."""
    app = web.Application(middlewares=[signed_in])
    app[POLL] = poll
    app[CLOSING] = asyncio.Event()
    app[THROTTLE] = auth.LoginThrottle()

    async def end_streams(app: web.Application) -> None:
        app[CLOSING].set()

    app.on_shutdown.append(end_streams)
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
    )
    app.add_routes(routes)
    app.add_routes(forms.routes)
    app.add_routes(shows.routes)
    app.add_routes(shipping.routes)
    app.add_routes(zones.routes)
    app.add_routes(overlays.routes)
    app.router.add_static("/static", HERE / "static")
    return app


def sessions_of(request: web.Request) -> SqlSessions:
    return SqlSessions(request.config_dict[ENGINE], request.config_dict[SETTINGS].session_idle)


def now_of(request: web.Request) -> datetime:
    return request.config_dict[BUS].clock.now()


@web.middleware
async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page but the sign-in needs a live session; every POST also the CSRF token."""
    if any(request.path.startswith(p) for p in PUBLIC):
        return await handler(request)
    token = request.config_dict[ADMIN_TOKEN]
    nonce = auth.session_id_of(request)
    if nonce is None or not await sessions_of(request).seen(nonce, now_of(request)):
        if request.method == "GET" and not wants_json(request):
            raise web.HTTPSeeOther("/dashboard/login")
        return refuse(request, "sign in with the admin token first", 401)
    if request.method == "POST":
        # The header first: a product form with a picture is larger than the app reads with
        # post() (client_max_size); its handler streams it (forms.product_form).
        given = request.headers.get("X-CSRF-Token") or str((await request.post()).get("csrf", ""))
        if not auth.csrf_ok(token, nonce, given):
            return refuse(request, "the form is stale or forged: reload the dashboard", 403)
    request[NONCE] = nonce
    return await handler(request)


# sign-in ----------------------------------------------------------------------------------


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("login.html", request, {"error": None})


@routes.post("/login")
async def login(request: web.Request) -> web.Response:
    ip, throttle = client_ip(request), request.app[THROTTLE]
    wait = throttle.retry_after(ip)
    if wait:
        context = {"error": f"Too many wrong tokens from here: try again in {wait} s."}
        response = aiohttp_jinja2.render_template("login.html", request, context, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    form = await request.post()
    token = request.config_dict[ADMIN_TOKEN]
    if not auth.right_token(token, str(form.get("token", "")).strip()):
        throttle.failed(ip)
        context = {"error": "That is not the admin token. It is printed when livebuy starts."}
        return aiohttp_jinja2.render_template("login.html", request, context, status=403)
    throttle.succeeded(ip)
    session_id = await sessions_of(request).start(
        now_of(request), ip, request.headers.get("User-Agent", "")
    )
    response = web.HTTPSeeOther("/dashboard")
    response.set_cookie(
        auth.COOKIE,
        session_id,
        httponly=True,
        samesite="Strict",
        path="/dashboard",
        max_age=int(MAX_LIFE.total_seconds()),
        secure=request.config_dict[SETTINGS].secure_cookies,
    )
    raise response


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    await sessions_of(request).end(request[NONCE])
    response = web.HTTPSeeOther("/dashboard/login")
    response.del_cookie(auth.COOKIE, path="/dashboard")
    raise response


# the page and its data ----------------------------------------------------------------------


@routes.get("")
@routes.get("/")
async def page(request: web.Request) -> web.Response:
    settings = request.config_dict[SETTINGS]
    context = {
        "csrf": auth.csrf_token(request.config_dict[ADMIN_TOKEN], request[NONCE]),
        "message": request.query.get("msg", "")[:200],
        "currency": settings.livebuy_currency,
        "hold": settings.livebuy_hold,
    }
    return aiohttp_jinja2.render_template("dashboard.html", request, context)


@routes.get("/state")
async def state(request: web.Request) -> web.Response:
    return web.json_response(await snapshot(request))


@routes.get("/events")
async def events(request: web.Request) -> web.StreamResponse:
    stream = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await stream.prepare(request)
    last, closing, sessions = "", request.app[CLOSING], sessions_of(request)
    # A session signed out, revoked or timed out elsewhere ends its open streams too.
    while not closing.is_set() and await sessions.alive(request[NONCE], now_of(request)):
        data = json.dumps(await snapshot(request))
        try:  # a write to a browser that left fails here, which ends this handler
            await stream.write(f"data: {data}\n\n".encode() if data != last else b": ping\n\n")
        except ConnectionError:  # a closed tab: normal, not an error
            log.debug("a seller left the live stream of the dashboard")
            return stream
        last = data
        with contextlib.suppress(TimeoutError):  # (asyncio.timeout: see Courier.run)
            async with asyncio.timeout(request.app[POLL]):
                await closing.wait()
    return stream


async def snapshot(request: web.Request) -> dict[str, Any]:
    bus = bus_of(request)
    reports = SqlReports(request.config_dict[ENGINE])
    reads = bus.reads
    drops = await queries.drops(reads, limit=20)
    names = await reports.buyer_names(ORDER_ROWS)
    auctions = await queries.auctions(reads)
    return {
        "products": [product_json(p) for p in await queries.products(reads)],
        "drops": [drop_json(d) for d in drops],
        "auctions": [auction_json(a) for a in auctions[:20]],
        "chats": sorted({*await queries.drop_chats(reads), "web:demo"}),
        "orders": [
            order_json(o) | {"name": names.get(o.ref, "")}
            for o in await queries.orders(reads, limit=ORDER_ROWS)
        ],
        "funnel": [vars_of(row) for row in await reports.funnel()],
        "throttled": await bus.handle(CountThrottled()),
        "sales": [
            {"minute": s.minute.strftime("%H:%M"), "orders": s.orders, "amount": s.amount_minor}
            for s in await reports.sales_per_minute(bus.clock.now())
        ],
        "revenue": [revenue_json(r) for r in await reports.revenue()],
        "money": await money_figures(request, reports),
    }


async def money_figures(request: web.Request, reports: SqlReports) -> dict[str, Any]:
    """Revenue today (UTC), in the running show (or the last one) and all time, in the shop's
    currency, with the orders, units sold and the average order of each."""
    bus, currency = bus_of(request), request.config_dict[SETTINGS].livebuy_currency
    midnight = bus.clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    shows = await queries.shows(bus.reads)  # newest first
    running = [s for s in shows if s.status in ("live", "paused")]
    shown = running or [s for s in shows if s.status == "ended"]
    show = shown[0] if shown else None

    def figures(sales: Sales) -> dict[str, Any]:
        return {
            "revenue": str(Money(sales.revenue, sales.currency)),
            "orders": sales.orders,
            "items": sales.items,
            "average": str(Money(sales.average, sales.currency)),
        }

    return {
        "today": figures(await reports.sales(currency, since=midnight)),
        "all": figures(await reports.sales(currency)),
        "show": None
        if show is None
        else figures(await reports.sales(currency, show_id=show.id))
        | {"title": show.title, "status": show.status},
    }


def revenue_json(r: Revenue) -> dict[str, Any]:
    def money(minor: int) -> str:
        return str(Money(minor, r.currency))

    return {
        "currency": r.currency,
        "orders": r.orders,
        "items": money(r.items),
        "shipping": money(r.shipping),
        "tax": money(r.tax),
        "total": money(r.total),
        "packages": r.packages,
    }


def vars_of(row: Any) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}


def product_json(p: ProductView) -> dict[str, Any]:
    return {
        "sku": p.sku,
        "name": p.name,
        "price": str(p.price),
        "option": p.option,
        "variants": [{"label": v.label, "stock": v.stock} for v in p.variants],
        "stock": p.stock,
        "digital": p.digital,
        "image": public_image_url(p.image, "") if p.image else "",
        "description": p.description,
    }


def drop_json(d: DropView) -> dict[str, Any]:
    return {
        "code": d.code,
        "name": d.name,
        "price": str(d.price),
        "quantity": d.quantity,
        "remaining": d.remaining,
        "status": d.status,
        "waitlist": d.waitlist,
        "chats": list(d.channels),
        "ends_at": d.ends_at.isoformat() if d.ends_at else None,
    }


def auction_json(a: AuctionView) -> dict[str, Any]:
    return {
        "code": a.code,
        "name": a.name,
        "price": str(a.price or a.start),
        "bids": a.bids,
        "leader": a.leader_name or a.leader or "",
        "close": a.close,
        "status": a.status,
        "outcome": a.outcome,
        "chats": list(a.channels),
        "ends_at": a.ends_at.strftime("%H:%M:%S"),
    }


def order_json(o: OrderView) -> dict[str, Any]:
    return {
        "ref": o.ref,
        "created_at": o.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "drop": o.drop_code,
        "item": o.description,
        "quantity": o.quantity,
        "amount": str(o.amount),
        "shipping": str(o.shipping),
        "tax": str(o.tax),
        "status": o.status.value,
        "buyer": o.identity,
        "chat": o.chat,
        "ship_to": o.ship_to or "",
        "refundable": o.status in REFUNDABLE,
        "cancellable": o.status in CANCELLABLE,
    }


@routes.get("/orders.csv")
async def orders_csv(request: web.Request) -> web.Response:
    orders = await queries.orders(bus_of(request).reads, limit=1_000_000)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["ref", "created_at", "drop", "sku", "item", "variant", "quantity", "amount",
         "shipping", "tax", "total", "currency", "status", "buyer", "chat", "payment_ref",
         "refunded", "ship_to"]
    )  # fmt: skip
    for o in orders:
        writer.writerow(map(spreadsheet.cell,
            [o.ref, o.created_at.isoformat(), o.drop_code, o.sku, o.name, o.variant,
             o.quantity, o.amount.decimal(), o.shipping.decimal(), o.tax.decimal(),
             o.total.decimal(), o.amount.currency.upper(), o.status.value,
             o.identity, o.chat, o.payment_ref or "",
             o.refunded.decimal() if o.refunded else "", o.ship_to or ""]
        ))  # fmt: skip
    return web.Response(
        text=out.getvalue(),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="livebuy-orders.csv"'},
    )
