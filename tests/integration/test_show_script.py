"""The scripted show of issue #11: ten lots (PDD auctions, fixed-price drops, a giveaway) and a
poll across a Telegram group and a web room, run by a co-host with /next on a deterministic
clock. Checked: the right winners and orders, the co-host's limits, the giveaway's draw
recomputed from what was published, the poll, and the show's totals against the orders."""

import hashlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import Renderer
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.domain.shows import parse_lots_csv
from commerce.service_layer import chat
from commerce.service_layer.giveaways import giveaway_record
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    AuctionWon,
    GiveawayDrawn,
    GiveawayStarted,
    OrderView,
    ShowView,
)
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product

OWNER, COHOST = "telegram:1", "web:cohost"
TG, WEB = "telegram:-100", "web:live"
SKUS = ("CARD1", "CARD2", "TEE", "STICKER", "CARD3", "CARD4", "CAP", "CARD5", "CARD6", "HAT")
RUN_SHEET = """sku,mode,price,duration,close,quantity
CARD1,pdd,,,,
CARD2,pdd,,,,
TEE,fixed,20,,,3
STICKER,giveaway,,45s,,
CARD3,auction,5,30s,soft,
CARD4,pdd,,,,
CAP,fixed,,,,2
CARD5,pdd,,,,
CARD6,pdd,3,,,
HAT,fixed,30,,,1
"""
_n = iter(range(1, 100_000))


@pytest.fixture
async def show(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> AsyncIterator[MessageBus]:
    settings = test_settings(database_url, livebuy_sellers=OWNER)
    bus = bootstrap(
        settings, engine, clock=clock, notifier=notifier, payments=FakePaymentGateway()
    )
    for sku in SKUS:
        await add_product(bus, sku, stock=5)  # €25.00 each
    await bus.handle(c.AddSeller(COHOST, "cohost"))
    await bus.handle(
        c.CreateShow(
            "Sunday cards",
            clock.now() + timedelta(minutes=5),
            (TG, WEB),
            lots=tuple(parse_lots_csv(RUN_SHEET)),
        )
    )
    yield bus
    await bus.deps.store.close()


async def say(bus: MessageBus, who: str, text: str, where: str = TG) -> Any:
    name = who.split(":")[1]
    return await bus.handle(c.ChatMessage(f"{where}:{next(_n)}", where, who, text, name))


async def next_lot(bus: MessageBus, clock: FakeClock, sku: str) -> ShowView:
    clock.advance(seconds=5)  # a co-host's pace (a /next right after the last is a double)
    moved = await say(bus, COHOST, "/next", WEB)
    assert isinstance(moved, chat.ShowChanged), moved
    assert moved.show.current is not None and moved.show.current.sku == sku
    return moved.show


async def close(bus: MessageBus, clock: FakeClock, seconds: int) -> None:
    clock.advance(seconds=seconds)
    await bus.handle(c.ExpireHolds())


async def pay(bus: MessageBus, order: OrderView) -> None:
    await bus.handle(c.SettlePayment(order.ref, f"pi_{order.ref}", f"evt_{order.ref}"))


def recompute(seed: str, entries: tuple[tuple[int, str], ...]) -> int:
    lines = "\n".join(f"{number}:{name}" for number, name in entries)
    digest = hashlib.sha256((seed + "\n" + lines).encode()).hexdigest()
    return entries[int(digest, 16) % len(entries)][0]


async def test_a_scripted_show_of_ten_lots(
    show: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    bus = show
    won: dict[str, OrderView] = {}

    def winner_of(sku: str) -> OrderView:
        orders = [n.order for n in notifier.of(AuctionWon) if n.order.sku == sku]  # type: ignore[attr-defined]
        return orders[-1]

    # 1. PDD CARD1: bids from both chats, the highest wins.
    await next_lot(bus, clock, "CARD1")
    await say(bus, "telegram:10", "#bid 2")
    await say(bus, "web:ann", "#bid 6", WEB)
    await say(bus, "telegram:11", "#bid 4")  # too low by now
    early = await say(bus, COHOST, "/next", WEB)
    assert isinstance(early, chat.Failed) and "still live" in early.reason
    await close(bus, clock, 50)
    won["CARD1"] = winner_of("CARD1")
    assert (won["CARD1"].identity, str(won["CARD1"].amount)) == ("web:ann", "€6.00")
    await pay(bus, won["CARD1"])

    # A poll between lots, voted in both chats, one vote per person.
    opened = await say(bus, COHOST, '/poll "Cards or sneakers next?" cards sneakers', WEB)
    assert isinstance(opened, chat.PollOpened)
    for who, where, vote in (
        ("telegram:10", TG, "#1"),
        ("web:ann", WEB, "#2"),
        ("telegram:11", TG, "#1"),
        ("telegram:10", TG, "#2"),  # changed their mind: the first vote counts
    ):
        await say(bus, who, vote, where)
    poll = await bus.handle(c.EndPoll(chat=WEB, actor=COHOST))
    assert [(o.label, o.votes) for o in poll.options] == [("cards", 2), ("sneakers", 1)]

    # 2. PDD CARD2: one bid.
    await next_lot(bus, clock, "CARD2")
    await say(bus, "telegram:12", "#bid 1")
    await close(bus, clock, 50)
    won["CARD2"] = winner_of("CARD2")
    await pay(bus, won["CARD2"])

    # 3. Fixed TEE, 3 at €20 (the lot's price): three buyers, a fourth is waitlisted.
    await next_lot(bus, clock, "TEE")
    tee = [
        await say(bus, who, "#buy", where)
        for who, where in (
            ("telegram:10", TG),
            ("web:bo", WEB),
            ("telegram:13", TG),
            ("web:cy", WEB),
        )
    ]
    assert [t.result.outcome.value for t in tee] == ["won", "won", "won", "waitlisted"]
    for claim in tee[:3]:
        assert str(claim.result.order.amount) == "€20.00"
        await pay(bus, claim.result.order)
    # The co-host may not change prices nor refund.
    assert (await say(bus, COHOST, "/drop CAP 1 99", WEB)).not_allowed
    refund = await say(bus, COHOST, f"/refund {tee[0].result.order.ref}", WEB)
    assert isinstance(refund, chat.Failed) and refund.not_allowed

    # 4. Giveaway STICKER: entries from both chats, one per person.
    await next_lot(bus, clock, "STICKER")
    [started] = notifier.of(GiveawayStarted)
    commitment = started.giveaway.commitment  # type: ignore[attr-defined]
    for who, where in (("telegram:10", TG), ("web:ann", WEB), ("telegram:13", TG)):
        assert isinstance(await say(bus, who, "#enter", where), chat.Entered)
    again = await say(bus, "telegram:10", "#enter")
    assert again.already
    await close(bus, clock, 46)
    [drawn] = notifier.of(GiveawayDrawn)
    record_url = drawn.giveaway.record_url  # type: ignore[attr-defined]
    assert record_url == f"http://127.0.0.1:8080/giveaways/{drawn.giveaway.id}"  # type: ignore[attr-defined]
    assert record_url in (Renderer("de").notice(drawn, "").public or "")
    record = await giveaway_record(started.giveaway.id, bus.deps)  # type: ignore[attr-defined]
    seed = record.giveaway.seed
    assert seed is not None and hashlib.sha256(seed.encode()).hexdigest() == commitment
    assert recompute(seed, record.entries) == record.giveaway.winner_number
    gift = await bus.deps.store.order(drawn.order.ref)  # type: ignore[attr-defined]
    assert gift.status is OrderStatus.PAID and gift.amount.minor == 0

    # 5. CARD3 from €5, soft close: a late bid extends it.
    await next_lot(bus, clock, "CARD3")
    await say(bus, "web:bo", "#bid 5", WEB)
    clock.advance(seconds=25)
    late = await say(bus, "telegram:13", "#bid 7")
    assert late.result.extended
    await close(bus, clock, 9)  # not yet: extended by the late bid
    assert not [n for n in notifier.of(AuctionWon) if n.order.sku == "CARD3"]  # type: ignore[attr-defined]
    await close(bus, clock, 2)
    won["CARD3"] = winner_of("CARD3")
    assert (won["CARD3"].identity, str(won["CARD3"].amount)) == ("telegram:13", "€7.00")
    await pay(bus, won["CARD3"])

    # 6. PDD CARD4 without bids: no sale.
    await next_lot(bus, clock, "CARD4")
    await close(bus, clock, 50)
    assert not [n for n in notifier.of(AuctionWon) if n.order.sku == "CARD4"]  # type: ignore[attr-defined]

    # 7. Fixed CAP at the product's price: one buyer, then the show moves on (it ends).
    await next_lot(bus, clock, "CAP")
    cap = await say(bus, "web:cy", "#buy", WEB)
    await pay(bus, cap.result.order)

    # 8. PDD CARD5: the winner never pays (a strike; the runner-up gets a second chance).
    await next_lot(bus, clock, "CARD5")
    await say(bus, "telegram:14", "#bid 1")
    await say(bus, "telegram:15", "#bid 3")
    await close(bus, clock, 50)
    unpaid = winner_of("CARD5")
    assert unpaid.identity == "telegram:15"
    await close(bus, clock, 601)  # the hold runs out
    second = winner_of("CARD5")
    assert second.identity == "telegram:14" and str(second.amount) == "€1.00"
    await pay(bus, second)

    # 9. /skip leaves out CARD6; 10. HAT, then the show ends.
    skipped = await say(bus, COHOST, "/skip", WEB)
    assert [lot.status for lot in skipped.show.lots][8] == "skipped"
    await next_lot(bus, clock, "HAT")
    hat = await say(bus, "telegram:16", "#buy")
    ended = await say(bus, COHOST, "/show end", WEB)
    assert isinstance(ended, chat.ShowChanged) and ended.show.status == "ended"
    assert [lot.status for lot in ended.show.lots] == ["done"] * 8 + ["skipped", "done"]
    assert hat.result.order.status is OrderStatus.CHECKOUT_OPEN  # unpaid: not counted

    # The totals: every paid sale of the show's lots (the giveaway is no sale), computed
    # from what happened here.
    paid = [
        won["CARD1"],
        won["CARD2"],
        *(t.result.order for t in tee[:3]),
        won["CARD3"],
        cap.result.order,
        second,
    ]
    assert ended.show.sold == len(paid) == 8
    revenue = sum(o.amount.minor for o in paid)
    assert ended.show.revenue is not None and ended.show.revenue.minor == revenue == 10000
    board = Renderer("en").show_board(ended.show)
    assert "has ended: 8 sold (€100.00)" in board
