"""The hub keeps each viewer's latest private lines, for their next page (a reload)."""

import json

import pytest

from bots.web import hub as hub_module
from bots.web.hub import ChatHub, Viewer


async def test_a_viewers_private_lines_come_back_on_the_next_page_and_only_to_them() -> None:
    hub = ChatHub()
    for n in range(hub_module.MINE + 5):
        hub.to_identity("web:v_anna", {"type": "private", "text": f"line {n}"})
    hub.to_room("demo", {"type": "message", "name": "Ben", "text": "hi"})
    async with hub.join("demo", Viewer("web:v_anna", "")) as anna:
        history = json.loads(anna.queue.get_nowait() or "{}")  # the room's public lines
        first = json.loads(anna.queue.get_nowait() or "{}")
    assert history["type"] == "history" and history["lines"][0]["text"] == "hi"
    assert first["type"] == "mine"
    assert first["lines"][0]["text"] == "line 5"  # the latest MINE of them
    assert len(first["lines"]) == hub_module.MINE
    async with hub.join("demo", Viewer("web:v_ben", "")) as ben:
        assert json.loads(ben.queue.get_nowait() or "{}")["type"] == "history"
        assert ben.queue.empty()  # nothing of hers


def test_the_viewers_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_module, "MAX_MINE", 3)
    hub = ChatHub()
    for n in range(5):
        hub.to_identity(f"web:v_{n}", {"type": "private", "text": "x"})
    assert list(hub.mine) == ["web:v_2", "web:v_3", "web:v_4"]


async def test_a_line_read_back_from_disk_is_kept_as_the_lines_heard_here() -> None:
    """After a restart the page reads a viewer's open orders back: kept as their private
    lines, they come in the `mine` event the page shows once (not again on a reconnect),
    and never over lines this worker kept itself."""
    hub = ChatHub()
    hub.recall("web:v_anna", {"type": "private", "text": "Your orders: K7P2"})
    for _ in range(2):  # the page, then its stream reconnecting
        async with hub.join("demo", Viewer("web:v_anna", "")) as anna:
            queued = [anna.queue.get_nowait() for _ in range(anna.queue.qsize())]
        events = [json.loads(e or "{}") for e in queued]
        assert [e["type"] for e in events] == ["mine"]
        assert events[0]["lines"] == [{"type": "private", "text": "Your orders: K7P2"}]
    hub.to_identity("web:v_ben", {"type": "private", "text": "newer"})
    hub.recall("web:v_ben", {"type": "private", "text": "Your orders: OLD1"})
    assert [line["text"] for line in hub.mine["web:v_ben"]] == ["newer"]
