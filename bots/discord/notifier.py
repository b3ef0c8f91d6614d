"""The core's notices for Discord users and channels, through the outbox: payment
confirmations and links by DM (a card kept for one-message buys, a one-message payment that
fell back to a link too), drop boards edited in place, and role perks."""

import asyncio
import logging

import discord

from bots.discord.core import PLATFORM, Core, buttons, discord_id, dm
from bots.pictures import show_picture
from commerce.domain.orders import OrderStatus
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    AuctionWon,
    CardSaved,
    CheckoutReady,
    DropEnded,
    DropStarted,
    DropView,
    GiveawayDrawn,
    GiveawayStarted,
    GiveawayUpdated,
    HoldExpired,
    Notice,
    OrderDisputed,
    OrderPaid,
    OrderRefunded,
    OrderView,
    Outbid,
    PaymentFellBack,
    PaymentStopped,
    PollClosed,
    PollUpdated,
    PromotedFromWaitlist,
    ShowAnnounced,
    ShowUpdated,
    UnitsLeft,
    WaitlistClosed,
)
from commerce.service_layer.unit_of_work import after_commit

log = logging.getLogger(__name__)


class DiscordNotifier:
    """Installed with the application; quiet until the Discord core is running."""

    def __init__(self) -> None:
        self.core: Core | None = None
        self._perks: set[asyncio.Task[None]] = set()

    async def notify(self, notice: Notice) -> None:
        core = self.core
        if core is None:
            return
        if isinstance(notice, ENGAGEMENT):
            await core.put(*engagement(core, notice))
            return
        buyer, chat, drop = _addresses(notice)
        user_id = discord_id(buyer) if buyer else None
        channel_id = discord_id(chat) if chat else None
        if user_id is not None:
            reply = core.renderer.notice(notice, f"<@{user_id}>")
            if reply.private:
                address = dm(user_id, channel_id)
                await core.put(Outgoing(PLATFORM, address, reply.private, buttons(reply.actions)))
        if drop is not None:
            await core.show_board(drop)
        match notice:
            case AuctionUpdated(auction=auction, seconds_left=left):
                await core.show_auction(auction, core.renderer.auction_board(auction, left))
            case AuctionEnded(auction=auction):
                await core.show_auction(auction, core.renderer.auction_result(auction))
        match notice:
            case OrderPaid(order=order) if user_id is not None:
                self._perk_after_commit(core, order, user_id, grant=True)
            case OrderRefunded(order=order) if (
                user_id is not None and order.status is OrderStatus.REFUNDED
            ):
                self._perk_after_commit(core, order, user_id, grant=False)
            # A disputed payment takes the perk back; a dispute the seller won gives it again.
            case OrderDisputed(order=order, state="open") if user_id is not None:
                self._perk_after_commit(core, order, user_id, grant=False)
            case OrderDisputed(order=order, state="won") if user_id is not None:
                self._perk_after_commit(core, order, user_id, grant=True)

    def _perk_after_commit(self, core: Core, order: OrderView, user_id: int, grant: bool) -> None:
        """The role changes once the payment (or refund, dispute) has committed, in a task of
        its own: a Discord call must not hold the transaction, nor run for a change that
        rolls back."""

        def start() -> None:
            task = asyncio.create_task(self._perk(core, order, user_id, grant))
            self._perks.add(task)
            task.add_done_callback(self._perks.discard)

        after_commit(start)

    async def _perk(self, core: Core, order: OrderView, user_id: int, grant: bool) -> None:
        perk = await core.perks.role_for(order.sku)
        if perk is None or core.roles is None:
            return
        guild_id, role_id = perk
        try:
            if grant:
                await core.roles.add_role(guild_id, user_id, role_id, f"paid order {order.ref}")
            else:
                reason = f"refunded order {order.ref}"
                await core.roles.remove_role(guild_id, user_id, role_id, reason)
        except discord.HTTPException as exc:
            log.warning("Discord: role %s for %s not changed: %s", role_id, user_id, exc)


ENGAGEMENT = (
    ShowAnnounced,
    ShowUpdated,
    GiveawayStarted,
    GiveawayUpdated,
    GiveawayDrawn,
    PollUpdated,
    PollClosed,
)


def engagement(
    core: Core,
    notice: ShowAnnounced
    | ShowUpdated
    | GiveawayStarted
    | GiveawayUpdated
    | GiveawayDrawn
    | PollUpdated
    | PollClosed,
) -> list[Outgoing]:
    """Shows, giveaways and polls in the Discord channels they run in: one board each
    (`show:<id>`, `giveaway:<id>`, `poll:<id>`) edited in place, with Enter and vote buttons
    while they run; announcements and the draw as messages; the winner told by DM."""
    r = core.renderer
    match notice:
        case ShowAnnounced(show=show):
            text = r.notice(notice, "").public or ""
            return [Outgoing(PLATFORM, str(c), text) for c in _channels(show.channels)]
        case ShowUpdated(show=show):
            board = f"show:{show.id}"
            return _boards(show.channels, r.show_board(show), (), board, show_picture(show))
        case GiveawayStarted(giveaway=giveaway):
            reply = r.giveaway_started(giveaway)
            board = f"giveaway:{giveaway.id}"
            return _boards(giveaway.channels, reply.public or "", reply.actions, board)
        case GiveawayUpdated(giveaway=giveaway):
            reply = r.giveaway_board(giveaway)
            board = f"giveaway:{giveaway.id}"
            return _boards(giveaway.channels, reply.public or "", reply.actions, board)
        case GiveawayDrawn(giveaway=giveaway, winner_identity=winner, winner_chat=chat):
            result = r.giveaway_result(giveaway)
            # The board shows the result (its Enter button gone); a message says it aloud.
            out = _boards(giveaway.channels, result, (), f"giveaway:{giveaway.id}")
            out += [Outgoing(PLATFORM, str(c), result) for c in _channels(giveaway.channels)]
            user_id = discord_id(winner) if winner else None
            private = r.notice(notice, f"<@{user_id}>").private
            if user_id is not None and private:
                out.append(Outgoing(PLATFORM, dm(user_id, discord_id(chat or "")), private))
            return out
        case PollUpdated(poll=poll) if poll.status == "live":
            reply = r.poll_board(poll)
            return _boards(poll.channels, reply.public or "", reply.actions, f"poll:{poll.id}")
        case PollUpdated(poll=poll) | PollClosed(poll=poll):
            return _boards(poll.channels, r.poll_closed(poll), (), f"poll:{poll.id}")
    return []  # pragma: no cover (every notice is matched above)


def _channels(chats: tuple[str, ...]) -> list[int]:
    return [c for c in map(discord_id, chats) if c is not None]


def _boards(
    chats: tuple[str, ...],
    text: str,
    actions: tuple[tuple[str, str], ...],
    board: str,
    image: str | None = None,
) -> list[Outgoing]:
    return [
        Outgoing(PLATFORM, str(c), text, buttons(actions), board=board, image=image)
        for c in _channels(chats)
    ]


def _addresses(notice: Notice) -> tuple[str | None, str | None, DropView | None]:
    """The buyer a notice is for, the chat it came from, and the drop whose board changed."""
    match notice:
        case OrderPaid(order=order) | HoldExpired(order=order) | CheckoutReady(order=order):
            return order.identity, order.chat, None
        case OrderRefunded(order=order) | OrderDisputed(order=order):
            return order.identity, order.chat, None
        case PaymentStopped(order=order):
            return order.identity, order.chat, None
        case PromotedFromWaitlist(claim=claim):
            won = claim.order
            return (won.identity, won.chat, claim.drop) if won else (None, None, claim.drop)
        case WaitlistClosed(identity=identity, chat=chat):
            return identity, chat, None
        case CardSaved(identity=identity):
            return identity, None, None
        case PaymentFellBack(result=result):
            return result.order.identity, result.order.chat, None
        case DropEnded(drop=drop) | DropStarted(drop=drop) | UnitsLeft(drop=drop):
            return None, None, drop
        case Outbid(identity=identity, chat=chat):
            return identity, chat, None
        case AuctionWon(order=order):
            return order.identity, order.chat, None
        case AuctionUpdated() | AuctionEnded():
            return None, None, None
    return None, None, None  # pragma: no cover (every notice is matched above)
