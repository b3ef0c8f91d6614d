"""The Twitch chat's way into the core: stored messages decided in each channel's order, and
answers through the outbox.

Twitch has no usable private messages for a bot (whispers reach a few dozen new people a day)
and no buttons: every answer is a line in the channel, and what other platforms say privately
is said there naming the buyer (bots/aloud). A line holds 500 characters at most; a board
is a new line at most once per BOARD_EVERY (webhooks/twitch.py).

Addresses in `Outgoing.chat` for Twitch: the broadcaster's user id. The core knows the chat as
`twitch:<broadcaster id>` and a viewer as `twitch:<user id>`.
"""

import json
from dataclasses import dataclass
from typing import Any

from bots.aloud.core import AloudCore
from commerce.domain.commands import ChatMessage
from commerce.service_layer import chat, queries
from commerce.service_layer.inbox import ChatInbox, InboxItem
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Outbox

PLATFORM = "twitch"
MAX_LINE = 500  # characters in one chat message (POST /chat/messages)
# Chat badges (event.badges[].set_id) whose holders run the channel's drops and auctions.
RUNS_THE_CHAT = frozenset({"broadcaster", "moderator"})


@dataclass(frozen=True, slots=True)
class Options:
    bot_user_id: str
    locale: str = "en"


class Core(AloudCore):
    platform = PLATFORM
    max_line = MAX_LINE

    def __init__(
        self, bus: MessageBus, outbox: Outbox, inbox: ChatInbox, options: Options
    ) -> None:
        super().__init__(bus, outbox, inbox, options.locale)
        self.options = options

    async def receive(self, messages: list[tuple[str, str, int, str]]) -> int:
        """Stores (message id, broadcaster id, seq, event JSON) rows, to be decided in their
        channel's turn; returns how many were new (a notification Twitch delivers again has
        the same message id and is stored once)."""
        new = await self.inbox.store(PLATFORM, messages, self.bus.clock.now())
        if new:
            self.wake_inbox()
        return new

    def joins(self, item: InboxItem) -> bool:
        """Claims and bids may share the chat's turn with their neighbours (the claim writer
        and the bids' queue keep their arrival order)."""
        words = message_text(json.loads(item.payload))
        return bool(words) and queries.side_by_side(self.bus.reads, words)

    async def said(self, broadcaster: str, message_id: str, event: dict[str, Any]) -> None:
        chatter = str(event.get("chatter_user_id") or "")
        if not chatter or chatter == self.options.bot_user_id:
            return  # the bot's own lines come back through the subscription
        identity = f"{PLATFORM}:{chatter}"
        login = str(event.get("chatter_user_login") or chatter)
        who = f"@{login}"
        self.names[identity] = who
        badges = {str(b.get("set_id")) for b in event.get("badges") or [] if isinstance(b, dict)}
        if chatter == broadcaster:
            badges.add("broadcaster")
        if "broadcaster" in badges:
            await self.admit_owner(identity)  # TWITCH_CHANNELS: the shop is theirs
        outcome: chat.ChatOutcome = await self.bus.handle(
            ChatMessage(
                key=f"{PLATFORM}:{broadcaster}:{message_id}",
                chat=f"{PLATFORM}:{broadcaster}",
                identity=identity,
                text=message_text(event),
                display_name=str(event.get("chatter_user_name") or login),
                # The channel's moderators run its drops, auctions and polls (as a Telegram
                # group's admins); refunds and prices stay with the shop's sellers.
                chat_admin=bool(badges & RUNS_THE_CHAT),
            )
        )
        await self.answer(outcome, broadcaster, who)


def message_text(event: dict[str, Any]) -> str:
    return str((event.get("message") or {}).get("text") or "")
