"""1,000 bids at once from three chats, over two engines (two app instances) on one database:
one consistent auction. The database's own record, replayed through the pure rules in the
order the bids took the auction's lock, gives back every decision and the final state."""

import asyncio
import random
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from commerce.adapters.auctions import SqlAuctions
from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.auctions import AuctionState, AuctionTerms, Ladder, place_bid
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import AuctionWon, BidResult, BidStatus
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product

BIDS = 1000
CHATS = ("web:show", "telegram:-100", "discord:7")
BIDDERS_PER_CHAT = 40


def _bids(rng: random.Random) -> list[c.PlaceBid]:
    out = []
    for i in range(BIDS):
        chat = CHATS[i % 3]
        platform = chat.split(":")[0]
        who = f"{platform}:{rng.randrange(BIDDERS_PER_CHAT) + 1}"
        proxy = rng.random() < 0.1  # /maxbid, from the bidder's private chat
        # Rising bids with noise, as in a heated auction: many are accepted, many too low.
        cents = 100 + i * 25 + rng.randrange(500) + (rng.randrange(2000) if proxy else 0)
        amount = Decimal(cents) / 100
        where = who if proxy else chat
        out.append(c.PlaceBid(f"{where}:{i}", where, who, amount, proxy, private=proxy))
    return out


@pytest.mark.slow
async def test_a_thousand_concurrent_bids_from_three_chats_give_one_result(
    database_url: str, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = test_settings(database_url)
    engines = [create_engine(database_url), create_engine(database_url)]
    notifier = FakeNotifier()
    buses: list[MessageBus] = [
        bootstrap(settings, e, clock=clock, notifier=notifier, payments=FakePaymentGateway())
        for e in engines
    ]
    try:
        await add_product(buses[0], "CARD", stock=1)
        await buses[0].handle(
            c.StartAuction("CARD", Decimal(1), timedelta(minutes=10), channels=CHATS)
        )
        bids = _bids(random.Random(8))
        started = time.perf_counter()
        answers: list[BidResult] = await asyncio.gather(
            *(buses[i % 2].handle(bid) for i, bid in enumerate(bids))
        )
        elapsed = time.perf_counter() - started

        assert len(answers) == BIDS and not any(a.duplicate for a in answers)
        accepted = [a for a in answers if a.status is not BidStatus.REFUSED]
        assert accepted and all(a.auction is not None for a in answers)
        own_seqs = [a.seq for a in accepted if a.seq is not None]
        assert len(own_seqs) == len(set(own_seqs))  # no number given twice

        async with engines[0].connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT customer_id, kind, amount_minor, status, seq FROM bid ORDER BY id"
                    )
                )
            ).all()
            auction = (await conn.execute(text("SELECT * FROM auction"))).one()
        assert len([r for r in rows if r.kind != "auto"]) == BIDS  # each message recorded once
        seqs = [r.seq for r in rows if r.seq is not None]
        assert sorted(seqs) == list(range(1, auction.last_seq + 1))  # gapless, in one auction
        assert seqs == sorted(seqs)  # numbered in the order the bids were decided

        # The pure rules, fed the bids in the order the database decided them, agree.
        terms = AuctionTerms(100, timedelta(minutes=10), ladder=Ladder.parse(auction.ladder))
        state = AuctionState(ends_at=clock.now() + timedelta(minutes=10))
        for row in rows:
            if row.kind == "auto":
                continue
            out = place_bid(
                terms,
                state,
                str(row.customer_id),
                row.amount_minor,
                clock.now(),
                row.kind == "max",
            )
            assert out.accepted == (row.status == "accepted")
            state = out.state
        assert (state.price, state.leader, state.bids, state.seq) == (
            auction.price_minor,
            str(auction.leader_customer_id),
            auction.bid_count,
            auction.last_seq,
        )
        # The winner holds the highest accepted maximum (the earliest of equal ones).
        best: dict[int, int] = {}
        for row in rows:
            if row.status == "accepted" and row.kind != "auto":
                best[row.customer_id] = max(best.get(row.customer_id, 0), row.amount_minor)
        assert best[auction.leader_customer_id] == max(best.values())

        clock.advance(minutes=10)
        [offer] = await buses[1].handle(c.CloseDueAuctions())
        assert offer.order is not None and offer.order.amount.minor == auction.price_minor
        assert offer.order.identity == auction.leader_identity
        assert len(notifier.of(AuctionWon)) == 1
        assert isinstance(buses[0].deps.auctions, SqlAuctions)
        assert await buses[0].handle(c.CloseDueAuctions()) == []  # closed once
    finally:
        for bus in buses:
            await bus.deps.store.close()
        for engine in engines:
            await engine.dispose()
    with capsys.disabled():
        backend = database_url.split(":", 1)[0]
        print(
            f"\n[auction {backend}] {BIDS} bids from {len(CHATS)} chats over 2 engines:"
            f" {elapsed:.2f}s ({BIDS / elapsed:.0f} bids/s); accepted {len(accepted)},"
            f" {auction.last_seq} visible bids, final {auction.price_minor / 100:.2f}"
        )
