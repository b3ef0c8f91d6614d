"""The read side (service_layer.queries over adapters.read_model), on both databases: each
query returns what the page or chat shows, filtered by the database."""

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.drops import DropStatus
from commerce.domain.errors import InvalidInput, NotFound
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from tests.integration.helpers import add_product, buy, start_drop


async def test_live_drops_of_a_chat(bus: MessageBus) -> None:
    for sku in ("TEE", "CAP", "HAT", "MUG"):
        await add_product(bus, sku)
    here = await start_drop(bus, "TEE", channels=("web:here",))
    elsewhere = await start_drop(bus, "CAP", channels=("web:elsewhere",))
    everywhere = await start_drop(bus, "HAT", channels=())
    ended = await start_drop(bus, "MUG", channels=("web:here",))
    await bus.handle(c.EndDrop(ended.code, "web:here"))
    reads = bus.reads

    in_here = await queries.live_drops(reads, "web:here")
    assert [d.id for d in in_here] == [everywhere.id, here.id]  # newest first
    assert in_here[1].channels == ("web:here",)
    assert [d.id for d in await queries.live_drops(reads)] == [
        everywhere.id,
        elsewhere.id,
        here.id,
    ]
    assert [d.id for d in await queries.drops(reads, DropStatus.ENDED)] == [ended.id]
    assert [d.id for d in await queries.drops(reads, limit=2)] == [ended.id, everywhere.id]
    assert await queries.drop_chats(reads) == ["web:elsewhere", "web:here"]


async def test_a_drop_by_id_and_the_latest_by_code(bus: MessageBus) -> None:
    await add_product(bus)
    first = await start_drop(bus, channels=("web:a", "web:b"))
    await bus.handle(c.EndDrop(first.code, "web:a"))
    second = await start_drop(bus, channels=("web:c",))
    await buy(bus, "web:anna", "web:c")
    reads = bus.reads

    found = await queries.drop(reads, first.id)
    assert found is not None
    assert (found.status, found.channels) == ("ended", ("web:a", "web:b"))
    assert await queries.drop(reads, 999_999) is None
    assert first.code == second.code  # a product's drops share its code
    latest = await queries.latest_drop(reads, second.code.lower())
    assert latest is not None
    assert (latest.id, latest.remaining) == (second.id, second.quantity - 1)
    assert await queries.latest_drop(reads, "NOPE") is None


async def test_products_and_one_product(bus: MessageBus) -> None:
    await add_product(bus, "TEE", stock=3, variants=("S", "M"))
    await add_product(bus, "CAP", stock=7)
    reads = bus.reads

    assert [p.sku for p in await queries.products(reads)] == ["CAP", "TEE"]
    tee = await queries.product(reads, " tee ")
    assert [(v.label, v.stock) for v in tee.variants] == [("S", 3), ("M", 3)]
    with pytest.raises(NotFound, match="no product with SKU HAT"):
        await queries.product(reads, "hat")
    with pytest.raises(InvalidInput):
        await queries.product(reads, "not a sku!")


async def test_orders_of_a_buyer_and_an_order_with_its_history(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=5)
    anna_1 = (await buy(bus, "web:anna")).order
    ben = (await buy(bus, "web:ben")).order
    anna_2 = (await buy(bus, "web:anna")).order
    assert anna_1 and ben and anna_2
    await bus.handle(c.CancelOrder("web:ben", ben.ref))
    reads = bus.reads

    assert [o.ref for o in await queries.orders(reads, identity="web:anna")] == [
        anna_2.ref,
        anna_1.ref,
    ]
    assert await queries.orders(reads, identity="web:nobody") == []
    assert [o.ref for o in await queries.orders(reads, limit=1)] == [anna_2.ref]
    cancelled = await queries.orders(reads, OrderStatus.CANCELLED)
    assert [o.ref for o in cancelled] == [ben.ref]

    order, history = await queries.order_history(reads, ben.ref.lower())
    assert order.status is OrderStatus.CANCELLED
    assert [e.to_status for e in history][-1] == "cancelled"
    with pytest.raises(NotFound):
        await queries.order(reads, "NOPE")
    assert await queries.buyers_order(reads, ben.ref, "web:ben") == order
    assert await queries.buyers_order(reads, ben.ref, "web:anna") is None


async def test_sellers(bus: MessageBus) -> None:
    bus.deps.sellers = frozenset({"web:owner"})
    await bus.handle(c.AddSeller("web:helper", "cohost"))
    reads = bus.reads

    assert await queries.seller_role(reads, "web:owner") == "owner"
    assert await queries.seller_role(reads, "web:helper") == "cohost"
    assert not await queries.is_seller(reads, "web:buyer")
    assert not await queries.is_seller(reads, "not an identity")


async def test_live_drops_are_filtered_by_the_database(
    bus: MessageBus, engine: AsyncEngine
) -> None:
    """A chat's live drops cost two statements (drops, their chats) whatever the number of
    drops, and only the chat's rows come back."""
    for n in range(6):
        await add_product(bus, f"SKU{n}")
        await start_drop(bus, f"SKU{n}", channels=(f"web:room{n}",))
    selects: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    event.listen(engine.sync_engine, "after_cursor_execute", count)
    try:
        found = await queries.live_drops(bus.reads, "web:room3")
    finally:
        event.remove(engine.sync_engine, "after_cursor_execute", count)
    assert [d.channels for d in found] == [("web:room3",)]
    assert len(selects) == 2, selects


async def test_the_read_side_shows_what_the_store_holds(bus: MessageBus) -> None:
    """Every field of the views, as the handlers' store reads them (a column added to a
    view must reach the pages too)."""
    await add_product(bus, "TEE", stock=4, variants=("S", "M"))
    hoodie = ProductSpec("HOODIE", "Hoodie", Money(4500, "eur"), "", (), ship_units=2)
    await bus.handle(c.AddProduct(hoodie, 3))
    await bus.handle(c.AddProduct(ProductSpec("PDF", "Zine", Money(500, "eur"), "", (), True), 9))
    await add_product(bus, "CAP")
    drop = await start_drop(bus, "CAP", channels=("web:a", "web:b"))
    order = (await buy(bus, "web:anna", "web:a")).order
    assert order is not None
    store, reads = bus.deps.store, bus.reads

    assert await queries.products(reads) == await store.products()
    for sku in ("TEE", "HOODIE", "PDF"):
        assert await queries.product(reads, sku) == await store.product(sku)
    assert (await queries.product(reads, "HOODIE")).ship_units == 2
    assert await queries.drops(reads) == await store.drops()
    assert await queries.drop(reads, drop.id) == (await store.drops())[0]
    assert await queries.order(reads, order.ref) == await store.order(order.ref)
    assert await queries.orders(reads) == await store.orders(None, None)
