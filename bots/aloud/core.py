"""What the chats without private messages share (Twitch, YouTube Live): every answer is a
line in the chat, and what other platforms say privately is said there naming the buyer
("@anna: 1 × Logo tee is yours for €25: <link only Anna can pay through>"). A message cannot
be edited, so a board is a new line each time (the outbox merges the updates in between), and
a text longer than the platform's line becomes several lines.

A platform's core (bots/twitch/core.py, bots/youtube/core.py) reads its own messages (who
said what, who runs the chat) and hands them here to be decided and answered.
"""

import contextvars
import json
import logging
from collections.abc import Callable
from typing import Any, ClassVar

from bots.aloud.texts import text
from bots.rendering import Renderer, Reply
from commerce.domain.commands import AddSeller
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
# Outcomes whose news the chat gets as a board or a notice (shows, giveaways, polls).
BOARDED = (chat.ShowChanged, chat.GiveawayOpened, chat.PollOpened, chat.PollEnded)

# The stored message being processed: its answers mark it done in their own transaction, so a
# worker dying after they were put never answers it twice.
PROCESSING: contextvars.ContextVar[InboxItem | None] = contextvars.ContextVar(
    "aloud_message", default=None
)


class AloudCore:
    platform: ClassVar[str]  # "twitch", "youtube"
    max_line: ClassVar[int]  # characters in one chat message

    def __init__(self, bus: MessageBus, outbox: Outbox, inbox: ChatInbox, locale: str) -> None:
        self.bus, self.outbox, self.inbox, self.locale = bus, outbox, inbox, locale
        self.renderer = Renderer(locale)
        self.wake: Callable[[], None] = lambda: None  # the courier's, once it runs
        self.wake_inbox: Callable[[], None] = lambda: None  # the inbox runner's, once it runs
        # How viewers are named in the chat, learnt from their messages (for notices, which
        # carry the identity only).
        self.names: dict[str, str] = {}

    def t(self, key: str, **values: object) -> str:
        return text(self.locale, key, **values)

    def mention(self, name: str) -> str:
        return f"@{name}"

    def who(self, identity: str) -> str:
        return self.names.get(identity) or self.mention(identity.partition(":")[2])

    def chat_of(self, address: str) -> str | None:
        """'<platform>:<chat>' -> the chat as the platform names it, else None."""
        platform, _, local = address.partition(":")
        return local if platform == self.platform and local else None

    async def process(self, item: InboxItem) -> None:
        """One stored message, in its chat's turn (commerce.service_layer.inbox)."""
        token = PROCESSING.set(item)
        try:
            await self.said(item.chat, item.update_id, json.loads(item.payload))
        finally:
            PROCESSING.reset(token)

    async def said(self, chat_id: str, message_id: str, message: dict[str, Any]) -> None:
        """A stored message, read as the platform sends it, decided and answered."""
        raise NotImplementedError

    async def admit_owner(self, identity: str) -> None:
        """The owner of the channel whose chat this is runs the shop: a seller (owner)."""
        if await queries.is_seller(self.bus.reads, identity):
            return
        try:
            await self.bus.handle(AddSeller(identity, "owner"))
        except CommerceError as exc:  # an id of an unexpected form: a viewer, then
            log.warning(
                "%s: the channel owner %s is not a seller: %s", self.platform, identity, exc
            )

    async def answer(self, outcome: chat.ChatOutcome, chat_id: str, who: str) -> None:
        """What the chat reads after a message: the answer, said aloud, and its boards."""
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
        out = [Outgoing(self.platform, chat_id, t) for t in said]
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
        first = self.lines(words)[:1]  # a board is one line: a longer one is cut, not spread
        ids = [c for c in map(self.chat_of, chats) if c is not None]
        return [Outgoing(self.platform, c, t, board=board) for c in ids for t in first]

    async def put(self, *messages: Outgoing) -> None:
        out = [
            Outgoing(m.platform, m.chat, line, board=m.board)
            for m in messages
            for line in (self.lines(m.text) if m.board is None else [m.text])
        ]
        if not out:
            return
        await self.outbox.put(out, self.bus.clock.now(), done=PROCESSING.get())
        after_commit(self.wake)  # within a unit of work: the rows are visible after it

    def lines(self, words: str) -> list[str]:
        return lines(words, self.max_line)


def aloud(private: str | None, who: str) -> str | None:
    """A private answer said in the chat, naming whom it is for ("@anna: ...")."""
    return f"{who}: {for_claimant(private)}" if private else None


def asks_confirm(reply: Reply) -> bool:
    """A one-message buy's question (its Confirm button): it names the card and the address."""
    return any(action.startswith("confirm:") for _, action in reply.actions)


def lines(words: str, most: int) -> list[str]:
    """A text as chat lines: one line (these chats show no line breaks), cut at spaces
    into pieces of `most` characters at most (a word longer than that is cut)."""
    flat = " · ".join(part.strip() for part in words.splitlines() if part.strip())
    out: list[str] = []
    current = ""
    for word in flat.split(" "):
        while len(word) > most:
            if current:
                out.append(current)
                current = ""
            out.append(word[:most])
            word = word[most:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) > most:
            out.append(current)
            current = word
        else:
            current = candidate
    if current:
        out.append(current)
    return out
