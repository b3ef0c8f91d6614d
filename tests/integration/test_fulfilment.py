"""Fulfilment on SQLite and PostgreSQL: paid packages ship with their tracking code and the
buyer's message is stored in the same transaction; anything wrong (an unpaid, unknown or
shipped order, a bad line of a tracking file) ships nothing and tells no one; two sellers
shipping one package at once ship it once; the seller cancels unpaid orders only."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.letters import PlatformLetters
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.errors import CommerceError, Conflict, InvalidInput, NotFound
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec
from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.helpers import add_product, buy, start_drop

S = OrderStatus
DHL = "https://www.dhl.com/global-en/home/tracking.html?tracking-id=00340434161094042557"


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> AsyncIterator[MessageBus]:
    bus = bootstrap(
        test_settings(database_url),
        engine,
        clock=clock,
        notifier=notifier,
        letters=PlatformLetters("en"),
    )
    yield bus
    await bus.deps.store.close()


async def paid(bus: MessageBus, who: str, chat: str, code: str = "TEE") -> str:
    won = await buy(bus, who, chat, code=code)
    assert won.order is not None
    await bus.handle(c.SettlePayment(won.order.ref, f"pi_{won.order.ref}", "evt"))
    return won.order.ref


async def letters(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT platform, chat, text FROM outbox ORDER BY id"))
        return [tuple(r) for r in rows]


async def count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())


async def status(bus: MessageBus, ref: str) -> S:
    return (await bus.deps.store.order(ref)).status


async def test_shipping_tells_the_buyer_on_their_platform(
    shop: MessageBus, engine: AsyncEngine
) -> None:
    await add_product(shop)
    await start_drop(shop, channels=())
    tg = await paid(shop, "telegram:42", "telegram:-1001")
    dc = await paid(shop, "discord:77", "discord:555")
    web = await paid(shop, "web:anna", "web:demo")
    before = len(await letters(engine))

    shipped = await shop.handle(
        c.ShipOrders((c.Parcel((tg.lower(),), "00340434161094042557", "dhl"),), "cli")
    )
    assert [(s.refs, s.carrier, s.link) for s in shipped] == [((tg,), "DHL", DHL)]
    await shop.handle(c.ShipOrders((c.Parcel((dc, web), "1Z999AA10123456784", "UPS"),), "cli"))

    assert {await status(shop, r) for r in (tg, dc, web)} == {S.FULFILLED}
    history = await shop.deps.store.history(tg)
    assert (history[-1].from_status, history[-1].to_status, history[-1].cause) == (
        "paid",
        "fulfilled",
        "ship:cli tracking 00340434161094042557 (DHL)",
    )
    told = (await letters(engine))[before:]
    assert [(p, chat) for p, chat, _ in told] == [
        ("telegram", "42"),
        ("discord", "dm:77:555"),
        ("web", "web:anna"),
    ]
    assert told[0][2] == (
        f"Shipped: 1 × TEE product (order {tg}). Tracking: 00340434161094042557 (DHL)\n{DHL}"
    )
    assert "https://www.ups.com/track?tracknum=1Z999AA10123456784" in told[1][2]
    # Shipped already: refused, and no second message.
    with pytest.raises(InvalidInput, match=f"order {tg} is shipped already"):
        await shop.handle(c.ShipOrders((c.Parcel((tg,), "XYZ12345"),), "cli"))
    assert len(await letters(engine)) == before + 3


async def test_a_wrong_order_ships_nothing(shop: MessageBus, engine: AsyncEngine) -> None:
    await add_product(shop)
    await start_drop(shop, channels=())
    good = await paid(shop, "telegram:1", "telegram:-1001")
    unpaid = await buy(shop, "telegram:2", "telegram:-1001")
    assert unpaid.order is not None
    before = (len(await letters(engine)), await count(engine, "shipment"))

    cases: list[tuple[tuple[c.Parcel, ...], type[CommerceError], str]] = [
        ((c.Parcel((good, unpaid.order.ref), "TRACK1234"),), InvalidInput, "not paid yet"),
        ((c.Parcel((good, "NOPE1234"), "TRACK1234"),), NotFound, "no order NOPE1234"),
        ((c.Parcel((good,), "no"),), InvalidInput, "is not a tracking code"),
        ((c.Parcel((good,), "TRACK1234", "=cmd|calc"),), InvalidInput, "not a carrier"),
        ((c.Parcel((), "TRACK1234"),), InvalidInput, "name the order"),
        (
            (c.Parcel((good,), "TRACK1234", line=2), c.Parcel((good,), "TRACK5678", line=3)),
            InvalidInput,
            "line 3: order .* is named twice \\(line 2 too\\)",
        ),
        (
            (c.Parcel((good,), "TRACK1234", line=2), c.Parcel(("ZZZZ9999",), "T5678", line=3)),
            NotFound,
            "line 3: no order ZZZZ9999",
        ),
    ]
    for parcels, error, message in cases:
        with pytest.raises(error, match=message):
            await shop.handle(c.ShipOrders(parcels, "cli"))
    assert await status(shop, good) is S.PAID
    assert (len(await letters(engine)), await count(engine, "shipment")) == before


async def test_two_sellers_shipping_one_package_ship_it_once(
    shop: MessageBus, engine: AsyncEngine
) -> None:
    await add_product(shop)
    await start_drop(shop, channels=())
    ref = await paid(shop, "telegram:9", "telegram:-1001")
    before = len(await letters(engine))

    async def ship(code: str) -> object:
        return await shop.handle(c.ShipOrders((c.Parcel((ref,), code),), "dashboard"))

    results = await asyncio.gather(ship("AAAA1111"), ship("BBBB2222"), return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1, results
    assert isinstance(errors[0], Conflict | InvalidInput), errors[0]
    assert await count(engine, "shipment") == 1
    assert len(await letters(engine)) == before + 1
    history = [e for e in await shop.deps.store.history(ref) if e.to_status == "fulfilled"]
    assert len(history) == 1


async def test_to_ship_oldest_first_with_overdue_marks(shop: MessageBus, clock: FakeClock) -> None:
    await add_product(shop)
    spec = ProductSpec("EBOOK", "Ebook", Money(500, "eur"), "", (), True)
    await shop.handle(c.AddProduct(spec, 10))
    await start_drop(shop, channels=())
    await start_drop(shop, "EBOOK", channels=())
    first = await paid(shop, "telegram:1", "telegram:-1001")  # Tuesday 20:00
    clock.advance(days=1)
    second = await paid(shop, "telegram:2", "telegram:-1001")
    await paid(shop, "telegram:3", "telegram:-1001", code="EBOOK")  # digital: never ships

    packages = await shop.handle(c.ListToShip())
    assert [p.key for p in packages] == [first, second]
    assert [p.overdue for p in packages] == [False, False]
    clock.advance(days=1, minutes=1)  # Thursday 20:01: two business days after the first
    packages = await shop.handle(c.ListToShip())
    assert [p.overdue for p in packages] == [True, False]
    assert packages[0].buyer == "1" and packages[0].units == 1

    await shop.handle(c.ShipOrders((c.Parcel((first,), "TRACK0001"),), "cli"))
    assert [p.key for p in await shop.handle(c.ListToShip())] == [second]
    packing = await shop.handle(c.PackingList(since=clock.now() - timedelta(days=5)))
    assert [p.key for p in packing] == [second]
    with pytest.raises(NotFound, match="no show NOSHOW"):
        await shop.handle(c.PackingList(show="noshow"))


async def test_the_seller_cancels_unpaid_orders_only(
    shop: MessageBus, engine: AsyncEngine
) -> None:
    await add_product(shop, stock=1)
    await start_drop(shop, quantity=1, channels=())
    held = await buy(shop, "discord:5", "discord:900")
    waiting = await buy(shop, "telegram:6", "telegram:-1001")
    assert held.order is not None and waiting.order is None
    before = len(await letters(engine))

    release = await shop.handle(
        c.CancelOrder(None, held.order.ref, cause="cancel:cli", reason="  out of   stock ")
    )
    assert release.order.status is S.CANCELLED
    assert [p.order.identity for p in release.promoted if p.order] == ["telegram:6"]
    told = (await letters(engine))[before:]
    assert told == [
        (
            "discord",
            "dm:5:900",
            f"The seller cancelled order {held.order.ref} (TEE product): out of stock."
            " Nothing was charged.",
        )
    ]
    promoted = release.promoted[0].order
    assert promoted is not None
    await shop.handle(c.SettlePayment(promoted.ref, "pi_x", "evt"))
    with pytest.raises(InvalidInput, match="is paid: refund it instead"):
        await shop.handle(c.CancelOrder(None, promoted.ref, cause="cancel:cli"))
    with pytest.raises(InvalidInput, match="only unpaid orders can be cancelled"):
        await shop.handle(c.CancelOrder(None, held.order.ref, cause="cancel:cli"))
    with pytest.raises(NotFound):
        await shop.handle(c.CancelOrder(None, "NOPE1234", cause="cancel:cli"))
    assert await status(shop, promoted.ref) is S.PAID
    assert len(await letters(engine)) == before + 1
