"""Bids that arrive together are decided one after another, in the order they reached the
core, on every platform (SQLite and PostgreSQL).

Fifty bidders each bid exactly the next step (1, 2, ... 50) at once: decided in arrival order
every one of them is the minimum the one before it left, so all fifty are accepted, numbered
1 to 50, and the last leads. Decided side by side (each bid's transaction taking the auction's
lock in whatever order the database hands it out), a later bid overtakes an earlier one and
the earlier, now too low, is refused."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ratelimit import RateLimit
from commerce.service_layer.results import BidResult, BidStatus
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product
from tests.integration.test_unit_of_work import _messages, outbox_bus

BIDS = 50
CHAT = "telegram:-100"


@pytest.fixture
async def bus(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> AsyncIterator[MessageBus]:
    bus = bootstrap(
        test_settings(database_url),
        engine,
        clock=clock,
        notifier=notifier,
        payments=FakePaymentGateway(),
    )
    await add_product(bus, "CARD", stock=1)
    await bus.handle(
        c.StartAuction(
            "CARD", Decimal(1), timedelta(minutes=10), step=Decimal(1), channels=(CHAT,)
        )
    )
    yield bus
    await bus.close()


async def accepted_bids(engine: AsyncEngine) -> list[tuple[int, int, str]]:
    """(seq, amount, identity) of the visible bids, in the order they were numbered."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT seq, amount_minor, identity FROM bid WHERE status = 'accepted'"
                " AND seq IS NOT NULL ORDER BY seq"
            )
        )
        return [(r.seq, r.amount_minor, r.identity) for r in rows]


def check_in_arrival_order(bids: list[tuple[int, int, str]]) -> None:
    assert [seq for seq, _, _ in bids] == list(range(1, BIDS + 1))
    assert [amount for _, amount, _ in bids] == [100 * n for n in range(1, BIDS + 1)]
    assert [who for _, _, who in bids] == [f"telegram:{n}" for n in range(1, BIDS + 1)]


async def test_bids_fired_at_once_are_decided_in_arrival_order(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    answers: list[BidResult] = await asyncio.gather(
        *(
            bus.handle(c.PlaceBid(f"{CHAT}:{n}", CHAT, f"telegram:{n}", Decimal(n)))
            for n in range(1, BIDS + 1)
        )
    )
    statuses = [a.status for a in answers]
    assert statuses == [BidStatus.LEADING] * BIDS, statuses
    assert [a.seq for a in answers] == list(range(1, BIDS + 1))
    check_in_arrival_order(await accepted_bids(engine))
    auction = answers[-1].auction
    assert auction is not None and auction.leader == f"telegram:{BIDS}"


async def test_bids_typed_in_a_chat_at_once_are_decided_in_arrival_order(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    """The same through the chat path every platform uses (Telegram, Discord, YouTube and
    the web chat decide a turn's bids side by side)."""
    answers = await asyncio.gather(
        *(
            bus.handle(c.ChatMessage(f"{CHAT}:{n}", CHAT, f"telegram:{n}", f"#bid {n}", f"b{n}"))
            for n in range(1, BIDS + 1)
        )
    )
    assert all(isinstance(a, chat.BidPlaced) for a in answers), answers
    placed = [a.result for a in answers if isinstance(a, chat.BidPlaced)]
    assert [p.status for p in placed] == [BidStatus.LEADING] * BIDS
    check_in_arrival_order(await accepted_bids(engine))


async def test_bids_over_two_engines_build_on_each_other(pg_url: str, clock: FakeClock) -> None:
    """Two workers (two engines) on one PostgreSQL database: arrival order is each worker's,
    the auction's row lock keeps one order for both. Every accepted bid is above the one
    accepted before it, no price is accepted twice, and the highest bid leads."""
    engines = [create_engine(pg_url), create_engine(pg_url)]
    notifier = FakeNotifier()
    buses = [
        bootstrap(
            test_settings(pg_url), e, clock=clock, notifier=notifier, payments=FakePaymentGateway()
        )
        for e in engines
    ]
    try:
        await add_product(buses[0], "CARD", stock=1)
        await buses[0].handle(
            c.StartAuction(
                "CARD", Decimal(1), timedelta(minutes=10), step=Decimal(1), channels=(CHAT,)
            )
        )
        answers: list[BidResult] = await asyncio.gather(
            *(
                buses[n % 2].handle(c.PlaceBid(f"{CHAT}:{n}", CHAT, f"telegram:{n}", Decimal(n)))
                for n in range(1, BIDS + 1)
            )
        )
        bids = await accepted_bids(engines[0])
        amounts = [amount for _, amount, _ in bids]
        assert amounts == sorted(set(amounts))  # each above the one before, none twice
        assert bids[-1] == (len(bids), 100 * BIDS, f"telegram:{BIDS}")
        accepted = [a for a in answers if a.status is not BidStatus.REFUSED]
        assert len(accepted) == len(bids)
        # Each worker decides its own bids in the order they reached it.
        for worker in (0, 1):
            seqs = [a.seq for n, a in enumerate(answers, 1) if n % 2 == worker and a.seq]
            assert seqs == sorted(seqs)
        async with engines[1].connect() as conn:
            leader = (await conn.execute(text("SELECT leader_identity FROM auction"))).scalar()
        assert leader == f"telegram:{BIDS}"
    finally:
        for bus in buses:
            await bus.close()
        for engine in engines:
            await engine.dispose()


async def test_a_bid_that_fails_is_undone_alone_and_the_queue_goes_on(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    """Three bids at once, the middle one unreadable (it fails inside the batch's unit):
    its caller hears the error, the other two are decided in their order."""
    bids = [
        c.PlaceBid(f"{CHAT}:1", CHAT, "telegram:1", Decimal(1)),
        c.PlaceBid(f"{CHAT}:2", CHAT, "no identity", Decimal(2)),
        c.PlaceBid(f"{CHAT}:3", CHAT, "telegram:2", Decimal(2)),
    ]
    first, failed, third = await asyncio.gather(
        *(bus.handle(b) for b in bids), return_exceptions=True
    )
    assert isinstance(failed, Exception)
    assert isinstance(first, BidResult) and isinstance(third, BidResult)
    assert (first.seq, third.seq) == (1, 2)
    assert [(seq, amount) for seq, amount, _ in await accepted_bids(engine)] == [
        (1, 100),
        (2, 200),
    ]


async def test_a_place_taken_for_a_bid_still_on_its_way_is_waited_for(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    """A chat message that reads as a bid takes its place as it arrives: the bids behind it
    wait until it is filled or given up (the message brought no bid after all)."""
    turns = bus.deps.bid_turns
    assert turns is not None
    place = turns.arrive()  # a '#bid 1' still in the chat's own steps
    later = asyncio.create_task(
        bus.handle(c.PlaceBid(f"{CHAT}:2", CHAT, "telegram:2", Decimal(1)))
    )
    for _ in range(50):
        await asyncio.sleep(0)
    assert not later.done()  # behind the place taken before it
    turns.drop(place)
    result = await later
    assert (result.status, result.seq) == (BidStatus.LEADING, 1)


async def test_a_bid_and_the_messages_it_causes_commit_together(
    database_url: str, engine: AsyncEngine
) -> None:
    """The outbid notice and the board go to the outbox in the bid's own transaction: a
    notice that cannot be written undoes the bid, and nothing is sent for it."""
    bus, notifier = outbox_bus(database_url, engine)
    # (The in-process limit of one outbid message per buyer in a few seconds would count the
    # one undone: off here.)
    bus.deps.outbid_limit = RateLimit(timedelta(0))
    try:
        await add_product(bus, "CARD", stock=1)
        await bus.handle(
            c.StartAuction(
                "CARD", Decimal(1), timedelta(minutes=10), step=Decimal(1), channels=(CHAT,)
            )
        )
        await bus.handle(c.PlaceBid(f"{CHAT}:1", CHAT, "telegram:1", Decimal(1)))
        sent = await _messages(engine)
        assert sent == ["AuctionUpdated", "AuctionUpdated"]  # the start's board, the bid's
        notifier.fail = True
        with pytest.raises(RuntimeError, match="notifier failed"):
            await bus.handle(c.PlaceBid(f"{CHAT}:2", CHAT, "telegram:2", Decimal(2)))
        assert [(seq, amount) for seq, amount, _ in await accepted_bids(engine)] == [(1, 100)]
        assert await _messages(engine) == []
        notifier.fail = False
        again = await bus.handle(c.PlaceBid(f"{CHAT}:2", CHAT, "telegram:2", Decimal(2)))
        assert (again.status, again.seq, again.duplicate) == (BidStatus.LEADING, 2, False)
        assert await _messages(engine) == ["Outbid", "AuctionUpdated"]
    finally:
        await bus.close()


@asynccontextmanager
async def two_workers_two_auctions(
    pg_url: str, clock: FakeClock
) -> AsyncIterator[tuple[list[MessageBus], list[AsyncEngine], tuple[str, str]]]:
    """Two workers (two engines, two buses) on PostgreSQL, and two live auctions, one in
    each chat (the first has the lower id)."""
    engines = [create_engine(pg_url), create_engine(pg_url)]
    notifier = FakeNotifier()
    buses = [
        bootstrap(
            test_settings(pg_url), e, clock=clock, notifier=notifier, payments=FakePaymentGateway()
        )
        for e in engines
    ]
    chats = ("telegram:-100", "telegram:-200")
    try:
        for sku, chat_id in zip(("CARD", "MUG"), chats, strict=True):
            await add_product(buses[0], sku, stock=1)
            await buses[0].handle(
                c.StartAuction(
                    sku, Decimal(1), timedelta(minutes=10), step=Decimal(1), channels=(chat_id,)
                )
            )
        yield buses, engines, chats
    finally:
        for bus in buses:
            await bus.close()
        for engine in engines:
            await engine.dispose()


async def test_two_workers_deciding_bids_of_two_auctions_never_deadlock(
    pg_url: str, clock: FakeClock
) -> None:
    """Two workers (two engines) on PostgreSQL, two live auctions, bids of both interleaved
    and handed to the workers in opposite orders: a batch holding bids of both auctions locks
    them in one order (ascending id), so two workers' batches never wait for each other in a
    circle. Before, one batch took A then B while the other took B then A: PostgreSQL broke
    the deadlock by failing a bid, whose caller got the error."""
    async with two_workers_two_auctions(pg_url, clock) as (buses, engines, chats):
        rounds, per_round = 6, 40
        bids: list[tuple[int, c.PlaceBid]] = []
        for n in range(rounds * per_round):
            worker = n % 2
            # Worker 0 sees A, B, A, B...; worker 1 sees B, A, B, A...
            where = chats[(n // 2 + worker) % 2]
            amount = Decimal(n // 2 + 1)
            bids.append((worker, c.PlaceBid(f"{where}:{n}", where, f"telegram:{n}", amount)))
        answers: list[Any] = []
        for r in range(rounds):  # several rounds: several batches meet on both workers
            part = bids[r * per_round : (r + 1) * per_round]
            answers += await asyncio.gather(
                *(buses[w].handle(bid) for w, bid in part), return_exceptions=True
            )
        errors = [a for a in answers if isinstance(a, BaseException)]
        assert not errors, errors[:3]
        assert all(isinstance(a, BidResult) for a in answers) and len(answers) == len(bids)
        async with engines[1].connect() as conn:
            auctions = (
                await conn.execute(text("SELECT id, price_minor, leader_identity FROM auction"))
            ).all()
            rows = (
                await conn.execute(
                    text(
                        "SELECT auction_id, seq, amount_minor, identity FROM bid"
                        " WHERE status = 'accepted' AND seq IS NOT NULL ORDER BY auction_id, seq"
                    )
                )
            ).all()
        for auction in auctions:
            mine = [r for r in rows if r.auction_id == auction.id]
            amounts = [r.amount_minor for r in mine]
            assert [r.seq for r in mine] == list(range(1, len(mine) + 1))
            assert amounts == sorted(set(amounts))  # each above the one before, none twice
            assert (auction.price_minor, auction.leader_identity) == (
                amounts[-1],
                mine[-1].identity,
            )


async def test_new_bidders_in_two_auctions_on_two_workers_never_deadlock(
    pg_url: str, clock: FakeClock
) -> None:
    """Two workers on PostgreSQL, each deciding bids of its own auction, and the same new
    bidders bidding in both, in opposite orders: a batch's new bidders become customers in a
    transaction of their own, in sorted order, before its unit. Created while deciding, each
    worker's batch held one new bidder's row and waited for the other's: PostgreSQL broke the
    deadlock by failing a bid."""
    async with two_workers_two_auctions(pg_url, clock) as (buses, _, chats):
        answers: list[Any] = []
        for r in range(5):
            who = [f"telegram:{r}-{n}" for n in range(20)]  # new in each round
            bids = []
            for n in range(20):
                amount = Decimal(r * 20 + n + 1)
                # Worker 0's auction hears them in one order, worker 1's in the other.
                for worker, bidder in ((0, who[n]), (1, who[-1 - n])):
                    where = chats[worker]
                    bid = c.PlaceBid(f"{where}:{r}:{n}", where, bidder, amount)
                    bids.append(buses[worker].handle(bid))
            answers += await asyncio.gather(*bids, return_exceptions=True)
        errors = [a for a in answers if isinstance(a, BaseException)]
        assert not errors, errors[:3]
        assert all(a.status is BidStatus.LEADING for a in answers)  # each its worker's next


async def test_the_sweeper_locks_due_auctions_in_the_bids_order(
    pg_url: str, clock: FakeClock
) -> None:
    """Two auctions due at once, the one with the higher id due first: the sweeper locks them
    by ascending id, as a batch of bids of both does, so a batch holding the first and about
    to lock the second (here a transaction doing just that) and the sweeper do not deadlock.
    Before, the sweeper locked them in the order they ran out: the second, then the first."""
    async with two_workers_two_auctions(pg_url, clock) as (buses, engines, _):
        async with engines[1].begin() as conn:
            first, second = (
                await conn.execute(text("SELECT id FROM auction ORDER BY id"))
            ).scalars()
            for auction_id, minutes in ((first, 1), (second, 2)):
                await conn.execute(
                    text("UPDATE auction SET ends_at = :at WHERE id = :id"),
                    {"at": clock.now() - timedelta(minutes=minutes), "id": auction_id},
                )
        lock = text("UPDATE auction SET last_seq = last_seq WHERE id = :id")
        async with engines[1].connect() as batch, engines[1].connect() as watch:
            await batch.begin()
            await batch.execute(lock, {"id": first})  # a batch of bids holds the first
            sweeper = asyncio.create_task(buses[0].handle(c.CloseDueAuctions()))
            waiting = text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            async with asyncio.timeout(10):
                while not (await watch.execute(waiting)).scalar():  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
            await batch.execute(lock, {"id": second})  # and now locks the second
            await batch.commit()
            offers = await asyncio.wait_for(sweeper, 10)
        assert len(offers) == 2
