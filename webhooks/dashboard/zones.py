"""The dashboard's shipping zones: where the shop ships and what a package costs there,
added and removed as with `livebuy shipping zone …`. Forms post with the CSRF token (checked
by the dashboard's middleware); refused input is a 4xx that says why and changes nothing."""

import aiohttp_jinja2
from aiohttp import web

from commerce.domain import commands as c
from commerce.domain.errors import CommerceError, NotFound
from commerce.domain.money import Money
from commerce.domain.shipping import Zone
from webhooks.dashboard.replies import bus_of, refuse
from webhooks.dashboard.shows import csrf_of, finished
from webhooks.keys import SETTINGS

routes = web.RouteTableDef()
HERE = "/dashboard/zones"


def zone_view(zone: Zone) -> dict[str, str]:
    def money(minor: int | None) -> str:
        return "—" if minor is None else str(Money(minor, zone.currency))

    return {
        "name": zone.name,
        "countries": zone.countries_text(),
        "first": money(zone.first),
        "each": money(zone.each),
        "cap": money(zone.cap),
    }


@routes.get("/zones")
async def zones_page(request: web.Request) -> web.Response:
    zones: list[Zone] = await bus_of(request).handle(c.ListZones())
    context = {
        "csrf": csrf_of(request),
        "message": request.query.get("msg", "")[:200],
        "zones": [zone_view(z) for z in zones],
        "currency": request.config_dict[SETTINGS].livebuy_currency.upper(),
    }
    return aiohttp_jinja2.render_template("zones.html", request, context)


@routes.post("/zones")
async def add_zone(request: web.Request) -> web.Response:
    form = {k: str(v).strip() for k, v in (await request.post()).items()}
    currency = request.config_dict[SETTINGS].livebuy_currency
    try:
        zone = Zone.parse(
            form.get("name", ""),
            form.get("countries", ""),
            form.get("first", ""),
            form.get("each", ""),
            form.get("cap") or None,
            currency,
        )
        added: Zone = await bus_of(request).handle(c.AddZone(zone))
    except CommerceError as exc:
        return refuse(request, str(exc), 400)
    return finished(request, f"Zone {added.name} added.", HERE)


@routes.post("/zones/{name}/remove")
async def remove_zone(request: web.Request) -> web.Response:
    try:
        removed: Zone = await bus_of(request).handle(c.RemoveZone(request.match_info["name"]))
    except NotFound as exc:
        return refuse(request, str(exc), 404)
    return finished(request, f"Zone {removed.name} removed.", HERE)
