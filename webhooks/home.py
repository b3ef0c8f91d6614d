"""The home page (`/`), the first address the banner prints: what this server is and where to
go next (the web chat rooms where something is live, the dashboard, the docs), and in local
mode a button to try a purchase in the demo room. `/docs` serves the README it points to."""

import asyncio
from html import escape
from pathlib import Path

from aiohttp import web

from commerce.service_layer import queries
from webhooks.keys import BUS, SETTINGS

routes = web.RouteTableDef()
README = Path(__file__).resolve().parents[1] / "README.md"  # beside the code, offline too
DEMO_ROOM = "demo"

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>livebuy</title><style>
body{{font-family:system-ui,sans-serif;max-width:40rem;margin:0 auto;padding:1.5rem 1rem;
line-height:1.5;overflow-wrap:anywhere}}
h1{{margin:0 0 .3rem}}h2{{font-size:1.1rem;margin:1.6rem 0 .4rem}}
ul{{padding-left:1.2rem}}.muted{{color:#666}}
a.button{{display:inline-block;padding:.6rem 1.3rem;background:#635bff;color:#fff;
border-radius:.4rem;text-decoration:none;font-weight:600}}
</style></head><body>
<h1>livebuy</h1>
<p>This server sells in live chats: a seller starts a drop, buyers type <code>#buy</code> in
Telegram, Discord or the web chat, and each winner gets a private link to pay with Stripe.</p>
{try_it}
<h2>Live now</h2>
{rooms}
<h2>For the seller</h2>
<ul><li><a href="/dashboard">Dashboard</a>: orders, sales, shows, shipping.</li>
<li><a href="/docs">Docs</a>: the README (setup, the <code>livebuy</code> command, settings,
finding chat ids).</li></ul>
</body></html>"""


@routes.get("/")
async def home(request: web.Request) -> web.Response:
    reads = request.app[BUS].reads
    rooms, everywhere = await queries.live_rooms(reads, "web")
    local = request.app[SETTINGS].stripe_secret_key is None
    if everywhere and DEMO_ROOM not in rooms:
        rooms.append(DEMO_ROOM)  # a drop in every chat is live in any room; name one
    if rooms:
        items = "".join(
            f'<li><a href="/chat/{escape(room)}">#{escape(room)}</a></li>' for room in rooms
        )
        listed = f"<ul>{items}</ul>"
    else:
        listed = (
            '<p class="muted">Nothing is live in the web chat right now. Rooms with a live '
            "drop, auction or show appear here; a seller starts one with "
            "<code>livebuy drop start</code> or <code>/drop</code> in a chat.</p>"
        )
    try_it = ""
    if local:
        try_it = (
            f'<p><a class="button" href="/chat/{DEMO_ROOM}">Try a purchase</a> '
            '<span class="muted">local mode: payments go to the built-in Stripe emulator, '
            "no real money.</span></p>"
        )
    html = PAGE.format(try_it=try_it, rooms=listed)
    return web.Response(text=html, content_type="text/html")


DOCS = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>livebuy · docs</title><style>
body{{margin:0 auto;max-width:52rem;padding:1rem}}
pre{{font:.9rem/1.45 ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere}}
</style></head><body><pre>{readme}</pre></body></html>"""


@routes.get("/docs")
async def docs(request: web.Request) -> web.Response:
    """The README as written (Markdown, no network needed to read it), in a page a phone
    lays out at its own width: plain text is laid out 980 px wide there and shrunk."""
    if not README.is_file():
        raise web.HTTPNotFound(text="the README is not installed with this copy of livebuy")
    readme = escape(await asyncio.to_thread(README.read_text, encoding="utf-8"))
    return web.Response(text=DOCS.format(readme=readme), content_type="text/html")
