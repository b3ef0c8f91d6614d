"""One core, many mouths: a chat message from any platform, parsed once, handled here.

Adapters (Telegram, Discord, the web chat, the console) turn platform input into a
`ChatMessage`, hand it to the bus and render the typed outcome with `bots.rendering`.
"""

from dataclasses import dataclass

from commerce.domain import commands as c
from commerce.domain import grammar as g
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.errors import CommerceError, NotAllowed, NotFound, SignInNeeded
from commerce.domain.identity import ChatRef, Identity
from commerce.domain.money import Money
from commerce.domain.orders import HOLDING, OrderStatus
from commerce.service_layer import auctions, handlers, one_message, reading, saved_cards, shows
from commerce.service_layer import giveaways as engage
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.payments import refund_order
from commerce.service_layer.ports import PaymentError
from commerce.service_layer.results import (
    AuctionView,
    BidResult,
    CardView,
    ClaimResult,
    DropView,
    GiveawayView,
    OrderView,
    PaymentResult,
    PollView,
    Release,
    ShowView,
)


@dataclass(frozen=True, slots=True)
class Ignored:
    """No command in the message: ordinary chat."""


@dataclass(frozen=True, slots=True)
class Throttled:
    """Over LIVEBUY_RATE_PER_BUYER: dropped unread. `tell`: the first time in a while, the
    sender is asked to slow down; otherwise nobody answers."""

    tell: bool


@dataclass(frozen=True, slots=True)
class Misunderstood:
    error: g.ParseError


@dataclass(frozen=True, slots=True)
class Failed:
    """The command was understood but refused (the message is for the user)."""

    command: str
    reason: str
    not_allowed: bool = False
    sign_in: bool = False  # the web chat shows its sign-in buttons with the reason


@dataclass(frozen=True, slots=True)
class Claimed:
    result: ClaimResult


@dataclass(frozen=True, slots=True)
class Released:
    release: Release
    passed: bool  # /pass (True) or /cancel (False)


@dataclass(frozen=True, slots=True)
class OrderList:
    """/orders: the sender's open orders, newest first; `pay` has each unpaid one's link."""

    orders: tuple[OrderView, ...]
    pay: tuple[tuple[str, str], ...] = ()  # (order ref, its pay link)


@dataclass(frozen=True, slots=True)
class IdsShown:
    """/whoami: the sender's id and, asked in a group or channel, the chat's."""

    identity: str
    chat: str | None


@dataclass(frozen=True, slots=True)
class QueueShown:
    places: tuple[tuple[str, int], ...]  # (drop code, place in its waitlist)


@dataclass(frozen=True, slots=True)
class HelpAsked:
    seller: bool


@dataclass(frozen=True, slots=True)
class DropOpened:
    drop: DropView


@dataclass(frozen=True, slots=True)
class DropClosed:
    drop: DropView


@dataclass(frozen=True, slots=True)
class StatsShown:
    drops: tuple[DropView, ...]


@dataclass(frozen=True, slots=True)
class RefundAsked:
    order_ref: str


@dataclass(frozen=True, slots=True)
class AuctionOpened:
    auction: AuctionView


@dataclass(frozen=True, slots=True)
class AuctionClosed:
    auction: AuctionView


@dataclass(frozen=True, slots=True)
class BidPlaced:
    result: BidResult


@dataclass(frozen=True, slots=True)
class CardPaid:
    """`#confirm` (or a drop that needs none): the saved card was charged, or fell back."""

    result: PaymentResult


@dataclass(frozen=True, slots=True)
class CardShown:
    card: CardView | None
    setup_url: str  # a checkout that adds (or replaces) the card


@dataclass(frozen=True, slots=True)
class CardUnlinked:
    card: CardView | None  # None: there was none


@dataclass(frozen=True, slots=True)
class LinkCodeIssued:
    code: str
    minutes: int


@dataclass(frozen=True, slots=True)
class IdentitiesLinked:
    identities: tuple[str, ...]
    card: CardView | None


@dataclass(frozen=True, slots=True)
class ShowChanged:
    """`/next`, `/pause`, `/skip`, `/show [end]`: the show as it is now (the board)."""

    show: ShowView
    action: str  # next | pause | skip | end | info


@dataclass(frozen=True, slots=True)
class GiveawayOpened:
    """`/giveaway SKU`: the giveaway runs here; the reply carries the commitment."""

    giveaway: GiveawayView


@dataclass(frozen=True, slots=True)
class Entered:
    """`#enter`: the person's entry number (`already`: they had entered before)."""

    giveaway: GiveawayView
    number: int
    already: bool = False


@dataclass(frozen=True, slots=True)
class PollOpened:
    poll: PollView


@dataclass(frozen=True, slots=True)
class Voted:
    """`#2`: the vote counted, or (`already`) the person's first vote, which stays."""

    poll: PollView
    option: int
    already: bool = False


@dataclass(frozen=True, slots=True)
class PollEnded:
    """`/poll end`: the final counts."""

    poll: PollView


@dataclass(frozen=True, slots=True)
class NothingLive:
    """`#enter` with no giveaway here, `/poll end` with no poll: `kind` giveaway | poll."""

    kind: str


@dataclass(frozen=True, slots=True)
class PrivateOnly:
    """A command that shows or creates something personal: only in a private chat."""

    command: str


@dataclass(frozen=True, slots=True)
class NotAvailable:
    """Understood, but that part of the product is not built yet (auctions)."""

    command: str


ChatOutcome = (
    Ignored
    | Throttled
    | Misunderstood
    | Failed
    | Claimed
    | Released
    | OrderList
    | IdsShown
    | QueueShown
    | HelpAsked
    | DropOpened
    | DropClosed
    | StatsShown
    | RefundAsked
    | AuctionOpened
    | AuctionClosed
    | BidPlaced
    | CardPaid
    | CardShown
    | CardUnlinked
    | LinkCodeIssued
    | IdentitiesLinked
    | PrivateOnly
    | GiveawayOpened
    | Entered
    | PollOpened
    | Voted
    | PollEnded
    | NothingLive
    | ShowChanged
    | NotAvailable
)


# What a chat's administrators may do there without being a seller (ChatMessage.chat_admin).
# Giving stock away (a giveaway) is the shop's own decision.
CHAT_ADMIN_COMMANDS: frozenset[type] = frozenset(
    {g.StartDrop, g.StartAuction, g.EndDrop, g.StartPoll, g.EndPoll}
)


async def handle_chat_message(cmd: c.ChatMessage, deps: Deps) -> ChatOutcome:
    throttled = await _over_rate(cmd, deps)  # first: a flood costs no query
    if throttled is not None:
        return throttled
    if deps.shows is not None and not cmd.private:  # who takes part, for the show report
        await repos(deps).shows.chatted(cmd.chat, cmd.identity, deps.clock.now())
    parsed = reading.of(cmd, deps.keywords).parsed  # the bus's reading, carried on
    if parsed is None:
        return Ignored()
    if isinstance(parsed, g.ParseError):
        return Misunderstood(parsed)
    name = type(parsed).__name__
    try:
        chat_admin = False
        if type(parsed) in CHAT_ADMIN_COMMANDS:
            chat_admin = cmd.chat_admin or (cmd.is_admin is not None and await cmd.is_admin())
        if type(parsed) in g.SELLER_COMMANDS and not chat_admin:
            await handlers.require_seller(cmd.identity, deps)
        # Co-hosts run the show's lots; refunds and prices (an auction's start, a drop at
        # another price, a free drop) stay with the shop's owners.
        if isinstance(parsed, g.Refund | g.StartAuction):
            await handlers.refuse_cohost(cmd.identity, deps)
        return await _dispatch(parsed, cmd, deps)
    except NotAllowed as exc:
        return Failed(name, str(exc), not_allowed=True)
    except SignInNeeded as exc:
        return Failed(name, str(exc), sign_in=True)
    except (CommerceError, PaymentError) as exc:
        return Failed(name, str(exc))


async def _over_rate(cmd: c.ChatMessage, deps: Deps) -> Throttled | None:
    """Every message counts against its sender's rate in its chat, on every platform. Over
    it, a message is dropped (a seller's never: they run the show)."""
    if deps.throttle is None:
        return None
    key = f"{cmd.chat}|{cmd.identity}"
    if deps.throttle.allows(key) or await handlers.is_seller(cmd.identity, deps):
        return None
    platform = cmd.chat.partition(":")[0]
    return Throttled(tell=deps.throttle.refused(key, platform))


# What /orders lists: what the buyer may still pay, or waits for (held, paid but not
# shipped yet, or held for the seller's review). Closed orders stay in the seller's views.
OPEN_ORDERS = HOLDING | {OrderStatus.PAID, OrderStatus.NEEDS_REVIEW}


async def _open_orders(identity: str, deps: Deps) -> OrderList:
    """The buyer's open orders (at most 10, newest first), each unpaid one with its pay link,
    so a buyer who lost the message with the link can always pay."""
    orders = await handlers.list_orders(c.ListOrders(identity=identity, limit=50), deps)
    mine = tuple(o for o in orders if o.status in OPEN_ORDERS)[:10]
    links: list[tuple[str, str]] = []
    if deps.pay_links is not None:
        now = deps.clock.now()
        for order in mine:
            if order.status in HOLDING:
                links.append((order.ref, await repos(deps).pay_links.url(order.ref, now)))
    return OrderList(mine, tuple(links))


async def show_open_orders(cmd: c.ShowOpenOrders, deps: Deps) -> OrderList:
    """What /orders answers, asked for by a page rather than typed."""
    return await _open_orders(cmd.identity, deps)


async def _anonymous_refused(identity: str, deps: Deps) -> bool:
    """LIVEBUY_WEB_CLAIMS=signed-in: a web viewer not linked to an account may not claim."""
    if not deps.web_claims_signed_in or not identity.startswith("web:"):
        return False
    return deps.web_viewers is None or not await repos(deps).web_viewers.linked(identity)


async def count_throttled(cmd: c.CountThrottled, deps: Deps) -> dict[str, int]:
    """Messages dropped by flood control, per platform (this process's count)."""
    return deps.throttle.dropped() if deps.throttle is not None else {}


async def _dispatch(parsed: g.Command, cmd: c.ChatMessage, deps: Deps) -> ChatOutcome:
    match parsed:
        case g.Buy() if await _anonymous_refused(cmd.identity, deps):
            raise SignInNeeded(
                "claims in this web chat need a sign-in: sign in above (or link this browser"
                " to your Telegram or Discord with /link)"
            )
        case g.Buy(code=code, quantity=quantity, variant=variant):
            claim = c.Claim(
                key=cmd.key,
                chat=cmd.chat,
                identity=cmd.identity,
                display_name=cmd.display_name,
                code=code,
                quantity=quantity,
                variant_words=variant,
            )
            return Claimed(await one_message.buy(claim, cmd.private, deps))
        case g.Confirm(order=ref):
            confirm = c.ConfirmPurchase(cmd.identity, ref)
            return CardPaid(await one_message.confirm(confirm, deps))
        case g.Card() | g.Unlink() | g.Link(code=None) if not cmd.private:
            return PrivateOnly(type(parsed).__name__.lower())
        case g.Card():
            card, url = await one_message.show_card(cmd.identity, deps)
            return CardShown(card, url)
        case g.Unlink():
            return CardUnlinked(await one_message.unlink(cmd.identity, deps))
        case g.Link(code=None):
            code = await one_message.link_code(cmd.identity, deps)
            return LinkCodeIssued(code, max(1, int(deps.link_ttl.total_seconds() // 60)))
        case g.Link(code=str() as code):
            linked = await one_message.link(cmd.identity, code, deps)
            card = saved_cards.view(linked.card) if linked.card else None
            return IdentitiesLinked(linked.identities, card)
        case g.Pass(code=code):
            # In a private chat: the hold claimed in a group (the latest one).
            where = None if cmd.private else cmd.chat
            release = await handlers.pass_hold(c.PassHold(cmd.identity, where, code), deps)
            return Released(release, passed=True)
        case g.Cancel(order=ref):
            release = await handlers.cancel_order(c.CancelOrder(cmd.identity, ref), deps)
            return Released(release, passed=False)
        case g.WhoAmI():
            chat = None if cmd.private else str(ChatRef.parse(cmd.chat))
            return IdsShown(str(Identity.parse(cmd.identity)), chat)
        case g.Orders():
            return await _open_orders(cmd.identity, deps)
        case g.Queue(code=code):
            customer = await repos(deps).customers.customer_id(cmd.identity)
            if customer is None:
                return QueueShown(())
            return QueueShown(tuple(await repos(deps).holds.waitlist_places(customer, code)))
        case g.Help() | g.Start():
            return HelpAsked(await handlers.is_seller(cmd.identity, deps))
        case g.StartDrop():
            return DropOpened(await _start_drop(parsed, cmd, deps))
        case g.EndDrop(code=code):
            try:
                drop = await handlers.end_drop(c.EndDrop(code, cmd.chat, cmd.identity), deps)
            except NotFound:
                if deps.auctions is None:
                    raise
                try:  # no drop: the seller ends the auction running here, if there is one
                    end = c.EndAuction(code, cmd.chat, cmd.identity)
                    return AuctionClosed(await auctions.end_auction(end, deps))
                except NotFound:
                    raise NotFound("nothing live here to end") from None
            return DropClosed(drop)
        case g.Stats(code=code):
            drops = await repos(deps).drops.drops()
            shown = [d for d in drops if code is None or d.code == code.upper()]
            return StatsShown(tuple(shown[:5]))
        case g.Refund(order=ref, amount=amount):
            order = await repos(deps).orders.order(ref)
            money = Money.parse(amount, order.amount.currency) if amount is not None else None
            await refund_order(c.RefundOrder(ref, money, actor=cmd.identity), deps)
            return RefundAsked(order.ref)
        case g.Bid(amount=amount) | g.MaxBid(amount=amount) if deps.auctions is not None:
            bid = c.PlaceBid(
                key=cmd.key,
                chat=cmd.chat,
                identity=cmd.identity,
                amount=amount,
                proxy=isinstance(parsed, g.MaxBid),
                display_name=cmd.display_name,
                private=cmd.private,
            )
            return BidPlaced(await auctions.place_bid(bid, deps))
        case g.StartAuction() if deps.auctions is not None:
            start = c.StartAuction(
                sku=parsed.sku,
                start=parsed.start,
                duration=parsed.duration,
                close=parsed.close,
                reserve=parsed.reserve,
                step=parsed.step,
                channels=(cmd.chat,),
                actor=cmd.identity,
            )
            return AuctionOpened(await auctions.start_auction(start, deps))
        case g.Next():
            next_lot = c.NextLot(cmd.chat, None, cmd.identity)
            return ShowChanged(await shows.next_lot(next_lot, deps), "next")
        case g.Pause():
            pause = c.PauseShow(cmd.chat, None, cmd.identity)
            return ShowChanged(await shows.pause_show(pause, deps), "pause")
        case g.Skip():
            skip = c.SkipLot(cmd.chat, None, cmd.identity)
            return ShowChanged(await shows.skip_lot(skip, deps), "skip")
        case g.ShowInfo(end=True):
            await handlers.require_seller(cmd.identity, deps)
            closing = c.EndShow(cmd.chat, None, cmd.identity)
            return ShowChanged(await shows.end_show(closing, deps), "end")
        case g.ShowInfo():
            here = await shows.show_store(deps).show_in_chat(cmd.chat)
            if here is None:
                raise NotFound("no show here")
            return ShowChanged(here, "info")
        case g.Vote(option=option):
            if deps.giveaways is None:  # '#1' is ordinary chat then
                return Ignored()
            vote = await engage.cast_vote(c.CastVote(cmd.chat, cmd.identity, option), deps)
            if vote is None:  # no poll here, or no such option: ordinary chat too
                return Ignored()
            return Voted(vote.poll, vote.option, vote.already)
        case g.StartGiveaway(sku=sku, duration=duration) if deps.giveaways is not None:
            chats, show_id = await _audience(cmd.chat, deps)
            giveaway = c.StartGiveaway(sku, duration, chats, cmd.identity, show_id)
            return GiveawayOpened(await engage.start_giveaway(giveaway, deps))
        case g.Enter() if deps.giveaways is not None:
            return await press(c.EnterGiveaway(cmd.chat, cmd.identity, cmd.display_name), deps)
        case g.StartPoll(question=question, options=options) if deps.giveaways is not None:
            chats, show_id = await _audience(cmd.chat, deps)
            poll = c.StartPoll(question, options, chats, cmd.identity, show_id)
            return PollOpened(await engage.start_poll(poll, deps))
        case g.EndPoll() if deps.giveaways is not None:
            try:
                ended = await engage.end_poll(c.EndPoll(cmd.chat, actor=cmd.identity), deps)
            except NotFound:
                return NothingLive("poll")
            return PollEnded(ended)
        case _:  # auctions without an auction store (a core built without one)
            return NotAvailable(type(parsed).__name__)


async def press_button(cmd: c.PressButton, deps: Deps) -> ChatOutcome:
    return await press(cmd.action, deps)


async def press(command: c.EnterGiveaway | c.CastVote, deps: Deps) -> ChatOutcome:
    """A board's Enter or vote button (or `#enter`): the entry or vote as a chat outcome,
    whichever platform it came from."""
    try:
        if isinstance(command, c.EnterGiveaway):
            entry = await engage.enter_giveaway(command, deps)
            if entry is None:
                return NothingLive("giveaway")
            return Entered(entry.giveaway, entry.number, entry.already)
        vote = await engage.cast_vote(command, deps)
        if vote is None:
            return NothingLive("poll")
        return Voted(vote.poll, vote.option, vote.already)
    except CommerceError as exc:
        return Failed("press", str(exc))


async def _audience(chat: str, deps: Deps) -> tuple[tuple[str, ...], int | None]:
    """A giveaway or poll started in a chat of a running show runs in all its chats."""
    if deps.shows is not None:
        show = await repos(deps).shows.show_in_chat(chat)
        if show is not None and show.status in ("live", "paused"):
            return show.channels, show.id
    return (chat,), None


async def _start_drop(parsed: g.StartDrop, cmd: c.ChatMessage, deps: Deps) -> DropView:
    product = await repos(deps).products.product(parsed.sku)
    terms = DropTerms.as_typed(
        sku=product.sku,
        quantity=parsed.quantity,
        list_price=product.price,
        price=parsed.price,
        duration=parsed.duration,
        limit=parsed.limit,
        policy=DropPolicy.HOLD,
        hold=deps.hold,
        confirm=parsed.confirm,
        promo=parsed.promo,
    )
    if terms.price != product.price:
        await handlers.refuse_cohost(cmd.identity, deps)  # co-hosts sell at the shop's price
    # The seller's chat sees the drop in the reply to /drop, so no announcement is sent.
    command = c.StartDrop(terms, (cmd.chat,), actor=cmd.identity, announce=False)
    return await handlers.start_drop(command, deps)
