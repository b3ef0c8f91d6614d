"""The Twitch chat's way into the core: stored messages decided in each channel's order, and
answers through the outbox.

Twitch has no usable private messages for a bot (whispers reach a few dozen new people a day)
and no buttons: every answer is a line in the channel, and what other platforms say privately
is said there naming the buyer ("@anna: 1 × Logo tee is yours for €25: <pay link>"). A line
holds 500 characters at most; longer texts become several. A chat message cannot be edited,
so a board is a new line each time (the outbox merges the updates in between: one line per
BOARD_EVERY, see webhooks/twitch.py).

Addresses in `Outgoing.chat` for Twitch: the broadcaster's user id. The core knows the chat as
`twitch:<broadcaster id>` and a viewer as `twitch:<user id>`.
"""

import contextvars
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bots.rendering import Renderer, Reply
from bots.twitch.texts import text
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
PLATFORM = "twitch"
MAX_LINE = 500  # characters in one chat message (POST /chat/messages)
# Outcomes whose news the chat gets as a board or a notice (shows, giveaways, polls).
BOARDED = (chat.ShowChanged, chat.GiveawayOpened, chat.PollOpened, chat.PollEnded)
# Chat badges (event.badges[].set_id) whose holders run the channel's drops and auctions.
RUNS_THE_CHAT = frozenset({"broadcaster", "moderator"})


@dataclass(frozen=True, slots=True)
class Options:
    bot_user_id: str
    locale: str = "en"


def twitch_chat(address: str) -> str | None:
    """'twitch:<broadcaster id>' -> the broadcaster id, else None."""
    platform, _, local = address.partition(":")
    return local if platform == PLATFORM and local else None


def lines(words: str) -> list[str]:
    """A text as chat lines: one line (Twitch shows no line breaks), cut at spaces into
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
    "twitch_message", default=None
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
        return self.names.get(identity) or f"@{identity.partition(':')[2]}"

    async def receive(self, messages: list[tuple[str, str, int, str]]) -> int:
        """Stores (message id, broadcaster id, seq, event JSON) rows, to be decided in their
        channel's turn; returns how many were new (a notification Twitch delivers again has
        the same message id and is stored once)."""
        new = await self.inbox.store(PLATFORM, messages, self.bus.clock.now())
        if new:
            self.wake_inbox()
        return new

    def joins(self, item: InboxItem) -> bool:
        """Claims may share the chat's turn with their neighbours (the claim writer keeps
        their arrival order). Bids do not: decided side by side, two equal bids raced for the
        auction and the later one could lead; one at a time, the earlier one leads."""
        words = message_text(json.loads(item.payload))
        return bool(words) and queries.a_claim(self.bus.reads, words)

    async def process(self, item: InboxItem) -> None:
        """One stored message, in its channel's turn (commerce.service_layer.inbox)."""
        token = PROCESSING.set(item)
        try:
            await self._said(item.chat, item.update_id, json.loads(item.payload))
        finally:
            PROCESSING.reset(token)

    async def _said(self, broadcaster: str, message_id: str, event: dict[str, Any]) -> None:
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
            await self.admit_broadcaster(identity)
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

    async def admit_broadcaster(self, identity: str) -> None:
        """The broadcaster runs the shop whose channel this is (TWITCH_CHANNELS): a seller."""
        if await queries.is_seller(self.bus.reads, identity):
            return
        try:
            await self.bus.handle(AddSeller(identity, "owner"))
        except CommerceError as exc:  # an id of an unexpected form: a viewer, then
            log.warning("Twitch: the broadcaster %s is not made a seller: %s", identity, exc)

    async def answer(self, outcome: chat.ChatOutcome, broadcaster: str, who: str) -> None:
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
        out = [Outgoing(PLATFORM, broadcaster, t) for t in said]
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
        ids = [c for c in map(twitch_chat, chats) if c is not None]
        return [Outgoing(PLATFORM, c, t, board=board) for c in ids for t in first]

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
    """A private answer said in the chat, naming whom it is for ("@anna: ...")."""
    return f"{who}: {for_claimant(private)}" if private else None


def asks_confirm(reply: Reply) -> bool:
    """A one-message buy's question (its Confirm button): it names the card and the address."""
    return any(action.startswith("confirm:") for _, action in reply.actions)


def message_text(event: dict[str, Any]) -> str:
    return str((event.get("message") or {}).get("text") or "")
