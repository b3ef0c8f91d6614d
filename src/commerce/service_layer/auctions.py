"""Auction use cases: start, bid (plain or proxy), close when due, second-chance offers."""

import math
from collections.abc import Sequence

from commerce.domain import commands as c
from commerce.domain.auctions import (
    DEFAULT_DURATION,
    DEFAULT_LADDER,
    AuctionTerms,
    CloseMode,
    Ladder,
)
from commerce.domain.errors import InvalidInput, NotAllowed
from commerce.domain.identity import ChatRef
from commerce.domain.money import Money
from commerce.domain.products import normalise_sku
from commerce.service_layer.deps import Deps, repos
from commerce.service_layer.ports import AuctionStore
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionOffer,
    AuctionUpdated,
    AuctionView,
    AuctionWon,
    BidResult,
    BidStatus,
    Outbid,
)
from commerce.service_layer.saved_cards import pay_for_win
from commerce.service_layer.unit_of_work import current


def auction_store(deps: Deps) -> AuctionStore:
    """The auctions repository (`repos`: the unit of work's inside one, else the shop's
    own). `deps.auctions` unset: auctions are not configured."""
    if deps.auctions is None:
        raise NotAllowed("auctions are not configured")
    return repos(deps).auctions


def board(auction: AuctionView, deps: Deps) -> AuctionUpdated:
    left = (auction.ends_at - deps.clock.now()).total_seconds()
    return AuctionUpdated(auction, max(0, math.ceil(left)))


async def start_auction(cmd: c.StartAuction, deps: Deps) -> AuctionView:
    auctions = auction_store(deps)
    product = await repos(deps).products.product(cmd.sku)
    currency = product.price.currency
    if cmd.close not in (None, *CloseMode):
        raise InvalidInput("an auction closes 'soft' or 'sudden'")
    start = Money.parse(cmd.start, currency).minor
    reserve = Money.parse(cmd.reserve, currency).minor if cmd.reserve is not None else None
    step = Money.parse(cmd.step, currency).minor if cmd.step is not None else None
    if step is not None and step <= 0:
        raise InvalidInput("the step must be above zero")
    terms = AuctionTerms(
        start=start,
        duration=cmd.duration or DEFAULT_DURATION,
        close=CloseMode(cmd.close or CloseMode.SOFT),
        reserve=reserve,
        ladder=Ladder.fixed(step) if step is not None else DEFAULT_LADDER,
    )
    channels = tuple(str(ChatRef.parse(ch)) for ch in cmd.channels)
    view = await auctions.start_auction(
        terms, product.sku, cmd.code, channels, cmd.actor, deps.hold, deps.clock.now()
    )
    await deps.notifier.notify(board(view, deps))
    return view


async def place_bid(cmd: c.PlaceBid, deps: Deps) -> BidResult:
    """One bid, decided after every bid that reached the core before it, whichever platform
    or chat it came from (`deps.bid_turns`): bids that arrive together are queued in their
    arrival order (taken when this is called, before its first await) and decided one after
    another in one unit of work, each in a part of its own, and every caller is answered
    after that commit. Decided side by side, two bids raced for the auction's lock and the
    later one could overtake the earlier (both at one price: the earlier refused). Several
    workers on one database are kept in one order by the auction's row lock.

    Inside a unit of work already open (a handler that bids as part of its own use case) the
    bid is decided there: the queue's task would wait for this unit's connection (and the
    place the bus took for it is given up when its message has been handled)."""
    turns = deps.bid_turns
    if turns is None or current() is not None:
        return await decide_bid(cmd, deps)
    result, follow_ups = await turns.decide(cmd, turns.taken())
    for work in follow_ups:
        await work()
    return result  # type: ignore[no-any-return]


async def meet_bidders(bids: Sequence[c.PlaceBid], deps: Deps) -> None:
    """Before a batch of bids has its unit of work: its new bidders become customers, in a
    transaction of their own, so that deciding the bids creates (and locks) none."""
    await auction_store(deps).meet_bidders(bids, deps.clock.now())


async def lock_auctions_of(bids: Sequence[c.PlaceBid], deps: Deps) -> None:
    """Before a batch of bids is decided in one unit of work: the auctions they go to are
    locked in one order (ascending id), so that two workers' batches of the same auctions
    never wait for each other in a circle."""
    await auction_store(deps).lock_for_bids(bids)


async def decide_bid(cmd: c.PlaceBid, deps: Deps) -> BidResult:
    """One bid, in the unit of work open in this task: the board is redrawn and the buyer who
    lost the lead is told privately (at most once in `deps.outbid_limit`'s window: the board
    says the rest), written to the outbox with the bid."""
    auctions = auction_store(deps)
    now = cmd.received_at or deps.clock.now()
    result = await auctions.place_bid(cmd, now)
    if result.duplicate or result.auction is None or result.status is BidStatus.REFUSED:
        return result
    lost = result.outbid_identity
    if (
        lost is not None
        and result.outbid_chat is not None
        and deps.outbid_limit.allow((result.auction.id, lost), now)
    ):
        await deps.notifier.notify(Outbid(result.auction, lost, result.outbid_chat))
    if result.status is not BidStatus.RAISED:
        await deps.notifier.notify(board(result.auction, deps))
    return result


async def end_auction(cmd: c.EndAuction, deps: Deps) -> AuctionView:
    """Closes a live auction now (the seller's `/end`): the highest bid wins, as at the end."""
    auctions = auction_store(deps)
    code = normalise_sku(cmd.code) if cmd.code else None
    chat = str(ChatRef.parse(cmd.chat)) if cmd.chat else None
    auction_id = await auctions.end_auction(code, chat, deps.clock.now())
    await close_due_auctions(c.CloseDueAuctions(), deps)
    [view] = [a for a in await auctions.auctions() if a.id == auction_id]
    return view


async def close_due_auctions(cmd: c.CloseDueAuctions, deps: Deps) -> list[AuctionOffer]:
    """The sweeper's pass: due auctions closed (the winner's order, and its link or a saved
    card's confirm, at once), unpaid wins offered to the runner-up at their last bid."""
    if deps.auctions is None:
        return []
    auctions, now = auction_store(deps), deps.clock.now()
    offers = await auctions.close_due(now)
    offers += await auctions.second_chances(now)
    for offer in offers:
        if not offer.second_chance:
            await deps.notifier.notify(AuctionEnded(offer.auction))
        if offer.order is not None:
            order, card = await pay_for_win(offer.order, deps)
            won = AuctionWon(offer.auction, order, offer.second_chance, confirm=card)
            await deps.notifier.notify(won)
    return offers
