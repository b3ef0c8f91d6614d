"""Reading a web chat's live event stream (server-sent events) in tests."""

import contextlib
import json
from typing import Any

from aiohttp import ClientResponse


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
