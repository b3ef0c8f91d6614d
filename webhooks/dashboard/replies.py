"""How the dashboard answers: JSON to its script, a redirect or a page to a plain form."""

from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web

from commerce.service_layer.messagebus import MessageBus
from webhooks.keys import BUS


def wants_json(request: web.Request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def refuse(request: web.Request, message: str, status: int) -> web.Response:
    if wants_json(request):
        return web.json_response({"error": message}, status=status)
    return aiohttp_jinja2.render_template(
        "message.html", request, {"title": "Not done", "message": message}, status=status
    )


def done(request: web.Request, message: str) -> web.Response:
    if wants_json(request):
        return web.json_response({"ok": True, "message": message})
    raise web.HTTPSeeOther(f"/dashboard?msg={quote(message)}")


def bus_of(request: web.Request) -> MessageBus:
    return request.config_dict[BUS]
