"""The dashboard's after-sale work: **To ship** (paid packages not shipped yet, oldest
first, overdue after LIVEBUY_SHIP_WITHIN business days) with a Ship form per package, the
packing list of a show or a day (a printable page or a CSV), and Cancel for unpaid orders.

Everything goes through the bus (ShipOrders, ListToShip, PackingList, CancelOrder); forms
post with the CSRF token (checked by the dashboard's middleware); refused input is a 4xx
that says why and changes nothing.
"""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from commerce.domain import commands as c
from commerce.domain.drops import parse_duration
from commerce.domain.errors import CommerceError, InvalidInput, NotFound
from commerce.domain.fulfilment import CARRIERS
from commerce.service_layer.packages import Package
from commerce.service_layer.ports import PaymentError
from webhooks import packing
from webhooks.dashboard.replies import bus_of, refuse, wants_json
from webhooks.dashboard.shows import csrf_of

routes = web.RouteTableDef()
HERE = "/dashboard/shipping"


def finished(request: web.Request, message: str, where: str = HERE) -> web.Response:
    if wants_json(request):
        return web.json_response({"ok": True, "message": message})
    raise web.HTTPSeeOther(f"{where}?msg={quote(message)}")


def refused(request: web.Request, exc: CommerceError | PaymentError) -> web.Response:
    return refuse(request, str(exc), 404 if isinstance(exc, NotFound) else 400)


@routes.get("/shipping")
async def to_ship_page(request: web.Request) -> web.Response:
    packages: list[Package] = await bus_of(request).handle(c.ListToShip())
    context = {
        "csrf": csrf_of(request),
        "message": request.query.get("msg", "")[:200],
        "packages": packages,
        "overdue": sum(p.overdue for p in packages),
        "carriers": sorted({carrier.name for carrier in CARRIERS.values()}),
        "today": datetime.now(UTC).strftime("%Y-%m-%d"),
    }
    return aiohttp_jinja2.render_template("shipping.html", request, context)


@routes.post("/packages/{ref}/ship")
async def ship(request: web.Request) -> web.Response:
    form = {k: str(v).strip() for k, v in (await request.post()).items()}
    ref = request.match_info["ref"]
    parcel = c.Parcel((ref,), form.get("tracking", ""), form.get("carrier", ""))
    try:
        (shipped,) = await bus_of(request).handle(c.ShipOrders((parcel,), "dashboard"))
    except (CommerceError, PaymentError) as exc:
        return refused(request, exc)
    carried = f" with {shipped.carrier}" if shipped.carrier else ""
    orders = ", ".join(shipped.refs)
    return finished(request, f"Shipped {orders}{carried}, tracking {shipped.tracking}.")


@routes.get("/packing")
async def packing_list(request: web.Request) -> web.Response:
    """?show=CODE, or ?day=YYYY-MM-DD (UTC), or ?since=24h; &format=csv for the CSV."""
    query = request.query
    try:
        show = query.get("show", "").strip() or None
        since, until = _window(query.get("day", "").strip(), query.get("since", "").strip())
        if show is None and since is None:
            raise InvalidInput("choose a show or a day for the packing list")
        packages = await bus_of(request).handle(c.PackingList(show, since, until))
    except CommerceError as exc:
        return refused(request, exc)
    if query.get("format") == "csv":
        name = f"packing-{show or (since.strftime('%Y-%m-%d') if since else 'list')}.csv"
        return web.Response(
            text=packing.to_csv(packages),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{_safe(name)}"'},
        )
    page = packing.to_html(packages, packing.title(show, since, until), datetime.now(UTC))
    return web.Response(text=page, content_type="text/html")


def _window(day: str, since: str) -> tuple[datetime | None, datetime | None]:
    if day:
        try:
            start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise InvalidInput(f"'{day[:20]}' is not a day like 2026-12-06") from None
        return start, start + timedelta(days=1)
    if since:
        return datetime.now(UTC) - parse_duration(since), None
    return None, None


def _safe(name: str) -> str:
    return "".join(ch for ch in name if ch.isalnum() or ch in "-_.")


@routes.post("/orders/{ref}/cancel")
async def cancel(request: web.Request) -> web.Response:
    form = {k: str(v).strip() for k, v in (await request.post()).items()}
    ref = request.match_info["ref"]
    reason = " ".join(form.get("reason", "").split())[:200]
    cause = "cancel:dashboard" + (f" ({reason})" if reason else "")
    try:
        release = await bus_of(request).handle(
            c.CancelOrder(None, ref, cause=cause[:200], reason=reason)
        )
    except (CommerceError, PaymentError) as exc:
        return refused(request, exc)
    went = "the waitlist's next buyer" if release.promoted else "stock"
    message = f"Order {release.order.ref} cancelled; its units went to {went}."
    return finished(request, message, "/dashboard")
