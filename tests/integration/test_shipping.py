"""Shipping zones and bundles on SQLite and PostgreSQL: one package per buyer, address and
show (or window), its shipping decided under the bundle's lock."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.db import create_engine
from commerce.adapters.shipping import SqlShipping
from commerce.domain import commands as c
from commerce.domain.errors import Conflict, InvalidInput, NotFound
from commerce.domain.orders import OrderStatus
from commerce.domain.shipping import ShippingPolicy, Zone
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView, ShowView
from tests.fakes import FakeClock
from tests.integration.helpers import ADDRESS, add_product, buy, start_drop

WINDOW = timedelta(hours=24)
EU = Zone.parse("EU", "DE,AT,FR", "4.90", "1.00", "12.00", "eur")
WORLD = Zone.parse("World", "*", "9.90", "2.00", None, "eur")


async def zones(bus: MessageBus) -> SqlShipping:
    await bus.handle(c.AddZone(EU))
    await bus.handle(c.AddZone(WORLD))
    assert isinstance(bus.deps.shipping, SqlShipping)
    return bus.deps.shipping


async def orders(bus: MessageBus, who: str, count: int, sku: str = "TEE") -> list[OrderView]:
    found = []
    for _ in range(count):
        result = await buy(bus, who=who)
        assert result.order is not None, result
        found.append(result.order)
    return found


async def show_lot(
    bus: MessageBus, engine: AsyncEngine, drop_id: int, policy: ShippingPolicy | None, at: str
) -> ShowView:
    """A show whose lot is the drop (as /next makes it)."""
    clock = bus.deps.clock
    show: ShowView = await bus.handle(
        c.CreateShow(
            f"Show {at}", clock.now() + timedelta(hours=1), ("web:demo",), shipping=policy
        )
    )
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO lot (show_id, position, sku, mode, quantity, status, drop_id)"
                " VALUES (:show, 1, 'TEE', 'fixed', 1, 'live', :drop)"
            ),
            {"show": show.id, "drop": drop_id},
        )
    return show


async def test_zones_are_added_listed_and_removed(bus: MessageBus) -> None:
    await zones(bus)
    assert [z.name for z in await bus.handle(c.ListZones())] == ["EU", "World"]
    with pytest.raises(Conflict, match="exists already"):
        await bus.handle(c.AddZone(Zone.parse("eu", "PL", "1", "1", None, "eur")))
    with pytest.raises(Conflict, match="DE ships in zone EU"):
        await bus.handle(c.AddZone(Zone.parse("DACH", "DE,CH", "1", "1", None, "eur")))
    with pytest.raises(Conflict, match="rest of the world"):
        await bus.handle(c.AddZone(Zone.parse("Else", "*", "1", "1", None, "eur")))
    removed = await bus.handle(c.RemoveZone("world"))
    assert removed == WORLD
    assert await bus.handle(c.ListZones()) == [EU]
    with pytest.raises(NotFound):
        await bus.handle(c.RemoveZone("World"))


@pytest.mark.parametrize(
    ("countries", "first", "each", "cap", "error"),
    [
        ("DE,XX", "4.90", "1", None, "unknown country code XX"),
        ("DE", "-4.90", "1", None, "cannot be negative"),
        ("DE", "4.90", "1", "abc", "amount"),
        ("DE", "4.90", "5.00", None, "--each cannot be above --first"),
    ],
)
def test_bad_zones_are_refused(
    countries: str, first: str, each: str, cap: str | None, error: str
) -> None:
    with pytest.raises(InvalidInput, match=error):
        Zone.parse("Z", countries, first, each, cap, "eur")


async def test_a_buyers_three_orders_in_one_show_pay_first_each_each(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    store = await zones(bus)
    await add_product(bus, stock=20)
    drop = await start_drop(bus, quantity=10)
    await show_lot(bus, engine, drop.id, None, "one")
    paid = []
    for order in await orders(bus, "web:anna", 3):
        share = await store.join_bundle(order.ref, ADDRESS, None, WINDOW, bus.deps.clock.now())
        assert share is not None and share.zone == "EU"
        paid.append(share.charged)
    assert paid == [490, 100, 100]
    # Asked again (a checkout made anew), an order keeps its share.
    again = await store.join_bundle(order.ref, ADDRESS, None, WINDOW, bus.deps.clock.now())
    assert again is not None and again.charged == 100 and again.units == 3


async def test_another_address_is_another_package(bus: MessageBus) -> None:
    store = await zones(bus)
    await add_product(bus, stock=20)
    await start_drop(bus, quantity=10)
    first, second = await orders(bus, "web:anna", 2)
    now = bus.deps.clock.now()
    a = await store.join_bundle(first.ref, ADDRESS, None, WINDOW, now)
    b = await store.join_bundle(
        second.ref, "Anna, 1 Main St, 10001 New York, US", None, WINDOW, now
    )
    assert a is not None and b is not None and a.bundle_id != b.bundle_id
    assert (a.charged, b.charged, b.zone) == (490, 990, "World")


async def test_the_cap_a_free_show_and_a_capped_show(bus: MessageBus, engine: AsyncEngine) -> None:
    store = await zones(bus)
    await add_product(bus, stock=100)
    now = bus.deps.clock.now()
    for policy, expected in (
        (None, [490] + [100] * 7 + [10, 0, 0]),  # EU: 4.90 + 1.00 each, at most 12.00
        (ShippingPolicy.parse("free", "eur"), [0] * 4),
        (ShippingPolicy.parse("cap:5.50", "eur"), [490, 60, 0]),
    ):
        drop = await start_drop(bus, quantity=20)
        name = policy.stored().replace(":", "") if policy else "buyer"
        show = await show_lot(bus, engine, drop.id, policy, name)
        charged = []
        for order in await orders(bus, f"web:{show.code.lower()}", len(expected)):
            share = await store.join_bundle(order.ref, ADDRESS, None, WINDOW, now)
            assert share is not None
            charged.append(share.charged)
        assert charged == expected
        await bus.handle(c.EndDrop(drop.code))


async def test_outside_shows_the_window_closes_the_package(
    bus: MessageBus, clock: FakeClock
) -> None:
    store = await zones(bus)
    await add_product(bus, stock=20)
    await start_drop(bus, quantity=10, hold=timedelta(days=3))
    one, two, three = await orders(bus, "web:anna", 3)
    a = await store.join_bundle(one.ref, ADDRESS, None, WINDOW, clock.now())
    clock.advance(hours=23)
    b = await store.join_bundle(two.ref, ADDRESS, None, WINDOW, clock.now())
    clock.advance(hours=2)  # 25 h after the package's first order: a new package
    c3 = await store.join_bundle(three.ref, ADDRESS, None, WINDOW, clock.now())
    assert a and b and c3
    assert (a.charged, b.charged, c3.charged) == (490, 100, 490)
    assert a.bundle_id == b.bundle_id != c3.bundle_id
    assert b.with_order == one.ref


async def test_an_order_left_unpaid_leaves_its_package_and_the_next_pays_first(
    bus: MessageBus,
) -> None:
    store = await zones(bus)
    await add_product(bus, stock=20)
    await start_drop(bus, quantity=10)
    one, two = await orders(bus, "web:anna", 2)
    now = bus.deps.clock.now()
    assert (await store.join_bundle(one.ref, ADDRESS, None, WINDOW, now)).charged == 490  # type: ignore[union-attr]
    await bus.handle(c.CancelOrder("web:anna", one.ref))
    cancelled = await bus.deps.store.order(one.ref)
    assert cancelled.status is OrderStatus.CANCELLED
    assert (cancelled.bundle_id, cancelled.shipping_amount) == (None, 0)
    share = await store.join_bundle(two.ref, ADDRESS, None, WINDOW, now)
    assert share is not None and (share.charged, share.units) == (490, 1)


async def test_digital_goods_and_addresses_no_zone_ships_to_pay_nothing(bus: MessageBus) -> None:
    store = await bus.handle(c.AddZone(EU)) and bus.deps.shipping
    assert isinstance(store, SqlShipping)
    await add_product(bus, stock=20)
    await start_drop(bus, quantity=10)
    (order,) = await orders(bus, "web:anna", 1)
    now = bus.deps.clock.now()
    assert (
        await store.join_bundle(order.ref, "Bo, 1 Main St, New York, US", None, WINDOW, now)
        is None
    )


async def test_a_size_class_counts_several_units(bus: MessageBus) -> None:
    store = await zones(bus)
    await add_product(bus, stock=20)
    await bus.handle(c.UpdateProduct("TEE", ship_units=3))
    await start_drop(bus, quantity=10)
    (order,) = await orders(bus, "web:anna", 1)
    share = await store.join_bundle(order.ref, ADDRESS, None, WINDOW, bus.deps.clock.now())
    assert share is not None and (share.units, share.charged) == (3, 690)  # 4.90 + 2 x 1.00
    with pytest.raises(InvalidInput, match="1 to 100"):
        await bus.handle(c.UpdateProduct("TEE", ship_units=0))


BUYERS = 6
ORDERS_EACH = 3


async def test_orders_joining_one_package_at_once_pay_first_exactly_once(
    bus: MessageBus, database_url: str
) -> None:
    """Real concurrency: every order of every buyer joins its package at the same moment,
    each through its own connection; per package exactly one order pays `first`. The
    packages exist already (opened by an order that was then cancelled, so they are empty
    again): their row is there to be read by every order at once."""
    await zones(bus)
    await add_product(bus, stock=BUYERS * (ORDERS_EACH + 1))
    await start_drop(bus, quantity=BUYERS * (ORDERS_EACH + 1))
    now = bus.deps.clock.now()
    by_buyer = {}
    for i in range(BUYERS):
        opener, *placed = await orders(bus, f"web:b{i}", ORDERS_EACH + 1)
        assert await bus.deps.shipping.join_bundle(opener.ref, ADDRESS, None, WINDOW, now)  # type: ignore[union-attr]
        await bus.handle(c.CancelOrder(None, opener.ref))
        by_buyer[i] = placed
    engines = [create_engine(database_url) for _ in range(ORDERS_EACH)]
    try:
        stores = [SqlShipping(e) for e in engines]
        for e in engines:  # connected before the start line
            async with e.connect() as conn:
                await conn.execute(text("SELECT 1"))
        shares = await asyncio.gather(
            *(
                stores[i].join_bundle(order.ref, ADDRESS, None, WINDOW, now)
                for placed in by_buyer.values()
                for i, order in enumerate(placed)
            )
        )
    finally:
        for e in engines:
            await e.dispose()
    for n in range(BUYERS):
        mine = [s for s in shares[n * ORDERS_EACH : (n + 1) * ORDERS_EACH] if s is not None]
        assert len(mine) == ORDERS_EACH
        assert len({s.bundle_id for s in mine}) == 1  # one package per buyer
        assert sorted(s.charged for s in mine) == [100, 100, 490]  # first exactly once
        assert sum(s.first for s in mine) == 1


async def test_linked_identities_share_one_package(bus: MessageBus) -> None:
    """Anna buys on the web chat and on Telegram; once linked, her Telegram order joins the
    package her web order opened (the merged customer's packages become the other's)."""
    store = await zones(bus)
    await add_product(bus, stock=20)
    await start_drop(bus, quantity=10)
    (web,) = await orders(bus, "web:anna", 1)
    (tg,) = await orders(bus, "telegram:11", 1)
    now = bus.deps.clock.now()
    opened = await store.join_bundle(tg.ref, ADDRESS, None, WINDOW, now)
    assert opened is not None and opened.charged == 490
    assert bus.deps.cards is not None
    code = await bus.deps.cards.issue_code("web:anna", now, timedelta(minutes=10))
    await bus.deps.cards.redeem_code("telegram:11", code, now)
    joined = await store.join_bundle(web.ref, ADDRESS, None, WINDOW, now)
    assert joined is not None and joined.bundle_id == opened.bundle_id
    assert joined.charged == 100  # a further unit of the same package
