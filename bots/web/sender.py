"""The web chat's side of the outbox: private messages stored by the core (a package
shipped, an order cancelled by the seller) go to the viewer's open streams, on whichever
worker holds them (the hub relays)."""

import uuid

from bots.web.chat import private_event
from bots.web.hub import ChatHub
from commerce.service_layer.outbox import Outgoing


class WebSender:
    platform = "web"

    def __init__(self, hub: ChatHub) -> None:
        self.hub = hub

    async def send(self, message: Outgoing) -> str:
        """`message.chat` is the viewer's identity ("web:<viewer id>"). A viewer with no
        stream open misses it, as they miss the room's lines (the page keeps no history)."""
        actions = tuple((b.label, b.action) for b in message.buttons if b.action)
        self.hub.to_identity(message.chat, private_event(message.text, actions))
        return uuid.uuid4().hex[:16]

    async def edit(
        self, message: Outgoing, message_ref: str, shown_image: str | None = None
    ) -> None:
        await self.send(message)  # no boards through the outbox here: a new line

    def interval(self, chat: str) -> float:
        return 0.0  # our own streams: no platform limit to respect
