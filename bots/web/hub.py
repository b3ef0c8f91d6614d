"""Who is in which room, and their live streams (server-sent events).

A viewer's stream is held by one worker, while their messages, and the notices about their
orders, may be handled by another. So every event is published to a relay, which hands it to
`receive` on every worker (PostgreSQL LISTEN/NOTIFY with several workers); without a relay,
`receive` is called at once, in this process.
"""

import asyncio
import contextlib
import json
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

CARDS = ("show", "giveaway", "poll")  # cards redrawn in place, by their "key"
MAX_CARDS = 10  # the latest cards of a room, shown to whoever joins later
MINE = 30  # a viewer's latest private lines, shown again when they come back (a reload)
MAX_MINE = 10_000  # viewers whose private lines are kept (the longest unheard-of go first)
HISTORY = 50  # the latest public lines of a room, shown to whoever joins later
MAX_UNSAVED = 10_000  # public lines waiting for the disk, at most
LINES = ("message", "bot")  # public lines: what people said and the bot's public replies
MAX_QUEUE = 500  # a viewer that stops reading is dropped rather than slowing the room
HEARTBEAT = 15.0  # seconds between keep-alive comments on an idle stream


def overlay_room(chat: str) -> str:
    """The hub room of a chat's stream overlays (bots.web.overlay): any platform's chat."""
    return f"overlay:{chat}"


@dataclass(eq=False)
class Viewer:
    identity: str  # "web:<viewer id>"
    name: str
    # Events as JSON text; None ends the stream (the server is shutting down).
    queue: asyncio.Queue[str | None] = field(default_factory=lambda: asyncio.Queue(MAX_QUEUE))


Relayed = dict[str, Any]  # {"room"|"identity": ..., "event": {...}} or {"identity", "name"}


class ChatHub:
    def __init__(self, publish: Callable[[Relayed], None] | None = None) -> None:
        self.rooms: dict[str, set[Viewer]] = {}
        self.streams: dict[str, set[Viewer]] = {}  # identity -> its streams, in any room
        self.boards: dict[str, dict[str, Any]] = {}  # room -> the last board shown there
        self.cards: dict[str, dict[str, dict[str, Any]]] = {}  # room -> key -> latest card
        self.names: dict[str, str] = {}  # identity -> the name it last chatted under
        # identity -> its latest private lines: kept per viewer, not per tab, so a reload or
        # another tab shows a pay link or a Confirm again.
        self.mine: OrderedDict[str, deque[dict[str, Any]]] = OrderedDict()
        self.history: dict[str, deque[dict[str, Any]]] = {}  # room -> its latest public lines
        # Public lines said through this worker and not yet on disk: (room, line), in order.
        self.unsaved: list[tuple[str, dict[str, Any]]] = []
        self.publish = publish or self.receive
        self.closed = False  # shutting down: a stream that joins now ends at once

    @contextlib.asynccontextmanager
    async def join(
        self, room: str, viewer: Viewer, state: Sequence[dict[str, Any]] = ()
    ) -> AsyncIterator[Viewer]:
        """Adds a viewer to the room; it first gets the room's recent public lines and its own
        private ones, then `state` (the room's live drop, auctions, show, giveaways and polls
        as the database has them, so a restart loses nothing), then the cards this worker has
        seen since."""
        if self.closed:  # it was still reading the room's state when the shutdown began
            viewer.queue.put_nowait(None)
            yield viewer
            return
        self.rooms.setdefault(room, set()).add(viewer)
        self.streams.setdefault(viewer.identity, set()).add(viewer)
        if self.history.get(room):
            self._put(viewer, {"type": "history", "lines": list(self.history[room])})
        if self.mine.get(viewer.identity):
            self._put(viewer, {"type": "mine", "lines": list(self.mine[viewer.identity])})
        for event in state:
            self._put(viewer, event)
        live_board = any(event.get("type") == "board" for event in state)
        if room in self.boards and not live_board:  # e.g. the drop that ended last
            self._put(viewer, {"type": "board", **self.boards[room]})
        for card in self.cards.get(room, {}).values():
            self._put(viewer, card)
        try:
            yield viewer
        finally:
            self.rooms.get(room, set()).discard(viewer)
            self._forget(viewer)

    def close(self) -> None:
        """Ends every open stream, so that a shutdown does not wait for browsers to leave,
        and every stream that joins from now on."""
        self.closed = True
        for viewers in self.rooms.values():
            for viewer in viewers:
                with contextlib.suppress(asyncio.QueueFull):
                    viewer.queue.put_nowait(None)
        self.rooms.clear()
        self.streams.clear()

    def to_room(self, room: str, event: dict[str, Any]) -> None:
        if event.get("type") in LINES:  # kept once, by the worker where it was said
            self.unsaved.append((room, event))
            if len(self.unsaved) > MAX_UNSAVED:  # the disk is away: keep the latest only
                del self.unsaved[:-MAX_UNSAVED]
        self.publish({"room": room, "event": event})

    def take_unsaved(self) -> list[tuple[str, dict[str, Any]]]:
        """The public lines to write to disk, handed over once."""
        lines, self.unsaved = self.unsaved, []
        return lines

    def remember(self, room: str, lines: Sequence[dict[str, Any]]) -> None:
        """A room's lines from disk, for a room this worker has heard nothing of."""
        if not self.history.get(room) and lines:
            self.history[room] = deque(lines, maxlen=HISTORY)

    def recall(self, identity: str, event: dict[str, Any]) -> None:
        """A viewer's private line read back from the database, for a viewer this worker
        kept none for: their next stream shows it once, as it shows the lines kept."""
        if not self.mine.get(identity):
            self._keep(identity, event)

    def to_identity(self, identity: str, event: dict[str, Any]) -> None:
        """A private event: only the streams of this viewer, in any room, see it."""
        self.publish({"identity": identity, "event": event})

    def name(self, identity: str, name: str) -> None:
        """The name a viewer chats under, for notices that mention them (on any worker)."""
        self.publish({"identity": identity, "name": name})

    def receive(self, message: Relayed) -> None:
        """An event published by this worker or another: to the streams held here."""
        event = message.get("event")
        if "name" in message:
            self.names[str(message["identity"])] = str(message["name"])[:32]
        elif "room" in message and isinstance(event, dict):
            room = str(message["room"])
            if event.get("type") == "board":
                self.boards[room] = {k: v for k, v in event.items() if k != "type"}
            elif event.get("type") in LINES:
                lines = self.history.setdefault(room, deque(maxlen=HISTORY))
                lines.append({k: v for k, v in event.items() if k != "room"})
            elif event.get("type") in CARDS:
                cards = self.cards.setdefault(room, {})
                cards.pop(str(event.get("key")), None)  # the latest last
                cards[str(event.get("key"))] = event
                while len(cards) > MAX_CARDS:
                    del cards[next(iter(cards))]
            viewers = list(self.rooms.get(room, ()))
            if viewers:
                data = json.dumps(event)  # once, whatever the number of viewers
                for viewer in viewers:
                    self._put(viewer, event, data)
        elif "identity" in message and isinstance(event, dict):
            self._keep(str(message["identity"]), event)
            mine = list(self.streams.get(str(message["identity"]), ()))
            if mine:
                data = json.dumps(event)
                for viewer in mine:
                    self._put(viewer, event, data)

    def _keep(self, identity: str, event: dict[str, Any]) -> None:
        lines = self.mine.pop(identity, None) or deque(maxlen=MINE)
        lines.append(event)
        self.mine[identity] = lines  # the latest heard-of last
        while len(self.mine) > MAX_MINE:
            self.mine.popitem(last=False)

    def _forget(self, viewer: Viewer) -> None:
        streams = self.streams.get(viewer.identity)
        if streams is not None:
            streams.discard(viewer)
            if not streams:
                del self.streams[viewer.identity]

    def _put(self, viewer: Viewer, event: dict[str, Any], data: str | None = None) -> None:
        try:
            viewer.queue.put_nowait(data if data is not None else json.dumps(event))
        except asyncio.QueueFull:
            # A viewer that stopped reading: end its stream (the browser reconnects).
            for viewers in self.rooms.values():
                viewers.discard(viewer)
            self._forget(viewer)
            while not viewer.queue.empty():
                viewer.queue.get_nowait()
            viewer.queue.put_nowait(None)
