"""The YouTube live chat's way into the core: stored messages decided in the chat's order, and
answers through the outbox.

YouTube has no private messages and no buttons: every answer is a line in the live chat, and
what other platforms say privately is said there naming the buyer ("@anna: 1 × Logo tee is
yours for €25: <pay link>"). A line holds 200 characters at most; longer texts become several.
Messages cannot be edited either, so a drop's board is a new line each time (the outbox merges
the updates in between: one line per BOARD_EVERY, see webhooks/youtube.py).

Addresses in `Outgoing.chat` for YouTube: the liveChatId. The core knows the chat as
`youtube:<liveChatId>` and a viewer as `youtube:<channel id>`.
"""

import contextvars
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bots.rendering import Renderer, Reply
from bots.youtube.texts import text
from commerce.domain.commands import AddSeller, ChatMessage
from commerce.domain.drops import DropStatus
from commerce.domain.errors import CommerceError
from commerce.domain.orders import OrderStatus
from commerce.domain.pay_links import for_claimant
from commerce.service_layer import chat, queries
from commerce.service_layer.inbox import ChatInbox, InboxItem
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Outbox, Outgoing
from commerce.service_layer.results import (
    CardView,
    ClaimOutcome,
    ClaimResult,
    DropView,
    PaymentFellBack,
    PaymentResult,
    PromotedFromWaitlist,
)
from commerce.service_layer.unit_of_work import after_commit

log = logging.getLogger(__name__)
PLATFORM = "youtube"
MAX_LINE = 200  # characters in one live chat message (liveChatMessages.insert)
# Outcomes whose news the chat gets as a board or a notice (shows, giveaways, polls).
BOARDED = (chat.ShowChanged, chat.GiveawayOpened, chat.PollOpened, chat.PollEnded)


@dataclass(frozen=True, slots=True)
class Options:
    live_chat_id: str = ""  # YOUTUBE_LIVE_CHAT_ID, or found from the broadcast
    broadcast_id: str = ""  # YOUTUBE_BROADCAST_ID
    locale: str = "en"
    min_poll: float = 0.0  # seconds at least between two reads, whatever YouTube allows
    quota_backoff: float = 900.0  # after quotaExceeded (the quota resets at midnight PT)
    error_backoff: float = 60.0  # at most, after 5xx, timeouts and a refused token
    chat_gone_backoff: float = 60.0  # after liveChatEnded and the like: look again then


def youtube_chat(address: str) -> str | None:
    """'youtube:<liveChatId>' -> the liveChatId, else None."""
    platform, _, local = address.partition(":")
    return local if platform == PLATFORM and local else None


def short_id(message_id: str) -> str:
    """A YouTube message id as livebuy keeps it (an inbox row, an outbox reference): as it is
    when it fits 64 characters, else its digest (YouTube's run well over 100)."""
    if len(message_id) <= 64:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()[:57]


def mention(name: str) -> str:
    """YouTube shows handles with their '@' already ("@anna"); older names without."""
    return name if name.startswith("@") else f"@{name}"


def lines(words: str) -> list[str]:
    """A text as live chat lines: one line (YouTube shows no line breaks), cut at spaces into
    pieces of MAX_LINE characters at most (a word longer than that is cut)."""
    flat = " · ".join(part.strip() for part in words.splitlines() if part.strip())
    out: list[str] = []
    current = ""
    for word in flat.split(" "):
        while len(word) > MAX_LINE:
            if current:
                out.append(current)
                current = ""
            out.append(word[:MAX_LINE])
            word = word[MAX_LINE:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) > MAX_LINE:
            out.append(current)
            current = word
        else:
            current = candidate
    if current:
        out.append(current)
    return out


# The stored message being processed: its answers mark it done in their own transaction, so a
# worker dying after they were put never answers it twice.
PROCESSING: contextvars.ContextVar[InboxItem | None] = contextvars.ContextVar(
    "youtube_message", default=None
)


class Core:
    def __init__(
        self, bus: MessageBus, outbox: Outbox, inbox: ChatInbox, options: Options
    ) -> None:
        self.bus, self.outbox, self.inbox, self.options = bus, outbox, inbox, options
        self.renderer = Renderer(options.locale)
        self.wake: Callable[[], None] = lambda: None  # the courier's, once it runs
        self.wake_inbox: Callable[[], None] = lambda: None  # the inbox runner's, once it runs
        # How viewers are named in the chat, learnt from their messages (for notices, which
        # carry the identity only).
        self.names: dict[str, str] = {}

    def t(self, key: str, **values: object) -> str:
        return text(self.options.locale, key, **values)

    def who(self, identity: str) -> str:
        return self.names.get(identity) or mention(identity.partition(":")[2])

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

    async def process(self, item: InboxItem) -> None:
        """One stored message, in its chat's turn (commerce.service_layer.inbox)."""
        token = PROCESSING.set(item)
        try:
            await self._said(item.chat, item.update_id, json.loads(item.payload))
        finally:
            PROCESSING.reset(token)

    async def _said(self, live_chat_id: str, message_id: str, message: dict[str, Any]) -> None:
        author = message.get("authorDetails") or {}
        snippet = message.get("snippet") or {}
        channel = str(author.get("channelId") or snippet.get("authorChannelId") or "")
        if not channel:
            return
        identity = f"{PLATFORM}:{channel}"
        name = str(author.get("displayName") or channel).removeprefix("@")
        who = mention(name)
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

    async def admit_owner(self, identity: str) -> None:
        """The channel's owner runs the shop whose stream this is: a seller (owner)."""
        if await queries.is_seller(self.bus.reads, identity):
            return
        try:
            await self.bus.handle(AddSeller(identity, "owner"))
        except CommerceError as exc:  # an id of an unexpected form: a viewer, then
            log.warning("YouTube: the chat owner %s is not made a seller: %s", identity, exc)

    async def answer(self, outcome: chat.ChatOutcome, live_chat_id: str, who: str) -> None:
        if isinstance(outcome, chat.Ignored):
            return
        said = self.won(outcome, who)
        if said is None:
            reply = self.renderer.outcome(outcome, who)
            if isinstance(outcome, BOARDED):  # the board or a notice says it
                reply = Reply(private=reply.private)
            private = self.t("confirm", who=who) if asks_confirm(reply) else None
            said = [t for t in (reply.public, private or aloud(reply.private, who)) if t]
            said = [self.unnamed_card(t, outcome) for t in said]
        out = [Outgoing(PLATFORM, live_chat_id, t) for t in said]
        await self.put(*out, *await self.boards(outcome))

    def won(self, outcome: chat.ChatOutcome, who: str) -> list[str] | None:
        """A held unit, said with its pay link in one line: there is nowhere else to send
        the link; a one-message buy's question without the card and the address it ships to
        (the whole chat reads it). None for every other outcome (rendered as elsewhere)."""
        match outcome:
            case chat.Claimed(
                result=ClaimResult(outcome=ClaimOutcome.WON, order=order, confirm=CardView())
            ) if order is not None:
                values = {"who": who, "qty": order.quantity, "item": order.description}
                return [self.t("won_confirm", amount=order.total, **values)]
            case chat.Claimed(
                result=ClaimResult(
                    outcome=ClaimOutcome.WON, order=order, confirm=None, payment=None
                )
            ) if order is not None and order.holds_stock:
                if order.status is OrderStatus.NEEDS_REVIEW:
                    return None
                values = {"who": who, "qty": order.quantity, "item": order.description}
                values["amount"] = order.total
                if order.checkout_url:
                    # Said for the whole chat: the link only the claimant can pay through.
                    url = for_claimant(order.checkout_url)
                    return [self.t("won", url=url, **values)]
                return [self.t("won_no_link", **values)]
        return None

    def unnamed_card(self, words: str, news: object) -> str:
        """A charge's news without the card's brand and last digits: the chat reads it."""
        match news:
            case (
                chat.CardPaid(result=PaymentResult(card=CardView() as card))
                | PaymentFellBack(result=PaymentResult(card=CardView() as card))
                | chat.Claimed(result=ClaimResult(payment=PaymentResult(card=CardView() as card)))
                | PromotedFromWaitlist(
                    claim=ClaimResult(payment=PaymentResult(card=CardView() as card))
                )
            ):
                return words.replace(str(card), self.t("saved_card"))
        return words

    async def boards(self, outcome: chat.ChatOutcome) -> list[Outgoing]:
        match outcome:
            case chat.Claimed(result=ClaimResult(drop=DropView() as drop)):
                # Claims are decided side by side: read the drop as it is now, so that the
                # last line put is not an older claim's count.
                return self.drop_board(await queries.drop(self.bus.reads, drop.id) or drop)
            case chat.ShowChanged(show=show, action="info"):  # the others come as notices
                text = self.renderer.show_board(show)
                return self.on_boards(show.channels, text, f"show:{show.id}")
        return []

    def drop_board(self, drop: DropView) -> list[Outgoing]:
        """The drop's one line: units left while it runs, then what it sold."""
        values = {"item": drop.name, "qty": drop.quantity, "code": drop.code}
        if drop.status == DropStatus.LIVE:
            line = self.t("board", left=drop.remaining, amount=drop.price, **values)
        else:
            line = self.t("board_ended", sold=drop.quantity - drop.remaining, **values)
        return self.on_boards(drop.channels, line, f"drop:{drop.id}")

    def on_boards(self, chats: tuple[str, ...], words: str, board: str) -> list[Outgoing]:
        first = lines(words)[:1]  # a board is one line: a longer one is cut, not spread
        chat_ids = [c for c in map(youtube_chat, chats) if c is not None]
        return [Outgoing(PLATFORM, c, t, board=board) for c in chat_ids for t in first]

    async def put(self, *messages: Outgoing) -> None:
        out = [
            Outgoing(m.platform, m.chat, line, board=m.board)
            for m in messages
            for line in (lines(m.text) if m.board is None else [m.text])
        ]
        if not out:
            return
        await self.outbox.put(out, self.bus.clock.now(), done=PROCESSING.get())
        after_commit(self.wake)  # within a unit of work: the rows are visible after it


def aloud(private: str | None, who: str) -> str | None:
    """A private answer said in the chat, naming whom it is for."""
    return f"{who}: {for_claimant(private)}" if private else None


def asks_confirm(reply: Reply) -> bool:
    """A one-message buy's question (its Confirm button): it names the card and the address."""
    return any(action.startswith("confirm:") for _, action in reply.actions)


def message_text(message: dict[str, Any]) -> str:
    snippet = message.get("snippet") or {}
    details = snippet.get("textMessageDetails") or {}
    return str(details.get("messageText") or snippet.get("displayMessage") or "")
