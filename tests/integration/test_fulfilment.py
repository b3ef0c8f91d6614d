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
from commerce.adapters.shipments import SqlShipments
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.errors import CommerceError, Conflict, InvalidInput, NotFound
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Outgoing
from commerce.service_layer.packages import ShipmentPlan
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import ADDRESS, add_product, buy, start_drop
from tests.integration.test_shipping import show_lot, zones

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
    refunded = await paid(shop, "telegram:3", "telegram:-1001")
    async with engine.begin() as conn:  # as the refund's webhook leaves it
        await conn.execute(
            text("UPDATE orders SET status = 'refunded' WHERE ref = :ref"), {"ref": refunded}
        )
    before = (len(await letters(engine)), await count(engine, "shipment"))

    cases: list[tuple[tuple[c.Parcel, ...], type[CommerceError], str]] = [
        ((c.Parcel((good, unpaid.order.ref), "TRACK1234"),), InvalidInput, "not paid yet"),
        ((c.Parcel((good, "NOPE1234"), "TRACK1234"),), NotFound, "no order NOPE1234"),
        ((c.Parcel((good, refunded), "TRACK1234"),), InvalidInput, "is refunded: only paid"),
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


async def bundle(engine: AsyncEngine, refs: list[str], shipping: list[int]) -> int:
    """What the shipping side leaves behind: the orders in one bundle, each with its share
    of the package's shipping (first, then each)."""
    async with engine.begin() as conn:
        customer = (
            await conn.execute(
                text("SELECT customer_id FROM orders WHERE ref = :ref"), {"ref": refs[0]}
            )
        ).scalar_one()
        bundle_id = (
            await conn.execute(
                text(
                    "INSERT INTO bundles (lock_key, customer_id, ship_to, window_start,"
                    " currency, policy, first_minor, each_minor, units, charged_minor, version,"
                    " created_at, updated_at) VALUES (:key, :customer, 'Anna, Berlin, DE',"
                    " CURRENT_TIMESTAMP, 'eur', 'buyer', 490, 100, :units, :charged, 1,"
                    " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"
                ),
                {
                    "key": f"test:{refs[0]}",
                    "customer": customer,
                    "units": len(refs),
                    "charged": sum(shipping),
                },
            )
        ).scalar_one()
        for ref, minor in zip(refs, shipping, strict=True):
            await conn.execute(
                text("UPDATE orders SET bundle_id = :b, shipping_amount = :s WHERE ref = :ref"),
                {"b": bundle_id, "s": minor, "ref": ref},
            )
    return int(bundle_id)


async def test_a_bundle_ships_as_one_package(shop: MessageBus, engine: AsyncEngine) -> None:
    await add_product(shop)
    await start_drop(shop, channels=())
    first = await paid(shop, "telegram:1", "telegram:-1001")
    second = await paid(shop, "telegram:1", "telegram:-1001")
    alone = await paid(shop, "telegram:2", "telegram:-1001")
    bundle_id = await bundle(engine, [first, second], [490, 100])

    packages = await shop.handle(c.ListToShip())
    assert [(p.key, [o.ref for o in p.orders]) for p in packages] == [
        (f"B{bundle_id}", [first, second]),
        (alone, [alone]),
    ]
    before = len(await letters(engine))
    # Any order of the bundle ships the whole package, with one message for it.
    shipped = await shop.handle(c.ShipOrders((c.Parcel((second,), "TRACK0001", "UPS"),), "cli"))
    assert shipped[0].refs == (first, second)
    assert {await status(shop, r) for r in (first, second)} == {S.FULFILLED}
    told = (await letters(engine))[before:]
    assert len(told) == 1 and f"(order {first}, {second})" in told[0][2]
    assert told[0][2].startswith("Shipped: 1 × TEE product, 1 × TEE product")
    assert [p.key for p in await shop.handle(c.ListToShip())] == [alone]


async def test_refunds_of_a_bundle_and_of_one_item(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    gateway = FakePaymentGateway()
    bus = bootstrap(
        test_settings(database_url), engine, clock=clock, notifier=notifier, payments=gateway
    )
    try:
        await add_product(bus)
        await start_drop(bus, channels=())
        one, two, three, single = [
            await paid(bus, who, "telegram:-1001")
            for who in ("telegram:1", "telegram:1", "telegram:1", "telegram:2")
        ]
        await bundle(engine, [one, two, three], [490, 100, 100])
        await bundle(engine, [single], [490])

        # One item of a bundle whose other items still ship: the item, not the shipping.
        await bus.handle(c.RefundOrder(two, actor="cli"))
        # A part, typed as on the dashboard, in the order's currency.
        await bus.handle(c.RefundOrder(three, actor="dashboard", part="5.00"))
        with pytest.raises(InvalidInput, match=r"has €25\.00 left to refund"):
            await bus.handle(c.RefundOrder(three, actor="dashboard", part="26.00"))
        with pytest.raises(InvalidInput, match="not an amount"):
            await bus.handle(c.RefundOrder(three, actor="dashboard", part="five"))
        # A package of one order: refunding it refunds the whole package, shipping too.
        await bus.handle(c.RefundOrder(single, actor="cli"))
        # The whole bundle: every order in full, with its shipping.
        with pytest.raises(InvalidInput, match="refunded in full"):
            await bus.handle(c.RefundOrder(one, part="1.00", bundle=True))
        ids = await bus.handle(c.RefundOrder(two, actor="cli", bundle=True))
        assert ids == "re_4, re_5, re_6"
        assert [(p, m.minor if m else None) for p, m, _ in gateway.refunds] == [
            (f"pi_{two}", 2500),
            (f"pi_{three}", 500),
            (f"pi_{single}", 2990),
            (f"pi_{two}", 2600),  # the order named first, then the others
            (f"pi_{one}", 2990),
            (f"pi_{three}", 2600),
        ]
    finally:
        await bus.deps.store.close()


async def test_a_shows_three_wins_ship_and_refund_as_one_package(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    """The shipping side's real bundles: three orders of one show to one address join one
    package (paying 4.90, 1.00, 1.00); it is packed, shipped and refunded as one."""
    gateway = FakePaymentGateway()
    bus = bootstrap(
        test_settings(database_url),
        engine,
        clock=clock,
        notifier=notifier,
        payments=gateway,
        letters=PlatformLetters("en"),
    )
    try:
        store = await zones(bus)
        await add_product(bus, stock=20)
        drop = await start_drop(bus, quantity=10, channels=())
        show = await show_lot(bus, engine, drop.id, None, "one")
        refs = []
        for _ in range(3):
            won = await buy(bus, "telegram:5", "telegram:-1001")
            assert won.order is not None
            await store.join_bundle(won.order.ref, ADDRESS, None, timedelta(hours=24), clock.now())
            await bus.handle(c.SettlePayment(won.order.ref, f"pi_{won.order.ref}", "evt"))
            refs.append(won.order.ref)
        other = await paid(bus, "telegram:6", "telegram:-1001")  # no zone joined: alone

        (package, alone) = await bus.handle(c.ListToShip())
        assert [o.ref for o in package.orders] == refs and package.key.startswith("B")
        assert [o.ref for o in alone.orders] == [other]
        # The show's packing list: the bundle, and the other buyer's order of its lot.
        packed = await bus.handle(c.PackingList(show=show.code))
        assert [(p.key, p.show) for p in packed] == [
            (package.key, show.code),
            (other, show.code),
        ]

        # One item refunded while the others still ship: its price, not its shipping.
        await bus.handle(c.RefundOrder(refs[1], actor="cli"))
        shipped = await bus.handle(c.ShipOrders((c.Parcel((refs[2],), "TRACK0003"),), "cli"))
        assert shipped[0].refs == tuple(refs)  # a refund is recorded when Stripe confirms
        ids = await bus.handle(c.RefundOrder(refs[0], actor="cli", bundle=True))
        assert len(ids.split(", ")) == 3
        assert [(p, m.minor if m else None) for p, m, _ in gateway.refunds] == [
            (f"pi_{refs[1]}", 2500),
            (f"pi_{refs[0]}", 2500 + 490),
            (f"pi_{refs[1]}", 2500 + 100),
            (f"pi_{refs[2]}", 2500 + 100),
        ]
    finally:
        await bus.deps.store.close()


async def test_an_order_refunded_after_the_check_is_not_shipped(
    shop: MessageBus, engine: AsyncEngine, clock: FakeClock
) -> None:
    """The plan is made outside the shipment's transaction: an order refunded in between
    makes the whole shipment roll back (nothing shipped, no message)."""
    await add_product(shop)
    await start_drop(shop, channels=())
    one = await paid(shop, "telegram:1", "telegram:-1001")
    two = await paid(shop, "telegram:2", "telegram:-1001")
    plan = ShipmentPlan((one, two), "TRACK0001", "", None, (Outgoing("telegram", "1", "x"),))
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE orders SET status = 'refunded' WHERE ref = :ref"), {"ref": two}
        )
    before = len(await letters(engine))
    with pytest.raises(Conflict, match=f"order {two} changed meanwhile"):
        await SqlShipments(engine).ship([plan], "cli", clock.now())
    assert await status(shop, one) is S.PAID
    assert (await count(engine, "shipment"), len(await letters(engine))) == (0, before)
