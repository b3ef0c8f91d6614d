"""The dashboard's overlays page: the OBS browser source address of each chat and show, with
its key (bots.web.overlay: an HMAC under the admin token, so only the shop can hand it out),
and a box for any other chat id (`twitch:<broadcaster id>`, `youtube:<liveChatId>`, …)."""

import aiohttp_jinja2
from aiohttp import web

from bots.web.overlay import TARGET, overlay_url
from commerce.service_layer import queries
from webhooks.dashboard.replies import bus_of
from webhooks.keys import ADMIN_TOKEN, SETTINGS

routes = web.RouteTableDef()


@routes.get("/overlays")
async def overlays_page(request: web.Request) -> web.Response:
    reads = bus_of(request).reads
    base = request.config_dict[SETTINGS].public_base_url
    secret = request.config_dict[ADMIN_TOKEN]
    shows = await queries.shows(reads)
    chats = set(await queries.drop_chats(reads)) | {c for s in shows for c in s.channels}
    chats.add("web:demo")
    targets = sorted(chats) + [f"show:{s.code}" for s in shows]
    asked = request.query.get("chat", "").strip()
    error = ""
    if asked and not TARGET.match(asked):
        error = (
            "A chat id looks like web:room, telegram:-100…, twitch:123, youtube:… or show:CODE."
        )
    elif asked and asked not in targets:
        targets.insert(0, asked)
    context = {
        "rows": [(t, overlay_url(base, secret, t)) for t in targets if TARGET.match(t)],
        "asked": asked,
        "error": error,
    }
    return aiohttp_jinja2.render_template("overlays.html", request, context)
