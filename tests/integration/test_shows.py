"""Shows from the chat: a run sheet in two chats, announced, reminded and opened by the
sweeper, run with /next by a co-host (who may not refund or change prices), PDD auctions and a
fixed-price lot, /skip, /pause and /show end, on a deterministic clock."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import LOCALES, Renderer
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput, NotFound
from commerce.domain.shows import LotMode, LotSpec, parse_lots_csv
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import AuctionWon, ShowAnnounced, ShowUpdated, ShowView
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product

OWNER, COHOST = "telegram:1", "discord:2"
TG, WEB = "telegram:-100", "web:live"
_n = iter(range(1, 100_000))

RUN_SHEET = """sku,mode,price,duration,close,quantity
CARD1,pdd,,,,
TEE,fixed,20,,,3
CARD2,auction,5,30s,soft,
CARD3,pdd,2,,,
"""


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> AsyncIterator[MessageBus]:
    settings = test_settings(database_url, livebuy_sellers=OWNER)
    bus = bootstrap(
        settings, engine, clock=clock, notifier=notifier, payments=FakePaymentGateway()
    )
    for sku in ("CARD1", "CARD2", "CARD3", "TEE"):
        await add_product(bus, sku, stock=5)
    await bus.handle(c.AddSeller(COHOST, "cohost"))
    yield bus
    await bus.deps.store.close()


async def say(bus: MessageBus, who: str, text: str, chat_ref: str = TG) -> Any:
    key = f"{chat_ref}:{next(_n)}"
    return await bus.handle(c.ChatMessage(key, chat_ref, who, text, who.split(":")[1]))


async def scheduled(bus: MessageBus, clock: FakeClock) -> ShowView:
    show: ShowView = await bus.handle(
        c.CreateShow(
            "Sunday cards",
            clock.now() + timedelta(hours=1),
            (TG, WEB),
            lots=tuple(parse_lots_csv(RUN_SHEET)),
        )
    )
    return show


async def test_a_show_is_announced_reminded_and_opened(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    show = await scheduled(shop, clock)
    assert show.code == "SUNDAY-CARDS" and show.status == "scheduled"
    assert [(lot.sku, lot.mode) for lot in show.lots] == [
        ("CARD1", "auction"),
        ("TEE", "fixed"),
        ("CARD2", "auction"),
        ("CARD3", "auction"),
    ]
    pdd = show.lots[0]
    assert (str(pdd.price), pdd.duration_seconds, pdd.close) == ("€1.00", 50, "sudden")
    assert str(show.lots[1].price) == "€20.00" and show.lots[1].quantity == 3
    assert [type(n) for n in notifier.notices] == [ShowAnnounced]
    text = Renderer("en").notice(notifier.notices[0], "")
    assert text.public and "Sunday cards starts" in text.public and "4 lots" in text.public

    await shop.handle(c.TickShows())
    assert len(notifier.notices) == 1  # too early for anything
    clock.advance(minutes=50, seconds=1)
    await shop.handle(c.TickShows())
    await shop.handle(c.TickShows())  # reminded once
    reminders = [n for n in notifier.of(ShowAnnounced) if n.minutes]  # type: ignore[attr-defined]
    assert len(reminders) == 1 and reminders[0].minutes == 10  # type: ignore[attr-defined]
    clock.advance(minutes=10)
    await shop.handle(c.TickShows())
    opened = notifier.of(ShowUpdated)
    assert len(opened) == 1 and opened[0].show.status == "live"  # type: ignore[attr-defined]
    assert (await shop.deps.shows.show("sunday-cards")).status == "live"  # type: ignore[union-attr]


async def test_a_cohost_runs_the_show_from_chat(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await scheduled(shop, clock)
    refused = await say(shop, "telegram:7", "/next")
    assert isinstance(refused, chat.Failed) and refused.not_allowed

    first = await say(shop, COHOST, "/next", "discord:55")  # not a show chat
    assert isinstance(first, chat.Failed) and "no show" in first.reason
    first = await say(shop, COHOST, "/next", WEB)  # opens the show early, lot 1 live
    assert isinstance(first, chat.ShowChanged) and first.show.status == "live"
    assert first.show.current is not None and first.show.current.sku == "CARD1"
    assert first.show.current.running
    board = Renderer("en").show_board(first.show)
    assert "lot 1/4" in board and "auction from €1.00 for 50s, sudden death" in board
    assert "Next: 3 × TEE product at €20.00" in board

    # Bids from both chats count in one auction.
    assert isinstance(await say(shop, "telegram:10", "#bid 3", TG), chat.BidPlaced)
    assert isinstance(await say(shop, "web:ann", "#bid 4", WEB), chat.BidPlaced)
    early = await say(shop, COHOST, "/next", WEB)
    assert isinstance(early, chat.Failed) and "still live" in early.reason
    clock.advance(seconds=51)
    await shop.handle(c.ExpireHolds())  # the sudden-death auction closes
    won = notifier.of(AuctionWon)
    assert [(n.order.identity, str(n.order.amount)) for n in won] == [("web:ann", "€4.00")]  # type: ignore[attr-defined]

    second = await say(shop, COHOST, "/next", TG)
    assert second.show.current.sku == "TEE" and second.show.lots[0].status == "done"
    twice = await say(shop, OWNER, "/next", WEB)  # typed at the same time: the show moves once
    assert isinstance(twice, chat.Failed) and "just gone live" in twice.reason
    bought = await say(shop, "telegram:11", "#buy", TG)
    assert isinstance(bought, chat.Claimed) and bought.result.order is not None
    assert str(bought.result.order.amount) == "€20.00"  # the lot's price, not the product's

    # Co-hosts run lots; prices and refunds stay with the owner.
    priced = await say(shop, COHOST, "/drop CARD3 1 99", TG)
    assert isinstance(priced, chat.Failed) and priced.not_allowed
    for text in ("/drop CARD3 100 free", "/auction CARD3 0.01"):
        refused = await say(shop, COHOST, text, TG)
        assert isinstance(refused, chat.Failed) and refused.not_allowed, text
    admin = c.ChatMessage(
        f"{TG}:{next(_n)}", TG, "telegram:77", "/giveaway CARD3", chat_admin=True
    )
    assert isinstance(await shop.handle(admin), chat.Failed)  # a group admin gives nothing away
    refund = await say(shop, COHOST, f"/refund {bought.result.order.ref}", TG)
    assert isinstance(refund, chat.Failed) and refund.not_allowed
    assert isinstance(await say(shop, OWNER, "/show", TG), chat.ShowChanged)

    skipped = await say(shop, COHOST, "/skip", TG)  # CARD2 is left out
    assert [lot.status for lot in skipped.show.lots] == ["done", "live", "skipped", "pending"]
    paused = await say(shop, COHOST, "/pause", TG)
    assert paused.show.status == "paused"
    assert "takes a break" in Renderer("en").show_board(paused.show)
    clock.advance(seconds=30)
    third = await say(shop, COHOST, "/next", TG)  # the fixed lot ends when the show moves on
    assert third.show.status == "live" and third.show.current.sku == "CARD3"
    assert (await shop.deps.store.drops())[0].status == "ended"
    assert str(third.show.current.price) == "€2.00"
    last = await say(shop, COHOST, "/next", TG)
    assert isinstance(last, chat.Failed)  # CARD3 still runs

    ended = await say(shop, COHOST, "/show end", TG)
    assert isinstance(ended, chat.ShowChanged) and ended.show.status == "ended"
    assert [lot.status for lot in ended.show.lots] == ["done", "done", "skipped", "done"]
    after = await say(shop, COHOST, "/next", TG)
    assert isinstance(after, chat.Failed) and "no show" in after.reason
    # Every update of the show reached its boards, in every language.
    boards = notifier.of(ShowUpdated)
    assert len(boards) >= 6
    for locale in LOCALES:
        for notice in boards:
            assert Renderer(locale).notice(notice, "").public


async def test_the_show_sells_and_counts(
    shop: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await scheduled(shop, clock)
    await say(shop, OWNER, "/next")
    await say(shop, "telegram:10", "#bid 2")
    clock.advance(seconds=51)
    await shop.handle(c.ExpireHolds())
    show = await say(shop, OWNER, "/next")
    won = notifier.of(AuctionWon)[0].order  # type: ignore[attr-defined]
    await shop.handle(c.SettlePayment(won.ref, "pi_card1", "evt_1"))
    claim = await say(shop, "web:bo", "#buy 2", WEB)
    await shop.handle(c.SettlePayment(claim.result.order.ref, "pi_tee", "evt_2"))
    show = await shop.deps.shows.show("SUNDAY-CARDS")  # type: ignore[union-attr]
    assert show.sold == 2 and str(show.revenue) == "€42.00"
    assert "Sold: 2 (€42.00)" in Renderer("en").show_board(show)


async def test_bad_run_sheets_are_refused_whole(shop: MessageBus, clock: FakeClock) -> None:
    with pytest.raises(InvalidInput, match="line 3"):
        parse_lots_csv("sku,mode\nCARD1,pdd\nCARD2,raffle\n")
    with pytest.raises(NotFound):
        await shop.handle(
            c.CreateShow("Bad", clock.now(), (TG,), lots=(LotSpec("NOPE"), LotSpec("CARD1")))
        )
    assert await shop.deps.shows.shows() == []  # type: ignore[union-attr]
    free = (LotSpec("CARD1"), LotSpec("TEE", LotMode.FIXED, Decimal(0), quantity=2))
    with pytest.raises(InvalidInput, match="above zero"):
        await shop.handle(c.CreateShow("Half", clock.now(), (TG,), lots=free))
    assert await shop.deps.shows.shows() == []  # type: ignore[union-attr]
    show = await shop.handle(c.CreateShow("Whole", clock.now(), (TG,), lots=(LotSpec("CARD1"),)))
    with pytest.raises(InvalidInput):
        await shop.handle(c.AddLots(show.code, (LotSpec("CARD2"), *free[1:])))
    assert len((await shop.deps.shows.show(show.code)).lots) == 1  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        await shop.handle(c.CreateShow("Past", clock.now() - timedelta(hours=1), (TG,)))
    with pytest.raises(InvalidInput):
        LotSpec("CARD1", LotMode.AUCTION, Decimal(1), quantity=2)


async def test_six_next_at_once_put_one_lot_live(shop: MessageBus, clock: FakeClock) -> None:
    """Co-hosts in two chats press /next together: one lot goes live, once, and a /skip
    racing them never leaves a sale off the run sheet."""
    await scheduled(shop, clock)
    presses = [say(shop, (OWNER, COHOST)[i % 2], "/next", (TG, WEB)[i % 2]) for i in range(6)]
    results = await asyncio.gather(*presses, say(shop, COHOST, "/skip", WEB))
    moved = [r for r in results[:6] if isinstance(r, chat.ShowChanged)]
    assert len(moved) == 1
    assert all(isinstance(r, chat.Failed) for r in results[:6] if r not in moved)
    show = await shop.deps.shows.show("SUNDAY-CARDS")  # type: ignore[union-attr]
    live = [lot for lot in show.lots if lot.status == "live"]
    assert len(live) == 1 and live[0].auction_id is not None
    auctions = await shop.deps.auctions.auctions("live")  # type: ignore[union-attr]
    assert [a.id for a in auctions] == [live[0].auction_id]  # no sale off the run sheet
