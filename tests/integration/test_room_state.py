"""What a web chat room and the home page show on every load, read from the database: the
room's live drop, its auctions and its show, and the rooms where something is live."""

from datetime import timedelta
from decimal import Decimal

from commerce.domain import commands as c
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, start_drop


async def test_a_rooms_live_drop_auctions_and_show(bus: MessageBus, clock: FakeClock) -> None:
    reads = bus.reads
    empty = await queries.room_state(reads, "web:demo")
    assert empty.drop is None and empty.auctions == () and empty.show is None
    assert await queries.live_rooms(reads) == ([], False)

    for sku in ("TEE", "MUG", "CAP", "CARD"):
        await add_product(bus, sku, stock=5)
    tee = await start_drop(bus, "TEE", channels=("web:demo",))
    await start_drop(bus, "MUG", channels=("web:other", "telegram:-100"))
    state = await queries.room_state(reads, "web:demo")
    assert state.drop is not None and state.drop.id == tee.id
    assert await queries.live_rooms(reads) == (["demo", "other"], False)

    # A drop in every chat is live in every room: the newest live drop is the room's.
    cap = await start_drop(bus, "CAP", channels=())
    state = await queries.room_state(reads, "web:demo")
    assert state.drop is not None and state.drop.id == cap.id
    assert await queries.live_rooms(reads) == (["demo", "other"], True)

    await bus.handle(c.StartAuction("CARD", Decimal(5), timedelta(minutes=5), channels=("web:x",)))
    await bus.handle(c.CreateShow("Sunday", clock.now() + timedelta(hours=1), ("web:demo",)))
    state = await queries.room_state(reads, "web:demo")
    assert state.auctions == ()  # the auction runs in web:x only
    assert state.show is not None and state.show.title == "Sunday"
    [auction] = (await queries.room_state(reads, "web:x")).auctions
    assert auction.code == "CARD" and auction.status == "live"
    assert await queries.live_rooms(reads) == (["demo", "other", "x"], True)  # not scheduled

    for code in ("TEE", "MUG", "CAP"):
        await bus.handle(c.EndDrop(code))
    assert (await queries.room_state(reads, "web:demo")).drop is None
    assert await queries.live_rooms(reads) == (["x"], False)


async def test_a_rooms_giveaways_and_polls_running_and_ended_lately(
    bus: MessageBus, clock: FakeClock
) -> None:
    """They are cards too: a reload or a restart shows them (and a result for an hour)."""
    reads = bus.reads
    await add_product(bus, "PIN", stock=5)
    minute = timedelta(minutes=1)
    here = await bus.handle(c.StartGiveaway("PIN", minute, channels=("web:demo",)))
    await bus.handle(c.StartGiveaway("PIN", minute, channels=("web:other",)))
    poll = await bus.handle(c.StartPoll("Red or blue?", ("red", "blue"), ("web:demo",)))
    state = await queries.room_state(reads, "web:demo")
    assert [g.id for g in state.giveaways] == [here.id]
    assert [p.id for p in state.polls] == [poll.id]
    assert state.polls[0].options[0].label == "red"
    assert (await queries.room_state(reads, "web:nowhere")).polls == ()

    # Drawn and closed: their results stay for an hour, next to what runs now.
    clock.advance(minutes=2)
    await bus.handle(c.DrawDueGiveaways())
    await bus.handle(c.EndPoll("web:demo"))
    everywhere = await bus.handle(c.StartGiveaway("PIN", minute * 5, channels=()))
    state = await queries.room_state(reads, "web:demo")
    assert [(g.id, g.status) for g in state.giveaways] == [
        (here.id, "drawn"),
        (everywhere.id, "live"),
    ]  # oldest first
    assert [p.status for p in state.polls] == ["closed"]
    # An hour on, the old results are gone; what was drawn just now shows.
    clock.advance(minutes=61)
    await bus.handle(c.DrawDueGiveaways())
    state = await queries.room_state(reads, "web:demo")
    assert [(g.id, g.status) for g in state.giveaways] == [(everywhere.id, "drawn")]
    assert state.polls == ()
