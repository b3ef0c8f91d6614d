"""The web chat hub keeps a room's latest public lines for whoever joins later."""

import json

from bots.web.hub import HISTORY, ChatHub, Viewer


async def test_a_late_viewer_gets_the_last_public_lines_then_the_rooms_state() -> None:
    hub = ChatHub()
    for n in range(HISTORY + 5):
        hub.to_room("demo", {"type": "message", "name": "anna", "text": f"line {n}"})
    hub.to_room("demo", {"type": "bot", "text": "TEE sold to @anna"})
    hub.to_identity("web:anna", {"type": "private", "text": "pay here"})  # nobody else's
    hub.to_room("other", {"type": "message", "name": "ben", "text": "elsewhere"})
    hub.to_room("demo", {"type": "board", "code": "OLD", "status": "ended"})
    board = {"type": "board", "code": "TEE", "status": "live"}
    async with hub.join("demo", Viewer("web:cleo", "cleo"), [board]) as cleo:
        events = [json.loads(cleo.queue.get_nowait() or "") for _ in range(cleo.queue.qsize())]
    history, state = events
    texts = [line["text"] for line in history["lines"]]
    assert history["type"] == "history" and len(texts) == HISTORY
    assert texts[0] == "line 6" and texts[-1] == "TEE sold to @anna"
    assert state == board  # the database's live drop, not the ended one remembered here
    async with hub.join("empty", Viewer("web:dan", "dan")) as dan:
        assert dan.queue.empty()  # nothing said there yet: no history event


async def test_a_stream_that_joins_during_the_shutdown_ends_at_once() -> None:
    """A stream still reading its room's state from the database when the shutdown began
    joins after `close`: it must end too, or the shutdown waits for the browser to leave
    (aiohttp's shutdown timeout, a minute or two)."""
    hub = ChatHub()
    async with hub.join("shop", Viewer("web:v_1", "")) as early:
        hub.close()
        assert early.queue.get_nowait() is None
        async with hub.join("shop", Viewer("web:v_2", "")) as late:
            assert late.queue.get_nowait() is None
    assert hub.rooms == {}
