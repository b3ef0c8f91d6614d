"""The core's notices for Telegram buyers and boards, through the outbox.

A buyer who started the bot is told privately; one who never did gets nothing but the deep
link that opens the private chat (in the group, for a win or a promotion)."""

from bots.telegram.boards import Boards
from bots.telegram.core import PAY, PLATFORM, Core, buttons, chats, order_values
from bots.telegram.payments import Payments
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat
from commerce.service_layer.outbox import Button, Outgoing
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
    OrderPaid,
    OrderRefunded,
    OrderView,
    Outbid,
    PaymentFellBack,
    PaymentResult,
    PaymentStopped,
    PollClosed,
    PollUpdated,
    PromotedFromWaitlist,
    ShowAnnounced,
    ShowUpdated,
    UnitsLeft,
    WaitlistClosed,
)


class Notices:
    def __init__(self, core: Core, boards: Boards, payments: Payments) -> None:
        self.core, self.boards, self.payments = core, boards, payments

    async def notify(self, notice: Notice) -> None:
        out: list[Outgoing] = []
        boards = self.boards
        match notice:
            case OrderPaid(order=order):
                drop = await boards.latest(order.drop_code)
                boards.paid(drop.id if drop else 0, order.identity)
                out += await self._to_buyer(order.identity, notice)
                if drop is not None:
                    boards.changed(drop)
            case HoldExpired(order=order):
                drop = await boards.latest(order.drop_code)
                boards.forget_buyer(drop.id if drop else 0, order.identity)
                out += await self._to_buyer(order.identity, notice)
                if drop is not None:
                    boards.changed(drop)
            case PromotedFromWaitlist(claim=claim) if claim.order is not None:
                out += await self._promoted(notice, claim.order)
                if claim.drop is not None:
                    boards.note_buyer(claim.drop, claim.order)
                    boards.changed(claim.drop)
            case CardSaved(identity=identity):
                out += await self._to_buyer(identity, notice)
            case PaymentFellBack(result=result):
                out += await self._fell_back(notice, result)
            case PaymentStopped(order=order):
                drop = await boards.latest(order.drop_code)
                if order.status is not OrderStatus.NEEDS_REVIEW:  # released: the board changes
                    boards.forget_buyer(drop.id if drop else 0, order.identity)
                    if drop is not None:
                        boards.changed(drop)
                out += await self._to_buyer(order.identity, notice)
            case CheckoutReady(order=order) if self.payments.invoices:
                pass  # the buyer got the order's invoice when it was won
            case CheckoutReady(order=order) | OrderRefunded(order=order):
                out += await self._to_buyer(order.identity, notice)
            case WaitlistClosed(identity=identity):
                out += await self._to_buyer(identity, notice)
            case DropEnded(drop=drop) | UnitsLeft(drop=drop):  # claimed or released anywhere
                boards.changed(drop)
            case DropStarted(drop=drop):  # started from the dashboard: the board announces it
                out += boards.drop_boards(drop)
            case AuctionUpdated() | AuctionEnded():
                out += boards.auction_boards(notice)
            case Outbid(identity=identity):
                out += await self._to_buyer(identity, notice)
            case AuctionWon(order=order):
                # Privately, or (never started the bot) in the chat with a deep link.
                out += await self._promoted(notice, order)
            case ShowAnnounced(show=show):
                text = self.core.renderer(self.core.locale).notice(notice, "").public or ""
                out += [Outgoing(PLATFORM, c, text) for c in chats(show.channels)]
            case ShowUpdated(show=show):
                out += boards.show_boards(show)
            case GiveawayStarted() | GiveawayUpdated() | GiveawayDrawn():
                out += await self._giveaway(notice)
            case PollUpdated(poll=poll) | PollClosed(poll=poll):
                r = self.core.renderer(self.core.locale)
                if isinstance(notice, PollUpdated) and poll.status == "live":
                    reply = r.poll_board(poll)
                    text, under = reply.public or "", buttons(reply.actions)
                else:
                    text, under = r.poll_closed(poll), ()
                board = f"poll:{poll.id}"
                out += [
                    Outgoing(PLATFORM, c, text, under, board=board) for c in chats(poll.channels)
                ]
        await self.core.put(out)

    async def _giveaway(
        self, notice: GiveawayStarted | GiveawayUpdated | GiveawayDrawn
    ) -> list[Outgoing]:
        """The giveaway's board with its Enter button while it runs; at the draw the board
        shows the result, a message says it with the seed, and the winner is told privately
        (or, never having started the bot, in the chat with a deep link)."""
        core, giveaway = self.core, notice.giveaway
        r = core.renderer(core.locale)
        where, board = chats(giveaway.channels), f"giveaway:{giveaway.id}"
        if not isinstance(notice, GiveawayDrawn):
            reply = r.notice(notice, "")
            under, text = buttons(reply.actions), reply.public or ""
            return [Outgoing(PLATFORM, c, text, under, board=board) for c in where]
        result = r.giveaway_result(giveaway)
        out = [Outgoing(PLATFORM, c, result, board=board) for c in where]
        out += [Outgoing(PLATFORM, c, result) for c in where]
        winner, order = notice.winner_identity, notice.order
        if winner is None or order is None or not winner.startswith(f"{PLATFORM}:"):
            return out
        if await core.contacts.has_started(PLATFORM, winner):
            if order.amount.minor and order.checkout_url is None:
                # The shipping's link could not be opened (and no sweeper opens one for an
                # invoice buyer): with invoices on, the invoice is how it is paid.
                invoice = self.payments.invoice_to(order, "won")
                if invoice:
                    return out + invoice
            return out + await self._to_buyer(winner, notice)
        won_in = notice.winner_chat or ""
        if won_in.startswith(f"{PLATFORM}:"):
            lr = core.renderer(core.language_of(winner))
            who = core.names.get(winner, giveaway.winner_name)
            text = lr.t("giveaway_won_start", who=who, item=giveaway.name)
            button = Button(lr.t("private_button"), url=core.deep_link(f"{PAY}{order.ref}"))
            out.append(Outgoing(PLATFORM, won_in.partition(":")[2], text, (button,)))
        return out

    async def _to_buyer(self, identity: str, notice: Notice) -> list[Outgoing]:
        if not identity.startswith(f"{PLATFORM}:"):
            return []
        if not await self.core.contacts.has_started(PLATFORM, identity):
            return []  # they get their link through the deep link; nothing else to say
        reply = self.core.renderer(self.core.language_of(identity)).notice(notice, "")
        if not reply.private:
            return []
        private_chat = identity.partition(":")[2]
        return [Outgoing(PLATFORM, private_chat, reply.private, buttons(reply.actions))]

    async def _fell_back(self, notice: Notice, result: PaymentResult) -> list[Outgoing]:
        """A saved card's charge declined later (webhook): the link, or the invoice."""
        identity = result.order.identity
        if not identity.startswith(f"{PLATFORM}:"):
            return []
        if not await self.core.contacts.has_started(PLATFORM, identity):
            return []
        language, chat_id = self.core.language_of(identity), identity.partition(":")[2]
        invoice = self.payments.invoice_for(chat.CardPaid(result), chat_id, language)
        return invoice or await self._to_buyer(identity, notice)

    async def _promoted(
        self, notice: PromotedFromWaitlist | AuctionWon, order: OrderView
    ) -> list[Outgoing]:
        core = self.core
        if not order.identity.startswith(f"{PLATFORM}:"):
            return []
        if await core.contacts.has_started(PLATFORM, order.identity):
            if isinstance(notice, AuctionWon):
                kind = "second_chance" if notice.second_chance else "auction_won"
                # A saved card's confirm is the one tap: no invoice besides it.
                invoice = [] if notice.confirm else self.payments.invoice_to(order, kind)
            else:  # promoted: as a won claim (a saved card's question or charge, no invoice;
                # the invoice for a charge that fell back)
                invoice = self.payments.invoice_to(order, "promoted", notice.claim)
            return invoice or await self._to_buyer(order.identity, notice)
        if not order.chat.startswith(f"{PLATFORM}:"):
            return []
        r = core.renderer(core.language_of(order.identity))
        name = core.names.get(order.identity, "")
        text = r.t("won_start", who=name or order.identity, **order_values(order))
        button = Button(r.t("private_button"), url=core.deep_link(f"{PAY}{order.ref}"))
        return [Outgoing(PLATFORM, order.chat.partition(":")[2], text, (button,))]
