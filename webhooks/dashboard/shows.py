"""The dashboard's shows: prepare one (a form, a CSV file or pasted CSV), add lots, run it with
"Next lot", and read its report with charts drawn on the server as inline SVG (no script, no
external files: the dashboard works offline).

Forms post with the CSRF token (checked by the dashboard's middleware). Refused input is a
4xx that says why; a show and its run sheet are created in one command (`CreateShow` with
its lots), so a bad CSV line or an unknown product leaves nothing behind.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from commerce.adapters.show_report import ShowReport, SqlShowReport
from commerce.domain import commands as c
from commerce.domain.drops import parse_duration
from commerce.domain.errors import CommerceError, InvalidInput, NotFound
from commerce.domain.shipping import ShippingPolicy
from commerce.domain.shows import MAX_LOTS, LotSpec, parse_lots_csv, parse_start
from commerce.service_layer import queries
from webhooks.dashboard import auth
from webhooks.dashboard.replies import bus_of, refuse, wants_json
from webhooks.keys import ADMIN_TOKEN, ENGINE, SETTINGS

routes = web.RouteTableDef()
MAX_CSV = 256 * 1024  # bytes of a run sheet
CHART_W, CHART_H = 600, 150  # the sales chart's drawing box (the bars get 120 of the height)
BAR_H = 120


def csrf_of(request: web.Request) -> str:
    from webhooks.dashboard import NONCE

    return auth.csrf_token(request.config_dict[ADMIN_TOKEN], request[NONCE])


def finished(request: web.Request, message: str, where: str) -> web.Response:
    if wants_json(request):
        return web.json_response({"ok": True, "message": message})
    raise web.HTTPSeeOther(f"{where}?msg={quote(message)}")


async def form_of(request: web.Request) -> tuple[dict[str, str], str | None]:
    """The form's text fields, and the uploaded CSV's text if a file came with it."""
    fields: dict[str, str] = {}
    upload = None
    for name, value in (await request.post()).items():
        if isinstance(value, web.FileField):
            data = value.file.read(MAX_CSV + 1)
            if len(data) > MAX_CSV:
                raise InvalidInput(f"the CSV file is larger than {MAX_CSV // 1024} KB")
            if data:
                try:
                    upload = data.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidInput("the CSV file is not UTF-8 text") from None
        else:
            fields[name] = str(value).strip()
    return fields, upload


# the list and the forms ---------------------------------------------------------------------


@routes.get("/shows")
async def shows_page(request: web.Request) -> web.Response:
    shows = await queries.shows(bus_of(request).reads)
    context = {
        "csrf": csrf_of(request),
        "message": request.query.get("msg", "")[:200],
        "shows": shows,
        "max_lots": MAX_LOTS,
    }
    return aiohttp_jinja2.render_template("shows.html", request, context)


@routes.post("/shows")
async def create_show(request: web.Request) -> web.Response:
    try:
        form, upload = await form_of(request)
        title = form.get("title", "")
        if not title:
            raise InvalidInput("title is required")
        starts_at = parse_start(form.get("start") or "")
        chats = tuple(ch.strip() for ch in form.get("chats", "").split(",") if ch.strip())
        text = upload or form.get("lots_csv", "")
        lots = tuple(parse_lots_csv(text)) if text.strip() else ()
        currency = request.config_dict[SETTINGS].livebuy_currency
        policy = ShippingPolicy.parse(form.get("shipping") or "buyer", currency)
        show = await bus_of(request).handle(
            c.CreateShow(title, starts_at, chats, form.get("code") or None, lots=lots,
                         actor="dashboard", shipping=policy)
        )  # fmt: skip
    except NotFound as exc:
        return refuse(request, str(exc), 404)
    except CommerceError as exc:
        return refuse(request, str(exc), 400)
    lots_text = f" with {len(show.lots)} lots" if show.lots else ""
    return finished(
        request, f"Show {show.code} created{lots_text}.", f"/dashboard/shows/{show.code}"
    )


@routes.post("/shows/lots")  # the show named in the form
@routes.post("/shows/{code}/lots")
async def add_lot(request: web.Request) -> web.Response:
    try:
        form, _ = await form_of(request)
        code = (request.match_info.get("code") or form.get("show", "")).upper()
        if not code:
            raise InvalidInput("show is required")
        spec = LotSpec.preset(
            form.get("sku", ""),
            form.get("mode") or "pdd",
            price=price_of(form.get("price", "")),
            quantity=int(form["quantity"]) if form.get("quantity") else None,
            duration=parse_duration(form["duration"]) if form.get("duration") else None,
            close=form.get("close") or None,
        )
        show = await bus_of(request).handle(c.AddLot(code, spec))
    except ValueError:
        return refuse(request, "quantity must be a whole number", 400)
    except NotFound as exc:
        return refuse(request, str(exc), 404)
    except CommerceError as exc:
        return refuse(request, str(exc), 400)
    lot = show.lots[-1]
    where = f"/dashboard/shows/{show.code}"
    return finished(request, f"Lot {lot.position} ({lot.sku}) added.", where)


def price_of(text: str) -> Decimal | None:
    if not text:
        return None
    try:
        return Decimal(text.replace(",", ".").strip("€$£ "))
    except InvalidOperation:
        raise InvalidInput(f"'{text[:20]}' is not a price") from None


@routes.post("/shows/{code}/next")
async def next_lot(request: web.Request) -> web.Response:
    code = request.match_info["code"].upper()
    try:
        show = await bus_of(request).handle(c.NextLot(show=code, actor="dashboard"))
    except NotFound as exc:
        return refuse(request, str(exc), 404)
    except CommerceError as exc:
        return refuse(request, str(exc), 400)
    lot = show.current
    said = f"Lot {lot.position} ({lot.sku}) is live." if lot else f"{show.code} moved on."
    return finished(request, said, f"/dashboard/shows/{code}")


# one show: run sheet and report ---------------------------------------------------------------


@routes.get("/shows/{code}")
async def show_page(request: web.Request) -> web.Response:
    bus = bus_of(request)
    code = request.match_info["code"].upper()
    try:
        show = await queries.show(bus.reads, code)
        report = await SqlShowReport(request.config_dict[ENGINE]).report(code, bus.clock.now())
    except NotFound as exc:
        return refuse(request, str(exc), 404)
    if wants_json(request):
        return web.json_response(report.as_dict())
    context = {
        "csrf": csrf_of(request),
        "message": request.query.get("msg", "")[:200],
        "show": show,
        "report": report,
        "lots": report.rows(),
        "chart": sales_chart(report),
        "funnel": funnel_bars(report),
        "platforms": platform_bars(report),
    }
    return aiohttp_jinja2.render_template("show.html", request, context)


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    peak: bool
    title: str


def sales_chart(report: ShowReport) -> dict[str, Any]:
    """Paid orders per minute as bars in a CHART_W × CHART_H box, the peaks marked."""
    minutes = report.minutes
    top = max((m.paid for m in minutes), default=0)
    width = CHART_W / max(1, len(minutes))
    bars = []
    for i, m in enumerate(minutes):
        height = BAR_H * m.paid / top if top else 0
        title = f"{m.minute:%H:%M}: {m.paid} paid of {m.orders}, {report.money(m.revenue_minor)}"
        bars.append(
            Bar(
                x=round(i * width, 2),
                y=round(10 + BAR_H - height, 2),
                width=round(max(width - 1, 0.5), 2),
                height=round(height, 2),
                peak=m.peak,
                title=title + (" (peak)" if m.peak else ""),
            )
        )
    return {
        "bars": bars,
        "top": top,
        "first": f"{minutes[0].minute:%H:%M}" if minutes else "",
        "last": f"{minutes[-1].minute:%H:%M}" if minutes else "",
        "width": CHART_W,
        "height": CHART_H,
    }


def funnel_bars(report: ShowReport) -> list[dict[str, Any]]:
    f = report.funnel
    steps = [("Claims", f.claims, None), ("Checkouts", f.checkouts, f.claims),
             ("Paid", f.paid, f.checkouts)]  # fmt: skip
    top = max(1, f.claims, f.checkouts, f.paid)
    return [
        {
            "label": label,
            "count": count,
            "percent": round(100 * count / top, 1),
            "rate": f"{100 * count / before:.0f} %" if before else "",
        }
        for label, count, before in steps
    ]


def platform_bars(report: ShowReport) -> list[dict[str, Any]]:
    names = sorted(set(report.chatters) | set(report.buyers))
    top = max([1, *report.chatters.values(), *report.buyers.values()])
    return [
        {
            "platform": name,
            "chatters": report.chatters.get(name, 0),
            "buyers": report.buyers.get(name, 0),
            "chatters_pct": round(100 * report.chatters.get(name, 0) / top, 1),
            "buyers_pct": round(100 * report.buyers.get(name, 0) / top, 1),
        }
        for name in names
    ]
