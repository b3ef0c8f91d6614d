"""GET /giveaways/{id}: the public record of a giveaway, to check its draw (no login).

Everything needed to recompute the winner: the commitment published at the start, the entry
list as published (numbers and names, never platform ids) and, once drawn, the seed.
"""

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
    return web.json_response(
        {
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
    )
