"""Auctions from the chat: /auction by a seller, #bid and /maxbid from several platforms,
every reply and notice rendered in the four languages."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import LOCALES, Renderer, Reply
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.commands import ChatMessage
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    AuctionWon,
    BidStatus,
    Outbid,
)
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product

_n = iter(range(1, 10_000))
SELLER = "telegram:99"


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> AsyncIterator[MessageBus]:
    bus = bootstrap(
        test_settings(database_url),
        engine,
        clock=clock,
        notifier=notifier,
        payments=FakePaymentGateway(),
    )
    bus.deps.sellers = frozenset({SELLER})
    await add_product(bus, "CARD", stock=1)
    yield bus
    await bus.deps.store.close()


async def say(
    bus: MessageBus, text: str, who: str, chat_id: str = "telegram:-100", private: bool = False
) -> chat.ChatOutcome:
    name = who.split(":")[1]
    message = ChatMessage(f"{chat_id}:{next(_n)}", chat_id, who, text, name, private)
    outcome: chat.ChatOutcome = await bus.handle(message)
    return outcome


def render(outcome: chat.ChatOutcome, who: str = "@anna", locale: str = "en") -> Reply:
    return Renderer(locale).outcome(outcome, who)


async def test_a_seller_runs_an_auction_from_the_chat(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    refused = await say(shop, "/auction CARD start 1", "telegram:1")
    assert isinstance(refused, chat.Failed) and refused.not_allowed
    opened = await say(shop, "/auction CARD start 1 for 50s soft step 1", SELLER)
    assert isinstance(opened, chat.AuctionOpened)
    assert render(opened).public == (
        "Auction CARD: CARD product from €1.00, 50s, a late bid adds time. Bid with #bid 1.00"
    )
    first = await say(shop, "#bid 2", "telegram:1")
    assert render(first, "@one").public == "#1 @one leads CARD at €2.00. Next bid: €3.00"
    low = await say(shop, "!bid 2.50", "telegram:2")
    assert render(low, "@two").public == ("@two: the next bid is at least €3.00. Try #bid 3.00")
    proxy = await say(shop, "/maxbid 10", "telegram:2", chat_id="telegram:2", private=True)
    reply = render(proxy, "@two")
    assert reply.public == "#2 @two leads CARD at €3.00. Next bid: €4.00"
    assert reply.private == (
        "Your maximum of €10.00 on CARD is set (nobody sees it); you lead at €3.00."
    )
    beaten = await say(shop, "#bid 5", "telegram:1")
    assert render(beaten, "@one").public == (
        "#3 @one bid €5.00, but a higher maximum leads CARD at €6.00. Next bid: €7.00"
    )
    raised = await say(shop, "/maxbid 20", "telegram:2", chat_id="telegram:2", private=True)
    assert render(raised).private == (
        "Your maximum on CARD is now €20.00; you still lead at €6.00."
    )
    assert render(await say(shop, "#bid 30", "telegram:2")).public == (
        "@anna: you are leading already."
    )
    clock.advance(seconds=45)
    late = await say(shop, "#bid 25", "discord:3", chat_id="telegram:-100")
    assert isinstance(late, chat.BidPlaced) and late.result.status is BidStatus.LEADING
    assert render(late, "@three").public == (
        "#6 @three leads CARD at €25.00. Next bid: €26.00 Time extended!"
    )
    outbids = notifier.of(Outbid)
    assert [n.identity for n in outbids if isinstance(n, Outbid)] == ["telegram:1", "telegram:2"]
    outbid = outbids[-1]
    assert Renderer().notice(outbid, "").private == (
        "You were outbid on CARD: €25.00 now. Bid at least €26.00 with #bid 26.00"
    )
    board = notifier.of(AuctionUpdated)[-1]
    assert Renderer().notice(board, "").public == (
        "CARD CARD product: €25.00 by @3, 6 bids, 10s left"
    )
    clock.advance(seconds=10)
    assert render(await say(shop, "#bid 40", "telegram:1")).public == (
        "@anna: this auction has ended."
    )
    await shop.handle(c.ExpireHolds())
    [ended] = notifier.of(AuctionEnded)
    assert Renderer().notice(ended, "").public == "CARD sold to @3 for €25.00!"
    [won] = notifier.of(AuctionWon)
    assert isinstance(won, AuctionWon)
    text = Renderer().notice(won, "").private
    assert text == f"You won CARD product for €25.00. Pay within 10m: {won.order.checkout_url}"
    assert render(await say(shop, "#bid 40", "telegram:1")).public == (
        "No auction is live here. Sellers start one with /auction"
    )


async def test_every_auction_text_renders_in_every_language(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    outcomes: list[chat.ChatOutcome] = [
        await say(shop, "/auction CARD 1 30s sudden reserve 50", SELLER),
        await say(shop, "#bid 0.50", "telegram:1"),
        await say(shop, "/maxbid 8", "telegram:1", private=True),
        await say(shop, "#bid 2", "telegram:2"),
        await say(shop, "/maxbid 9", "telegram:1", private=True),
        await say(shop, "/maxbid 3", "telegram:3", private=True),
        await say(shop, "#bid 1", "telegram:1"),
    ]
    clock.advance(seconds=30)
    outcomes.append(await say(shop, "#bid 90", "telegram:2"))
    await shop.handle(c.CloseDueAuctions())
    [ended] = notifier.of(AuctionEnded)
    assert isinstance(ended, AuctionEnded) and ended.auction.outcome == "reserve_not_met"
    for locale in LOCALES:
        renderer = Renderer(locale)
        for outcome in outcomes:
            reply = renderer.outcome(outcome, "@x")
            assert reply.public or reply.private, (locale, outcome)
        for notice in notifier.notices:
            reply = renderer.notice(notice, "@x")
            assert reply.public or reply.private, (locale, notice)


async def test_auction_results_and_second_chances_render(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await say(shop, "/auction CARD 1 20s", SELLER)
    await say(shop, "#bid 1", "telegram:1")
    await say(shop, "#bid 2", "telegram:2")
    clock.advance(seconds=20)
    await shop.handle(c.ExpireHolds())
    clock.advance(minutes=10)
    await shop.handle(c.ExpireHolds())
    [_, second] = notifier.of(AuctionWon)
    assert isinstance(second, AuctionWon) and second.second_chance
    assert Renderer().notice(second, "").private == (
        "Second chance: CARD product is yours for €1.00, your last bid. "
        f"Pay within 10m: {second.order.checkout_url}"
    )
    await shop.handle(c.CancelOrder("telegram:1", second.order.ref))
    await shop.handle(c.ExpireHolds())
    for locale in LOCALES:
        for notice in notifier.notices:
            Renderer(locale).notice(notice, "@x")
    view = (await shop.deps.auctions.auctions())[0]  # type: ignore[union-attr]
    assert view.outcome == "unpaid"
    assert Renderer().auction_result(view) == "CARD: not sold."
    await say(shop, "/auction CARD 1 20s", SELLER)
    clock.advance(seconds=20)
    await shop.handle(c.ExpireHolds())
    assert Renderer("de").notice(notifier.of(AuctionEnded)[-1], "").public == (
        "CARD: keine Gebote, kein Verkauf."
    )
    assert clock.now() - timedelta(minutes=30) < clock.now()


async def test_without_auctions_the_chat_says_not_yet(bus: MessageBus) -> None:
    bus.deps.auctions = None
    outcome = await say(bus, "#bid 5", "telegram:1")
    assert isinstance(outcome, chat.NotAvailable)
    assert render(outcome).public == (
        "@anna: auctions are not open yet. Buy with #buy while a drop is live."
    )


async def test_a_maximum_beaten_at_once_is_shown_as_bid(shop: MessageBus) -> None:
    await say(shop, "/auction CARD 1 step 1", SELLER)
    await say(shop, "/maxbid 10", "telegram:1", chat_id="telegram:1", private=True)
    beaten = await say(shop, "/maxbid 4", "telegram:2", chat_id="telegram:2", private=True)
    reply = render(beaten, "@two")
    assert reply.public == (
        "#2 @two bid €4.00, but a higher maximum leads CARD at €5.00. Next bid: €6.00"
    )
    assert reply.private == (
        "Your maximum of €4.00 on CARD is beaten already: €5.00 now. Next bid: €6.00"
    )


async def test_the_seller_ends_an_auction_early(shop: MessageBus, notifier: FakeNotifier) -> None:
    nothing = await say(shop, "/end", SELLER)
    assert isinstance(nothing, chat.Failed) and nothing.reason == "nothing live here to end"
    await say(shop, "/auction CARD 1 for 5m", SELLER)
    await say(shop, "#bid 4", "telegram:1")
    ended = await say(shop, "/end CARD", SELLER)
    assert isinstance(ended, chat.AuctionClosed) and ended.auction.outcome == "sold"
    assert render(ended).public == "CARD sold to @1 for €4.00!"
    [won] = notifier.of(AuctionWon)
    assert isinstance(won, AuctionWon) and won.order.identity == "telegram:1"
    late = await say(shop, "#bid 9", "telegram:2")
    assert isinstance(late, chat.BidPlaced) and late.result.auction is None
    assert isinstance(await say(shop, "/end CARD", SELLER), chat.Failed)
