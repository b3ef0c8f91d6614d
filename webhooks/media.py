"""GET /media/<sha256>.<ext>: the product pictures of the media folder (LIVEBUY_MEDIA_DIR).

Names are content hashes, so a name always means the same bytes: browsers and chat platforms
may keep them for a year. Only names of that form are looked up (no path is ever built from
anything else), and the content type comes from the extension the upload was checked for."""

from aiohttp import web

from commerce.adapters.media import MediaFolder
from commerce.domain.media import CONTENT_TYPES
from webhooks.keys import SETTINGS

routes = web.RouteTableDef()


@routes.get("/media/{name}")
async def media(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    found = MediaFolder(request.app[SETTINGS].media_dir).path(name)
    if found is None:
        raise web.HTTPNotFound(text="no such picture")
    return web.FileResponse(
        found,
        headers={
            "Content-Type": CONTENT_TYPES[name.rpartition(".")[2]],
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
