"""Where a buyer's one-message buys ship to, on both databases: the address of their newest
order that has one, whatever order the webhooks came in, and across linked identities."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.cards import SqlCards
from commerce.service_layer.messagebus import MessageBus
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, buy, start_drop

OLD, NEW = "Anna, Old Street 1, 10115 Berlin, DE", "Anna, New Street 2, 20095 Hamburg, DE"


async def order_of(bus: MessageBus, who: str) -> str:
    order = (await buy(bus, who)).order
    assert order is not None
    return order.ref


async def test_the_newest_order_s_address_wins_whatever_order_webhooks_come_in(
    bus: MessageBus, engine: AsyncEngine, clock: FakeClock
) -> None:
    await add_product(bus, stock=10)
    await start_drop(bus, quantity=5)
    older = await order_of(bus, "web:anna")
    clock.advance(seconds=5)
    newer = await order_of(bus, "web:anna")
    ledger, cards = bus.deps.ledger, SqlCards(engine)
    assert ledger is not None
    await ledger.record_ship_to(newer, NEW, clock.now())
    await ledger.record_ship_to(older, OLD, clock.now())  # a late redelivery of the older
    assert await cards.ship_to("web:anna") == NEW
    await ledger.record_ship_to(newer, OLD, clock.now())  # an order keeps its first address
    assert (await bus.deps.store.order(newer)).ship_to == NEW
    assert await cards.ship_to("web:anna") == NEW


async def test_linking_keeps_the_newest_address_of_both(
    bus: MessageBus, engine: AsyncEngine, clock: FakeClock
) -> None:
    await add_product(bus, stock=10)
    await start_drop(bus, quantity=5)
    ledger, cards = bus.deps.ledger, SqlCards(engine)
    assert ledger is not None
    await ledger.record_ship_to(await order_of(bus, "telegram:1"), OLD, clock.now())
    clock.advance(seconds=5)
    await ledger.record_ship_to(await order_of(bus, "discord:1"), NEW, clock.now())
    code = await cards.issue_code("telegram:1", clock.now(), timedelta(minutes=10))
    await cards.redeem_code("discord:1", code, clock.now())  # telegram's customer stays
    assert await cards.ship_to("telegram:1") == await cards.ship_to("discord:1") == NEW


async def test_an_address_copied_by_a_card_charge_does_not_outrank_a_typed_one(
    bus: MessageBus, engine: AsyncEngine, clock: FakeClock
) -> None:
    """Anna's link for one order is still open when she buys again with her saved card (its
    order carries her address on record); then she pays the link with a new address."""
    await add_product(bus, stock=10)
    await start_drop(bus, quantity=5)
    ledger, cards = bus.deps.ledger, SqlCards(engine)
    assert ledger is not None
    await ledger.record_ship_to(await order_of(bus, "web:anna"), OLD, clock.now())
    by_link = await order_of(bus, "web:anna")
    clock.advance(seconds=5)
    by_card = await order_of(bus, "web:anna")
    assert await cards.start_charge(by_card, clock.now(), OLD)  # newer, with the old address
    await ledger.record_ship_to(by_link, NEW, clock.now())  # typed on the link's page
    assert await cards.ship_to("web:anna") == NEW
