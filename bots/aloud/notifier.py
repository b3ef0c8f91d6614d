"""The core's notices for the chats without private messages (Twitch, YouTube Live), through
the outbox: a buyer's news (the pay link once it is ready, paid, hold expired, outbid, won)
said in the chat naming the buyer, boards (drops, auctions, shows, giveaways, polls) as one
line each, announcements as lines."""

from bots.aloud.core import AloudCore, aloud, asks_confirm
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    AuctionWon,
    CardSaved,
    CheckoutReady,
    DropEnded,
    DropStarted,
    GiveawayDrawn,
    GiveawayStarted,
    GiveawayUpdated,
    HoldExpired,
    Notice,
    OrderDisputed,
    OrderPaid,
    OrderRefunded,
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


class AloudNotifier:
    """Installed with the application; quiet until its platform's core is running."""

    def __init__(self) -> None:
        self.core: AloudCore | None = None

    async def notify(self, notice: Notice) -> None:
        core = self.core
        if core is None:
            return
        out = boards(core, notice)
        buyer, chat = _addresses(notice)
        where = core.chat_of(chat) if chat else None
        if buyer is not None and buyer.startswith(f"{core.platform}:") and where is not None:
            who = core.who(buyer)
            reply = core.renderer.notice(notice, who)
            # A question naming the saved card and the address: asked without them, aloud.
            said = core.t("confirm", who=who) if asks_confirm(reply) else aloud(reply.private, who)
            if said:
                out.append(Outgoing(core.platform, where, core.unnamed_card(said, notice)))
        await core.put(*out)


def boards(core: AloudCore, notice: Notice) -> list[Outgoing]:
    """What the chats a drop, an auction, a show, a giveaway or a poll runs in see."""
    r = core.renderer
    match notice:
        case DropStarted(drop=drop) | DropEnded(drop=drop) | UnitsLeft(drop=drop):
            return core.drop_board(drop)  # a board's updates are merged by the outbox
        case AuctionUpdated(auction=auction, seconds_left=left):
            return core.on_boards(
                auction.channels, r.auction_board(auction, left), f"auction:{auction.id}"
            )
        case AuctionEnded(auction=auction):
            return _said(core, auction.channels, r.auction_result(auction))
        case ShowAnnounced(show=show):
            return _said(core, show.channels, r.notice(notice, "").public or "")
        case ShowUpdated(show=show):
            return core.on_boards(show.channels, r.show_board(show), f"show:{show.id}")
        case GiveawayStarted(giveaway=giveaway):
            return _said(core, giveaway.channels, r.giveaway_started(giveaway).public or "")
        case GiveawayUpdated(giveaway=giveaway):
            text = r.giveaway_board(giveaway).public or ""
            return core.on_boards(giveaway.channels, text, f"giveaway:{giveaway.id}")
        case GiveawayDrawn(giveaway=giveaway):
            return _said(core, giveaway.channels, r.giveaway_result(giveaway))
        case PollUpdated(poll=poll) if poll.status == "live":
            text = r.poll_board(poll).public or ""
            return core.on_boards(poll.channels, text, f"poll:{poll.id}")
        case PollUpdated(poll=poll) | PollClosed(poll=poll):
            return _said(core, poll.channels, r.poll_closed(poll))
    return []


def _said(core: AloudCore, chats: tuple[str, ...], text: str) -> list[Outgoing]:
    if not text:
        return []
    return [Outgoing(core.platform, c, text) for c in map(core.chat_of, chats) if c]


def _addresses(notice: Notice) -> tuple[str | None, str | None]:
    """The buyer a notice is for and the chat they bought in."""
    match notice:
        case OrderPaid(order=order) | HoldExpired(order=order) | CheckoutReady(order=order):
            return order.identity, order.chat
        case OrderRefunded(order=order) | OrderDisputed(order=order):
            return order.identity, order.chat
        case PaymentStopped(order=order) | AuctionWon(order=order):
            return order.identity, order.chat
        case PromotedFromWaitlist(claim=claim) if claim.order is not None:
            return claim.order.identity, claim.order.chat
        case WaitlistClosed(identity=identity, chat=chat) | Outbid(identity=identity, chat=chat):
            return identity, chat
        case PaymentFellBack(result=result):
            return result.order.identity, result.order.chat
        case CardSaved():
            return None, None  # no chat to say it in
        case GiveawayDrawn(winner_identity=winner, winner_chat=chat):
            return winner, chat
    return None, None
