"""The YouTube live chat's way into the core: stored messages decided in the chat's order, and
answers through the outbox.

YouTube has no private messages and no buttons: every answer is a line in the live chat, and
what other platforms say privately is said there naming the buyer (bots/aloud). A line holds
200 characters at most; a board is a new line at most once per BOARD_EVERY (webhooks/youtube.py).

Addresses in `Outgoing.chat` for YouTube: the liveChatId. The core knows the chat as
`youtube:<liveChatId>` and a viewer as `youtube:<channel id>`.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from bots.aloud.core import AloudCore
from commerce.domain.commands import ChatMessage
from commerce.service_layer import chat, queries
from commerce.service_layer.inbox import ChatInbox, InboxItem
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Outbox

PLATFORM = "youtube"
MAX_LINE = 200  # characters in one live chat message (liveChatMessages.insert)


@dataclass(frozen=True, slots=True)
class Options:
    live_chat_id: str = ""  # YOUTUBE_LIVE_CHAT_ID, or found from the broadcast
    broadcast_id: str = ""  # YOUTUBE_BROADCAST_ID
    locale: str = "en"
    min_poll: float = 0.0  # seconds at least between two reads, whatever YouTube allows
    quota_backoff: float = 900.0  # after quotaExceeded (the quota resets at midnight PT)
    error_backoff: float = 60.0  # at most, after 5xx, timeouts and a refused token
    chat_gone_backoff: float = 60.0  # after liveChatEnded and the like: look again then


def short_id(message_id: str) -> str:
    """A YouTube message id as livebuy keeps it (an inbox row, an outbox reference): as it is
    when it fits 64 characters, else its digest (YouTube's run well over 100)."""
    if len(message_id) <= 64:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()[:57]


class Core(AloudCore):
    platform = PLATFORM
    max_line = MAX_LINE

    def __init__(
        self, bus: MessageBus, outbox: Outbox, inbox: ChatInbox, options: Options
    ) -> None:
        super().__init__(bus, outbox, inbox, options.locale)
        self.options = options

    def mention(self, name: str) -> str:
        """YouTube shows handles with their '@' already ("@anna"); older names without."""
        return name if name.startswith("@") else f"@{name}"

    async def receive(self, live_chat_id: str, messages: list[tuple[str, int, str]]) -> int:
        """Stores (message id, seq, message JSON) rows of one chat, to be decided in its turn;
        returns how many were new (a message read again after a restart is stored once)."""
        rows = [(m, live_chat_id, seq, payload) for m, seq, payload in messages]
        new = await self.inbox.store(PLATFORM, rows, self.bus.clock.now())
        if new:
            self.wake_inbox()
        return new

    def joins(self, item: InboxItem) -> bool:
        """Claims and bids may share the chat's turn with their neighbours."""
        words = message_text(json.loads(item.payload))
        return bool(words) and queries.side_by_side(self.bus.reads, words)

    async def said(self, live_chat_id: str, message_id: str, message: dict[str, Any]) -> None:
        author = message.get("authorDetails") or {}
        snippet = message.get("snippet") or {}
        channel = str(author.get("channelId") or snippet.get("authorChannelId") or "")
        if not channel:
            return
        identity = f"{PLATFORM}:{channel}"
        name = str(author.get("displayName") or channel).removeprefix("@")
        who = self.mention(name)
        self.names[identity] = who
        if author.get("isChatOwner"):
            await self.admit_owner(identity)
        outcome: chat.ChatOutcome = await self.bus.handle(
            ChatMessage(
                key=f"{PLATFORM}:{live_chat_id}:{message_id}",
                chat=f"{PLATFORM}:{live_chat_id}",
                identity=identity,
                text=message_text(message),
                display_name=name,
                # The chat's moderators run its drops, auctions and polls (as a Telegram
                # group's admins); refunds and prices stay with the shop's sellers.
                chat_admin=bool(author.get("isChatModerator")),
            )
        )
        await self.answer(outcome, live_chat_id, who)


def message_text(message: dict[str, Any]) -> str:
    snippet = message.get("snippet") or {}
    details = snippet.get("textMessageDetails") or {}
    return str(details.get("messageText") or snippet.get("displayMessage") or "")
