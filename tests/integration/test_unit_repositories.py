"""The unit of work hands out the repositories its use case works with (products, drops,
holds, orders and customers; the ledger, cards and shipping; auctions, giveaways and polls,
and shows; pay links, shipments, web viewers, email sign-ins and room lines): what they
write is part of the unit, seen inside it and undone with it (SQLite and PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.app_settings import PAY_LINK_KEY
from commerce.adapters.auctions import SqlAuctions
from commerce.adapters.cards import SqlCards
from commerce.adapters.email_sign_ins import SqlEmailSignIns
from commerce.adapters.giveaways import SqlGiveaways
from commerce.adapters.repository import SqlStore
from commerce.adapters.shipping import SqlShipping
from commerce.adapters.shows import SqlShows
from commerce.adapters.web_viewers import SqlWebViewers
from commerce.domain import commands as c
from commerce.domain.auctions import AuctionTerms
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec
from commerce.domain.shipping import Zone
from commerce.service_layer import auctions, giveaways, queries, shows
from commerce.service_layer.deps import ShopRepositories, repos
from commerce.service_layer.packages import ShipmentPlan
from commerce.service_layer.ports import SavedCard
from tests.integration.helpers import add_product, buy, start_drop
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


async def test_the_unit_hands_out_the_stock_repositories(
    database_url: str, engine: AsyncEngine
) -> None:
    """Products, drops, holds, orders and customers written in one unit are undone together:
    a repository that committed on its own would leave its change behind."""
    bus, _ = outbox_bus(database_url, engine)
    try:
        await add_product(bus, "TEE", stock=3)
        await start_drop(bus, quantity=3)
        held = (await buy(bus)).order
        assert held is not None
        units = bus.deps.units
        assert units is not None
        now = bus.clock.now()
        with pytest.raises(RuntimeError, match="undone"):
            async with units() as unit:
                shop = repos(bus.deps)  # what the handlers reach while the unit is open
                assert shop is unit
                mug = ProductSpec("MUG", "Mug", Money(1200, "eur"), "", ())
                await shop.products.add_product(mug, 2, now)
                await shop.customers.add_seller("telegram:7", "cohost", now)
                released = await shop.holds.release(held.ref, OrderStatus.CANCELLED, "t", now)
                assert released is not None
                await shop.drops.end_drop("TEE", None, now)
                # Seen inside the unit, by every repository it hands out.
                assert {p.sku for p in await unit.products.products()} == {"TEE", "MUG"}
                assert await unit.customers.seller_role("telegram:7") == "cohost"
                assert (await unit.orders.order(held.ref)).status == OrderStatus.CANCELLED
                assert [d.status for d in await unit.drops.drops()] == ["ended"]
                raise RuntimeError("undone")
        outside = SqlStore(engine)  # a transaction per method: what was committed
        assert [p.sku for p in await outside.products()] == ["TEE"]
        assert await outside.seller_role("telegram:7") is None
        assert (await outside.order(held.ref)).status == held.status
        assert [d.status for d in await outside.drops()] == ["live"]
        # No unit open: the shop's own store, each method a transaction of its own.
        outside_a_unit = repos(bus.deps)
        assert isinstance(outside_a_unit, ShopRepositories)
        assert outside_a_unit.holds is bus.deps.store
    finally:
        await bus.close()


async def test_the_unit_hands_out_the_ledger_cards_and_shipping(
    database_url: str, engine: AsyncEngine
) -> None:
    """The payment side's repositories are the unit's too: a pay link handed out, a card
    kept and a shipping zone added in one unit are undone with it."""
    bus, _ = outbox_bus(database_url, engine)
    try:
        await add_product(bus, "TEE", stock=3)
        await start_drop(bus, quantity=3)
        held = (await buy(bus)).order
        assert held is not None and held.status is OrderStatus.RESERVED
        units = bus.deps.units
        assert units is not None
        now = bus.clock.now()
        card = SavedCard("cus_1", "pm_anna", "visa", "4242")
        eu = Zone.parse("EU", "DE,AT", "3.50", "1.00", None, "eur")
        with pytest.raises(RuntimeError, match="undone"):
            async with units() as unit:
                shop = repos(bus.deps)
                assert shop is unit
                assert (shop.ledger, shop.cards, shop.shipping) == (
                    bus.deps.ledger,
                    bus.deps.cards,
                    bus.deps.shipping,
                )  # the shop's own objects, handed out by every unit
                url = f"https://shop.example/pay/{held.ref}"
                await shop.ledger.link_handed_out(held.ref, url, "t", now)
                await shop.cards.save_card("web:anna", card, now)
                await shop.shipping.add_zone(eu, now)
                assert (await unit.orders.order(held.ref)).status is OrderStatus.CHECKOUT_OPEN
                assert await unit.cards.card("web:anna") == card
                assert [z.name for z in await unit.shipping.zones()] == ["EU"]
                raise RuntimeError("undone")
        assert (await SqlStore(engine).order(held.ref)).status is OrderStatus.RESERVED
        assert await SqlCards(engine).card("web:anna") is None
        assert await SqlShipping(engine).zones() == []
        outside_a_unit = repos(bus.deps)  # no unit open: the shop's own
        assert outside_a_unit.ledger is bus.deps.ledger
        assert outside_a_unit.cards is bus.deps.cards
    finally:
        await bus.close()


# What the unit hands out besides the stock and payment repositories: the very objects in Deps.
OTHERS = (
    "auctions",
    "giveaways",
    "shows",
    "pay_links",
    "shipments",
    "web_viewers",
    "email_sign_ins",
    "room_lines",
)


async def _pay_link_keys(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT COUNT(*) FROM app_setting WHERE key = :key"), {"key": PAY_LINK_KEY}
        )
        return int(found.scalar_one())


async def _rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())


async def test_the_unit_hands_out_the_web_and_fulfilment_repositories(
    database_url: str, engine: AsyncEngine
) -> None:
    """Pay links, shipments, web viewers, email sign-ins and room lines are the unit's too:
    the pay link key made, a package shipped, a viewer issued, a sign-in link issued and a
    room's lines kept in one unit are seen inside it and undone with it."""
    bus, _ = outbox_bus(database_url, engine)
    try:
        await add_product(bus, "TEE", stock=3)
        await start_drop(bus, quantity=3)
        won = (await buy(bus)).order
        assert won is not None
        await bus.handle(c.SettlePayment(won.ref, f"pi_{won.ref}", "evt"))
        assert await _pay_link_keys(engine) == 0  # made on first use
        units = bus.deps.units
        assert units is not None
        now = bus.clock.now()
        line = {"type": "message", "name": "anna", "text": "hi"}
        with pytest.raises(RuntimeError, match="undone"):
            async with units() as unit:
                shop = repos(bus.deps)
                assert shop is unit
                for name in OTHERS:  # the shop's own objects, handed out by every unit
                    assert getattr(shop, name) is getattr(bus.deps, name), name
                url = await shop.pay_links.url(won.ref, now)
                token = url.split("?t=")[1]
                plan = ShipmentPlan((won.ref,), "TRACK0001", "", None, ())
                await shop.shipments.ship([plan], "cli", now)
                cookie, viewer = await shop.web_viewers.issue(now)
                until = now + timedelta(minutes=15)
                await shop.email_sign_ins.issue("h4sh", "anna@example.com", "demo", until, now)
                await shop.room_lines.keep([("demo", line)], now)
                # Seen inside the unit.
                assert await unit.pay_links.genuine(won.ref, token, now)
                assert (await unit.orders.order(won.ref)).status is OrderStatus.FULFILLED
                assert await unit.web_viewers.recognise(cookie, now) == viewer
                assert await unit.email_sign_ins.redeem("h4sh", now) == (
                    "anna@example.com",
                    "demo",
                )
                assert await queries.room_lines(bus.reads, "demo") == [line]
                raise RuntimeError("undone")
        assert await _pay_link_keys(engine) == 0
        assert (await SqlStore(engine).order(won.ref)).status is OrderStatus.PAID
        assert await _rows(engine, "web_viewer") == 0
        assert await SqlEmailSignIns(engine).redeem("h4sh", now) is None
        assert await queries.room_lines(bus.reads, "demo") == []
        outside_a_unit = repos(bus.deps)  # no unit open: the shop's own
        for name in OTHERS:
            assert getattr(outside_a_unit, name) is getattr(bus.deps, name), name
    finally:
        await bus.close()


async def test_a_web_viewer_issued_in_a_unit_that_rolls_back_is_forgotten(
    database_url: str, engine: AsyncEngine
) -> None:
    """The shop's web viewers object remembers issued cookies and its cookie key only once
    they are committed: a rolled-back viewer is refused, and the next cookie is signed with
    the key stored in the database (another worker, or a restart, accepts it)."""
    bus, _ = outbox_bus(database_url, engine)
    try:
        units, viewers = bus.deps.units, bus.deps.web_viewers
        assert units is not None and viewers is not None
        now = bus.clock.now()
        with pytest.raises(RuntimeError, match="undone"):
            async with units() as unit:
                cookie, _ = await unit.web_viewers.issue(now)  # the cookie key made too
                raise RuntimeError("undone")
        assert await viewers.recognise(cookie, now) is None
        kept, viewer = await viewers.issue(now)  # a transaction of its own
        assert await SqlWebViewers(engine).recognise(kept, now) == viewer
    finally:
        await bus.close()


async def test_a_show_chatter_recorded_in_a_unit_that_rolls_back_is_recorded_again(
    database_url: str, engine: AsyncEngine
) -> None:
    """The shows repository skips a person it has recorded in a live show's chat: only
    once the record is committed, else their next message would not record them."""
    bus, _ = outbox_bus(database_url, engine)
    try:
        units, show_store = bus.deps.units, bus.deps.shows
        assert units is not None and show_store is not None
        now = bus.clock.now()
        show = await show_store.create_show("Friday", "FRI", now, (CHAT,), "op", now)
        await show_store.set_status(show.id, "live", now)
        with pytest.raises(RuntimeError, match="undone"):
            async with units() as unit:
                await unit.shows.chatted(CHAT, "telegram:7", now)
                raise RuntimeError("undone")
        assert await _rows(engine, "show_chatter") == 0
        await show_store.chatted(CHAT, "telegram:7", now)  # their next message
        assert await _rows(engine, "show_chatter") == 1
    finally:
        await bus.close()
