"""Auctions on SQLite and PostgreSQL: bids decided by the database, soft close, proxies,
reserve, the winner's order and link, second-chance offers, strikes, a restart."""

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from itertools import count

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.auctions import SqlAuctions
from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.errors import Conflict, InvalidInput, NotAllowed, NotFound
from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    AuctionView,
    AuctionWon,
    BidRefusalReason,
    BidResult,
    BidStatus,
    CheckoutReady,
    HoldExpired,
    Outbid,
    PageKind,
)
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, open_link

_keys = count(1)


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


@pytest.fixture
async def shop(
    database_url: str,
    engine: AsyncEngine,
    clock: FakeClock,
    notifier: FakeNotifier,
    gateway: FakePaymentGateway,
) -> AsyncIterator[MessageBus]:
    bus = bootstrap(
        test_settings(database_url), engine, clock=clock, notifier=notifier, payments=gateway
    )
    yield bus
    await bus.deps.store.close()


async def auction(
    bus: MessageBus,
    start: str = "1",
    seconds: int = 50,
    close: str | None = None,
    reserve: str | None = None,
    step: str | None = None,
    channels: tuple[str, ...] = ("web:show", "telegram:-100", "discord:7"),
) -> AuctionView:
    await add_product(bus, "CARD", stock=1)
    view: AuctionView = await bus.handle(
        c.StartAuction(
            "CARD",
            Decimal(start),
            timedelta(seconds=seconds),
            close,
            Decimal(reserve) if reserve else None,
            Decimal(step) if step else None,
            channels,
        )
    )
    return view


async def bid(
    bus: MessageBus, who: str, amount: str, chat: str = "web:show", proxy: bool = False
) -> BidResult:
    """A bid; a proxy bid is sent from the bidder's private chat with the bot."""
    chat = who if proxy else chat
    key = f"{chat}:{next(_keys)}"
    result: BidResult = await bus.handle(
        c.PlaceBid(key, chat, who, Decimal(amount), proxy, private=proxy)
    )
    return result


async def test_a_whole_soft_close_auction_across_three_chats(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier, gateway: FakePaymentGateway
) -> None:
    started = await auction(shop)
    assert started.minimum.minor == 100 and started.ends_at == clock.now() + timedelta(seconds=50)
    first = await bid(shop, "web:anna", "1")
    assert first.status is BidStatus.LEADING and first.seq == 1
    second = await bid(shop, "telegram:42", "3", chat="telegram:-100")
    assert second.status is BidStatus.LEADING and second.seq == 2
    assert (second.outbid_identity, second.outbid_chat) == ("web:anna", "web:show")
    low = await bid(shop, "discord:9", "3.50", chat="discord:7")
    assert low.status is BidStatus.REFUSED and low.reason is BidRefusalReason.TOO_LOW
    assert low.auction is not None and low.auction.minimum.minor == 400
    clock.advance(seconds=45)
    late = await bid(shop, "discord:9", "5", chat="discord:7")
    assert late.extended and late.auction is not None
    assert late.auction.ends_at == clock.now() + timedelta(seconds=10)
    assert late.auction.bids == 3 and late.auction.leader == "discord:9"
    clock.advance(seconds=6)  # past the original end, before the extended one
    assert await shop.handle(c.CloseDueAuctions()) == []
    clock.advance(seconds=4)
    await shop.handle(c.ExpireHolds())  # the sweeper closes it
    assert isinstance(shop.deps.auctions, SqlAuctions)
    [closed] = await shop.deps.auctions.auctions()
    assert closed.status == "closed" and closed.outcome == "sold"
    [won] = notifier.of(AuctionWon)
    assert isinstance(won, AuctionWon)
    assert won.order.identity == "discord:9" and won.order.amount.minor == 500
    assert gateway.opened == []  # no provider call until the winner opens the link
    page = await open_link(shop, won.order)
    assert page.url == f"https://checkout.test/{won.order.ref}"
    assert gateway.opened[0].unit_amount.minor == 500
    assert won.order.hold_expires_at == clock.now() + timedelta(minutes=10)
    assert [type(n) for n in notifier.of(Outbid)] == [Outbid, Outbid]
    assert len(notifier.of(AuctionEnded)) == 1
    assert len(notifier.of(AuctionUpdated)) == 4  # the start and three accepted bids
    ended = await bid(shop, "web:anna", "9")
    assert ended.reason is BidRefusalReason.NO_LIVE_AUCTION
    await shop.handle(c.SettlePayment(won.order.ref, "pi_1", "evt_1"))
    assert (await shop.deps.store.order(won.order.ref)).status is OrderStatus.PAID
    assert (await shop.deps.store.product("CARD")).stock == 0


async def test_proxy_bids_raise_step_by_step_and_stay_hidden(
    shop: MessageBus, notifier: FakeNotifier
) -> None:
    await auction(shop)
    proxy = await bid(shop, "telegram:1", "40", proxy=True)
    assert proxy.status is BidStatus.LEADING and proxy.auction is not None
    assert proxy.auction.price is not None and proxy.auction.price.minor == 100
    beaten = await bid(shop, "web:anna", "15")
    assert beaten.status is BidStatus.OUTBID and beaten.auction is not None
    assert beaten.auction.price is not None and beaten.auction.price.minor == 1600
    assert beaten.auction.leader == "telegram:1" and beaten.auction.bids == 3
    raised = await bid(shop, "telegram:1", "60", proxy=True)
    assert raised.status is BidStatus.RAISED
    other = await bid(shop, "discord:5", "50", proxy=True)
    assert other.status is BidStatus.OUTBID and other.auction is not None
    assert other.auction.price is not None and other.auction.price.minor == 5500
    not_again = await bid(shop, "telegram:1", "70", chat="telegram:-100")
    assert not_again.reason is BidRefusalReason.ALREADY_LEADING
    assert notifier.of(Outbid) == []  # the proxy kept the lead all along


async def test_sudden_death_and_reserve_not_met(shop: MessageBus, clock: FakeClock) -> None:
    await auction(shop, close="sudden", reserve="20", seconds=30)
    await bid(shop, "web:anna", "5")
    clock.advance(seconds=29)
    last = await bid(shop, "web:ben", "10")
    assert not last.extended and last.auction is not None
    assert last.auction.reserve_met is False
    clock.advance(seconds=1)
    assert (await bid(shop, "web:cleo", "12")).reason is BidRefusalReason.ENDED
    [offer] = await shop.handle(c.CloseDueAuctions())
    assert offer.order is None and offer.auction.outcome == "reserve_not_met"
    assert (await shop.deps.store.product("CARD")).stock == 1


async def test_no_bids_no_sale(shop: MessageBus, clock: FakeClock) -> None:
    await auction(shop)
    clock.advance(seconds=50)
    [offer] = await shop.handle(c.CloseDueAuctions())
    assert offer.order is None and offer.auction.outcome == "no_bids"


async def test_an_unpaid_winner_gets_a_strike_and_the_runner_up_an_offer(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier, gateway: FakePaymentGateway
) -> None:
    await auction(shop, step="1")
    await bid(shop, "web:anna", "5")
    await bid(shop, "web:ben", "8")
    await bid(shop, "web:cleo", "12")
    await bid(shop, "web:anna", "13")
    await bid(shop, "web:ben", "20")
    clock.advance(seconds=50)
    [closed] = await shop.handle(c.CloseDueAuctions())
    assert closed.order is not None and closed.order.identity == "web:ben"
    clock.advance(minutes=10)
    await shop.handle(c.ExpireHolds())
    [won, second] = notifier.of(AuctionWon)
    assert isinstance(won, AuctionWon) and isinstance(second, AuctionWon)
    assert second.second_chance and second.order.identity == "web:anna"
    assert second.order.amount.minor == 1300  # her last bid
    assert len(notifier.of(HoldExpired)) == 1
    auctions = shop.deps.auctions
    assert isinstance(auctions, SqlAuctions)
    assert await auctions.strikes("web:ben") == 1
    assert await auctions.strikes("web:anna") == 0
    # Anna cancels: Cleo is next, at 12; then nobody is left.
    await shop.handle(c.CancelOrder("web:anna", second.order.ref))
    [third] = await shop.handle(c.CloseDueAuctions())
    assert third.order is not None and third.order.identity == "web:cleo"
    assert third.struck is None and await auctions.strikes("web:anna") == 0
    clock.advance(minutes=10)
    await shop.handle(c.ExpireHolds())
    [last] = [a for a in await auctions.auctions() if a.code == "CARD"]
    assert last.outcome == "unpaid"
    assert (await shop.deps.store.product("CARD")).stock == 1
    assert gateway.opened == []  # three links handed out, none opened: no provider call


async def test_a_restart_mid_auction_keeps_the_timer_and_the_bids(
    database_url: str, clock: FakeClock
) -> None:
    settings = test_settings(database_url)
    engine = create_engine(database_url)
    first = bootstrap(settings, engine, clock=clock, notifier=FakeNotifier())
    await auction(first, seconds=30)
    await bid(first, "web:anna", "4")
    clock.advance(seconds=25)
    await bid(first, "web:ben", "6")  # extends to 35 s
    await first.deps.store.close()
    await engine.dispose()

    engine = create_engine(database_url)
    notifier = FakeNotifier()
    second = bootstrap(settings, engine, clock=clock, notifier=notifier)
    try:
        resumed = await bid(second, "web:anna", "7")
        assert resumed.seq == 3 and resumed.auction is not None
        assert resumed.auction.ends_at == clock.now() + timedelta(seconds=10)
        clock.advance(seconds=10)
        await second.handle(c.ExpireHolds())
        [won] = notifier.of(AuctionWon)
        assert isinstance(won, AuctionWon) and won.order.identity == "web:anna"
    finally:
        await second.deps.store.close()
        await engine.dispose()


async def test_redelivered_bids_count_once(shop: MessageBus) -> None:
    await auction(shop)
    message = c.PlaceBid("web:show:m1", "web:show", "web:anna", Decimal(2))
    first = await shop.handle(message)
    again = await shop.handle(message)
    assert again.duplicate and again.seq == first.seq and again.status is BidStatus.LEADING
    refused = c.PlaceBid("web:show:m2", "web:show", "web:ben", Decimal(1))
    assert (await shop.handle(refused)).reason is BidRefusalReason.TOO_LOW
    assert (await shop.handle(refused)).duplicate
    await bid(shop, "web:ben", "5")
    outbid_replay = await shop.handle(message)
    assert outbid_replay.status is BidStatus.OUTBID
    assert isinstance(shop.deps.auctions, SqlAuctions)
    [live] = await shop.deps.auctions.auctions("live")
    assert live.bids == 2


async def test_start_is_checked(shop: MessageBus) -> None:
    await auction(shop)
    with pytest.raises(Conflict):
        await shop.handle(c.StartAuction("CARD", Decimal(1)))
    with pytest.raises(NotFound):
        await shop.handle(c.StartAuction("NOPE", Decimal(1)))
    with pytest.raises(InvalidInput):
        await shop.handle(c.StartAuction("CARD", Decimal(1), close="slow", code="X"))
    with pytest.raises(InvalidInput):
        await shop.handle(c.StartAuction("CARD", Decimal(1), step=Decimal("0.001"), code="X"))
    private = await shop.handle(
        c.PlaceBid("tg:p1", "telegram:42", "telegram:42", Decimal(30), True, private=True)
    )
    assert private.status is BidStatus.LEADING
    elsewhere = await shop.handle(
        c.PlaceBid("co:p1", "console:42", "console:42", Decimal(30), True, private=True)
    )
    assert elsewhere.reason is BidRefusalReason.NO_LIVE_AUCTION  # no auction on that platform


async def test_without_an_auction_store_auctions_are_not_allowed(bus: MessageBus) -> None:
    bus.deps.auctions = None
    with pytest.raises(NotAllowed):
        await bus.handle(c.StartAuction("CARD", Decimal(1)))
    assert await bus.handle(c.CloseDueAuctions()) == []


async def test_odd_input_and_a_unit_gone_before_the_close(
    shop: MessageBus, clock: FakeClock, gateway: FakePaymentGateway
) -> None:
    await add_product(shop, "EMPTY", stock=0)
    with pytest.raises(NotFound):
        await shop.handle(c.StartAuction("EMPTY", Decimal(1)))
    with pytest.raises(InvalidInput):
        await shop.handle(c.StartAuction("EMPTY", Decimal(1), step=Decimal(0)))
    await auction(shop)
    fraction = await shop.handle(c.PlaceBid("k1", "web:show", "web:anna", Decimal("1.001")))
    assert fraction.reason is BidRefusalReason.TOO_LOW
    await bid(shop, "web:anna", "3")
    await shop.handle(c.SetStock("CARD", 0))  # sold elsewhere meanwhile
    clock.advance(seconds=50)
    [offer] = await shop.handle(c.CloseDueAuctions())
    assert offer.order is None and offer.auction.outcome == "no_stock"
    assert gateway.opened == []


async def test_a_win_gets_its_link_while_the_provider_is_down(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier, gateway: FakePaymentGateway
) -> None:
    await auction(shop)
    await bid(shop, "web:anna", "3")
    gateway.down = True
    clock.advance(seconds=50)
    await shop.handle(c.CloseDueAuctions())
    [won] = notifier.of(AuctionWon)
    assert isinstance(won, AuctionWon) and won.order.checkout_url is not None
    assert (await open_link(shop, won.order)).kind is PageKind.UNAVAILABLE  # try again
    gateway.down = False
    page = await open_link(shop, won.order)
    assert page.kind is PageKind.PAY and page.url == f"https://checkout.test/{won.order.ref}"
    assert notifier.of(CheckoutReady) == []  # nothing to send again


async def test_a_bidding_war_does_not_flood_the_outbid_buyer(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await auction(shop, step="1", seconds=300)
    for amount in range(1, 9):
        await bid(shop, "web:anna" if amount % 2 else "web:ben", str(amount))
        clock.advance(seconds=1)
    told = [(n.identity, n.auction.price) for n in notifier.of(Outbid)]  # type: ignore[union-attr]
    # Seven changes of lead, but each buyer hears about it at most once every 3 seconds.
    assert [who for who, _ in told] == ["web:anna", "web:ben", "web:anna", "web:ben"]
    clock.advance(seconds=10)
    await bid(shop, "web:anna", "20")
    assert notifier.of(Outbid)[-1].identity == "web:ben"  # type: ignore[union-attr]
