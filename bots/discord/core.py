"""What every Discord cog shares: the way into the core, the outbox, and the drop board.

Addresses in `Outgoing.chat` for Discord: a channel id ("123"), or a direct message
"dm:<user id>" (optionally "dm:<user id>:<channel id>": when the user's DMs are closed, the
sender mentions them in that channel instead, without the private text).
"""

import asyncio
import contextvars
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bots.discord.texts import text
from bots.pictures import described, show_picture
from bots.rendering import Renderer
from commerce.domain.commands import AddSeller, ChatMessage
from commerce.domain.drops import DropStatus
from commerce.service_layer import chat, queries
from commerce.service_layer.inbox import ChatInbox, InboxItem
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Button, Outbox, Outgoing
from commerce.service_layer.results import AuctionView, ClaimResult, DropView
from commerce.service_layer.unit_of_work import after_commit

log = logging.getLogger(__name__)
PLATFORM = "discord"
BUY_PREFIX = "livebuy:"  # custom ids of our components: "livebuy:buy:TEE"


class Perks(Protocol):
    """Which Discord role a product's buyers get once they have paid."""

    async def role_for(self, sku: str) -> tuple[int, int] | None:
        """(guild id, role id), or None."""
        ...

    async def set_role(self, sku: str, guild_id: int, role_id: int, now: datetime) -> None: ...


class Roles(Protocol):
    async def add_role(self, guild_id: int, user_id: int, role_id: int, reason: str) -> None: ...

    async def remove_role(
        self, guild_id: int, user_id: int, role_id: int, reason: str
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class Options:
    token: str
    guild_ids: tuple[int, ...] = ()  # sync slash commands to these guilds (instant); else global
    seller_role: str = ""  # members with a role of this name are sellers
    message_content: bool = False  # the privileged intent: read `#buy` typed as text
    locale: str = "en"
    max_ratelimit_timeout: float = 5.0  # discord.py sleeps out shorter 429s; longer go back


def dm(user_id: int | str, fallback_channel: int | str | None = None) -> str:
    return f"dm:{user_id}" + (f":{fallback_channel}" if fallback_channel is not None else "")


def buttons(actions: tuple[tuple[str, str], ...]) -> tuple[Button, ...]:
    """A reply's actions (Confirm) as the outbox's buttons (`livebuy:confirm:REF` on Discord)."""
    return tuple(Button(label, action=action) for label, action in actions)


def discord_id(address: str) -> int | None:
    """'discord:123' -> 123 (an identity or a chat of this platform), else None."""
    platform, _, local = address.partition(":")
    return int(local) if platform == PLATFORM and local.isdigit() else None


# The stored update being processed: the messages it causes mark it done in their own
# transaction, so a worker dying after they were put never answers it twice.
PROCESSING: contextvars.ContextVar[InboxItem | None] = contextvars.ContextVar(
    "discord_update", default=None
)
Work = Callable[[], Awaitable[None]]
Replay = Callable[[InboxItem, dict[str, object]], Awaitable[None]]


class Core:
    def __init__(
        self, bus: MessageBus, outbox: Outbox, inbox: ChatInbox, perks: Perks, options: Options
    ) -> None:
        self.bus, self.outbox, self.inbox, self.perks = bus, outbox, inbox, perks
        self.options = options
        self.renderer = Renderer(options.locale)
        self.wake: Callable[[], None] = lambda: None  # the courier's, once it runs
        self.wake_inbox: Callable[[], None] = lambda: None  # the inbox runner's, once it runs
        self.roles: Roles | None = None  # the bot's, once it is logged in
        # Updates received here, by id: how to process them with their live interaction.
        self.live: dict[str, Work] = {}
        # How to process a stored update without its interaction (this worker took over
        # from one that died): set by the bot, which can answer by the interaction's token.
        self.replay: Replay | None = None
        # discord.py's tasks working for this worker (events, interactions that stored an
        # update): ended when it stops.
        self.handlers: set[asyncio.Task[Any]] = set()

    def t(self, key: str, **values: object) -> str:
        return text(self.options.locale, key, **values)

    async def receive(
        self, update_id: int, channel_id: int, payload: dict[str, object], work: Work
    ) -> bool:
        """Stores an interaction or a message (before Discord is answered) to be processed in
        its channel's turn by `work`; False when it was stored before (Discord delivered it
        again, e.g. on a resumed gateway)."""
        row = (str(update_id), str(channel_id), update_id, json.dumps(payload))
        # The event's task goes on after this (it acknowledges the interaction): the service
        # ends it on stop, so nothing of a stopped worker runs on (the update is stored).
        handler = asyncio.current_task()
        if handler is not None and handler not in self.handlers:
            self.handlers.add(handler)
            handler.add_done_callback(self.handlers.discard)
        self.live[str(update_id)] = work  # before the row exists: the runner may be quick
        if not await self.inbox.store(PLATFORM, [row], self.bus.clock.now()):
            del self.live[str(update_id)]
            log.info("discord update %s delivered again; processed before", update_id)
            return False
        return True

    def joins(self, item: InboxItem) -> bool:
        """Whether a stored update may share its channel's turn with its neighbours: a claim
        or a bid (commerce.service_layer.inbox)."""
        payload = json.loads(item.payload)
        words = payload.get("words") or payload.get("text")
        return isinstance(words, str) and queries.side_by_side(self.bus.reads, words)

    async def process(self, item: InboxItem) -> None:
        """One stored update, in its channel's turn (commerce.service_layer.inbox)."""
        work = self.live.pop(item.update_id, None)
        token = PROCESSING.set(item)
        try:
            if work is not None:
                await work()
            elif self.replay is not None:
                await self.replay(item, json.loads(item.payload))
            else:  # pragma: no cover (the runner only runs while the bot does)
                raise RuntimeError("no Discord bot to answer this update")
        finally:
            PROCESSING.reset(token)

    async def handle(
        self,
        update_id: int,
        channel_id: int,
        user_id: int,
        words: str,
        display_name: str,
        private: bool = False,
    ) -> chat.ChatOutcome:
        message = ChatMessage(
            key=f"{PLATFORM}:{channel_id}:{update_id}",
            chat=f"{PLATFORM}:{channel_id}",
            identity=f"{PLATFORM}:{user_id}",
            text=words,
            display_name=display_name,
            private=private,
        )
        outcome: chat.ChatOutcome = await self.bus.handle(message)
        return outcome

    async def admit_seller(self, user_id: int, manages_server: bool, roles: list[str]) -> None:
        """Discord's own notion of a seller (Manage Server, or the DISCORD_SELLER_ROLE role)
        is recorded with the core, which decides seller commands."""
        wanted = self.options.seller_role.casefold()
        by_role = bool(wanted) and any(r.casefold() == wanted for r in roles)
        identity = f"{PLATFORM}:{user_id}"
        # They run the server's shop: owners (co-hosts are named with `livebuy seller add
        # --role cohost`, and may not refund or change prices).
        if (manages_server or by_role) and not await queries.is_seller(self.bus.reads, identity):
            await self.bus.handle(AddSeller(identity, "owner"))

    async def put(self, *messages: Outgoing) -> None:
        await self.outbox.put(list(messages), self.bus.clock.now(), done=PROCESSING.get())
        after_commit(self.wake)  # within a unit of work: the rows are visible after it

    def board(self, drop: DropView, channel_id: int) -> Outgoing:
        """The drop's board in one channel: posted once, then edited in place. Its countdown
        is as of this edit: the outbox paces and coalesces a board's edits (board_every),
        so it moves on when the board does, never on a timer."""
        ends = self.renderer.drop_ends(drop, self.bus.clock.now())
        if drop.status == DropStatus.LIVE:
            waiting = self.t("board_waiting", count=drop.waitlist) if drop.waitlist else ""
            line = self.t(
                "board",
                item=drop.name,
                left=drop.remaining,
                qty=drop.quantity,
                amount=drop.price,
                waiting=waiting,
            )
            body = f"{self.renderer.drop_started(drop)}\n{line}" + (f" · {ends}" if ends else "")
            buttons: tuple[Button, ...] = (Button(self.t("buy"), action=f"buy:{drop.code}"),)
        else:
            sold = drop.quantity - drop.remaining
            body = self.t("board_ended", item=drop.name, sold=sold, qty=drop.quantity)
            body += f" · {ends}" if ends else ""
            buttons = ()
        body = described(body, drop.description)  # and its picture as the embed's image
        board = f"drop:{drop.id}"
        return Outgoing(PLATFORM, str(channel_id), body, buttons, board=board, image=drop.image)

    async def show_board(self, drop: DropView) -> None:
        channels = [c for c in map(discord_id, drop.channels) if c is not None]
        if channels:
            await self.put(*(self.board(drop, c) for c in channels))

    async def show_auction(self, auction: AuctionView, text: str) -> None:
        """The auction's board (its start, then each bid, then its result), edited in place."""
        board, image = f"auction:{auction.id}", auction.image
        text = described(text, auction.description)  # and its picture as the embed's image
        channels = [c for c in map(discord_id, auction.channels) if c is not None]
        if channels:
            await self.put(
                *(Outgoing(PLATFORM, str(c), text, board=board, image=image) for c in channels)
            )

    async def show(self, outcome: chat.ChatOutcome) -> None:
        """Redraws the board an outcome changed."""
        match outcome:
            case chat.Claimed(result=ClaimResult(drop=DropView() as drop)):
                await self.show_board(drop)
            case chat.DropOpened(drop=drop) | chat.DropClosed(drop=drop):
                await self.show_board(drop)
            case chat.AuctionOpened(auction=auction):
                await self.show_auction(auction, self.renderer.auction_started(auction))
            case chat.ShowChanged(show=show, action="info"):  # the others come as notices
                board = f"show:{show.id}"
                text = self.renderer.show_board(show)
                channels = [c for c in map(discord_id, show.channels) if c is not None]
                image = show_picture(show)  # the live lot's, as the embed's image
                await self.put(
                    *(Outgoing(PLATFORM, str(c), text, board=board, image=image) for c in channels)
                )
