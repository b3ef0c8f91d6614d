"""The unit of work hands out the repositories its use case works with (auctions, giveaways
and polls, and shows so far): what they write is part of the unit, seen inside it and undone
with it (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.auctions import SqlAuctions
from commerce.adapters.giveaways import SqlGiveaways
from commerce.adapters.shows import SqlShows
from commerce.domain.auctions import AuctionTerms
from commerce.service_layer import auctions, giveaways, shows
from tests.integration.helpers import add_product
from tests.integration.test_unit_of_work import outbox_bus

CHAT = "telegram:-100"


async def test_the_unit_hands_out_the_auctions_repository(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, _ = outbox_bus(database_url, engine)
    try:
        await add_product(bus, "CARD", stock=1)
        units = bus.deps.units
        assert units is not None
        terms = AuctionTerms(100, timedelta(minutes=1))
        now = bus.clock.now()
        with pytest.raises(RuntimeError, match="undone"):
            async with units() as unit:
                # The auction use cases reach it through the unit while one is open.
                assert auctions.auction_store(bus.deps) is unit.auctions
                await unit.auctions.start_auction(
                    terms, "CARD", None, (), "operator", timedelta(minutes=10), now
                )
                assert [a.code for a in await unit.auctions.auctions()] == ["CARD"]
                raise RuntimeError("undone")
        assert await SqlAuctions(engine).auctions() == []  # nothing was committed
        assert auctions.auction_store(bus.deps) is bus.deps.auctions  # no unit open
    finally:
        await bus.close()


async def test_the_unit_hands_out_the_giveaways_repository(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, _ = outbox_bus(database_url, engine)
    try:
        units = bus.deps.units
        assert units is not None
        now = bus.clock.now()
        since = now - timedelta(days=1)
        with pytest.raises(RuntimeError, match="undone"):
            async with units() as unit:
                assert giveaways.giveaway_store(bus.deps) is unit.giveaways
                await unit.giveaways.start_poll(
                    "Red or blue?", ("red", "blue"), (CHAT,), "op", None, now
                )
                [poll] = await unit.giveaways.polls_in_chat(CHAT, since, 5)
                assert poll.question == "Red or blue?"
                raise RuntimeError("undone")
        assert await SqlGiveaways(engine).polls_in_chat(CHAT, since, 5) == []
        assert giveaways.giveaway_store(bus.deps) is bus.deps.giveaways
    finally:
        await bus.close()


async def test_the_unit_hands_out_the_shows_repository(
    database_url: str, engine: AsyncEngine
) -> None:
    bus, _ = outbox_bus(database_url, engine)
    try:
        units = bus.deps.units
        assert units is not None
        now = bus.clock.now()
        with pytest.raises(RuntimeError, match="undone"):
            async with units() as unit:
                assert shows.show_store(bus.deps) is unit.shows
                await unit.shows.create_show(
                    "Friday cards", "FRI", now + timedelta(hours=1), (CHAT,), "op", now
                )
                assert [s.code for s in await unit.shows.shows()] == ["FRI"]
                raise RuntimeError("undone")
        assert await SqlShows(engine).shows() == []
        assert shows.show_store(bus.deps) is bus.deps.shows
    finally:
        await bus.close()
