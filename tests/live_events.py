"""Reading a web chat's live event stream (server-sent events) in tests."""

import contextlib
import json
import re
from typing import Any

from aiohttp import ClientResponse, ClientSession


async def read_events(stream: ClientResponse, into: list[dict[str, Any]]) -> None:
    """Collects the stream's `data:` events until the server ends it or the reader is
    cancelled. The response is closed either way: one left open holds a connection that the
    garbage collector reports later, during whichever test runs then."""
    try:
        with contextlib.suppress(RuntimeError):  # the server closes the stream at the end
            async for line in stream.content:
                if line.startswith(b"data: "):
                    into.append(json.loads(line[6:]))
    finally:
        stream.close()


VIEWER = re.compile(r'data-viewer="(web:v_[0-9a-f]+)"')


async def enter(http: ClientSession, base: str, room: str) -> str:
    """Opens the room's page as a browser does (the server issues the cookie) and returns
    the viewer's public identity, which the page names."""
    async with http.get(f"{base}/chat/{room}") as page:
        assert page.status == 200, await page.text()
        found = VIEWER.search(await page.text())
    assert found is not None, "the page names its viewer"
    return found[1]


async def issued_cookie(http: ClientSession, base: str, room: str) -> str:
    """A cookie the server issued, for tests that send it by hand."""
    async with http.get(f"{base}/chat/{room}") as page:
        assert page.status == 200
        return page.cookies["livebuy_viewer"].value
