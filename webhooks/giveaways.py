"""GET /giveaways/{id}: the public record of a giveaway, to check its draw (no login), in
JSON, or as a page for a browser (the chat card's "check the draw" link, read on a phone).

Everything needed to recompute the winner: the commitment published at the start, the entry
list as published (numbers and names, never platform ids) and, once drawn, the seed.
"""

from html import escape
from typing import Any

from aiohttp import web

from commerce.domain.errors import NotFound
from commerce.domain.giveaways import ALGORITHM
from commerce.service_layer import queries
from webhooks.keys import BUS

routes = web.RouteTableDef()


@routes.get("/giveaways/{id:[0-9]{1,12}}")
async def giveaway_page(request: web.Request) -> web.Response:
    try:
        record = await queries.giveaway(request.app[BUS].reads, int(request.match_info["id"]))
    except NotFound:
        raise web.HTTPNotFound(text="no such giveaway") from None
    giveaway = record.giveaway
    drawn = giveaway.status == "drawn"
    data = {
        "id": giveaway.id,
        "item": giveaway.name,
        "sku": giveaway.sku,
        "status": giveaway.status,
        "outcome": giveaway.outcome or None,
        "commitment": giveaway.commitment,
        "starts_at": giveaway.starts_at.isoformat(),
        "ends_at": giveaway.ends_at.isoformat(),
        "entries": [[number, name] for number, name in record.entries],
        "seed": giveaway.seed if drawn else None,
        "winner": giveaway.winner_number if drawn else None,
        "algorithm": ALGORITHM,
    }
    if request.query.get("format") != "json" and _wants_html(request):
        return web.Response(text=_page(data), content_type="text/html")
    return web.json_response(data)


def _wants_html(request: web.Request) -> bool:
    """A browser (the chat card's "check the draw" link) asks for HTML first; programs that
    check the draw get JSON, as they always did (and with ?format=json)."""
    accept = request.headers.get("Accept", "")
    return accept.split(",")[0].strip().startswith("text/html")


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Giveaway {id} · livebuy</title><style>
body{{font-family:system-ui,sans-serif;max-width:40rem;margin:0 auto;padding:1rem;
line-height:1.5;overflow-wrap:anywhere}}
code{{font-size:.9em;word-break:break-all}}ol{{padding-left:1.6rem}}
.won{{font-weight:700}}.muted{{color:#666}}
</style></head><body>
<h1>🎁 {item}</h1>
<p>{status}</p>
<p>Commitment (sha256 of the seed, published at the start): <code>{commitment}</code></p>
<p>Seed: {seed}</p>
<h2>Entries</h2>
{entries}
<p class="muted">How to check it: {algorithm}.</p>
<p><a href="?format=json">This record as JSON</a></p>
</body></html>"""


def _page(data: dict[str, Any]) -> str:
    """The public record for people: what the JSON says, laid out for a phone."""
    winner = data["winner"]
    if data["status"] == "drawn":
        status = f"Drawn: entry #{winner} won." if winner else "Drawn: nobody won."
    else:
        status = f"Open until {data['ends_at']}: the seed is published at the draw."
    entries = "".join(
        f'<li value="{n}"{" class=won" if n == winner else ""}>{escape(str(name))}</li>'
        for n, name in data["entries"]
    )
    return PAGE.format(
        id=data["id"],
        item=escape(str(data["item"])),
        status=escape(status),
        commitment=escape(str(data["commitment"])),
        seed=f"<code>{escape(str(data['seed']))}</code>" if data["seed"] else "not yet",
        entries=f"<ol>{entries}</ol>" if entries else "<p>No entries.</p>",
        algorithm=escape(str(data["algorithm"])),
    )
