"""What a checkout offers for shipping and how the payment's shipping is checked, on SQLite
and PostgreSQL: one option for a known address, one per zone while it is unknown; a
payment whose option does not cover its address's zone goes to review with the difference
stated; tax reported by the provider is kept on the order."""

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import PaymentEventKind
from commerce.domain.shipping import Zone
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import SessionState, ShippingOption
from commerce.service_layer.results import OrderView
from tests.fakes import FakePaymentGateway
from tests.integration.helpers import ADDRESS, add_product, give_address, start_drop
from tests.integration.test_payment_events import event, won_order

K = PaymentEventKind
S = OrderStatus
US = "Bo Buyer, 1 Main St, 10001 New York, US"


@pytest.fixture
async def shop(bus: MessageBus) -> FakePaymentGateway:
    gateway = FakePaymentGateway()
    bus.deps.payments = gateway
    await bus.handle(c.AddZone(Zone.parse("EU", "DE,AT", "4.90", "1.00", None, "eur")))
    await bus.handle(c.AddZone(Zone.parse("World", "*", "9.90", "2.00", None, "eur")))
    await add_product(bus, stock=20)
    await start_drop(bus, quantity=10, hold=timedelta(minutes=30))
    return gateway


def paid(order: OrderView, shipping: int, ship_to: str, tax: int = 0) -> c.ApplyPaymentEvent:
    return event(
        K.CHECKOUT_COMPLETED, order, paid=True, shipping=shipping, tax=tax, ship_to=ship_to,
        amount=order.amount.minor + shipping + tax,
    )  # fmt: skip


async def test_an_unknown_address_gets_one_option_per_zone(
    bus: MessageBus, shop: FakePaymentGateway
) -> None:
    order = await won_order(bus)
    (request,) = shop.opened
    assert request.shipping_options == (
        ShippingOption("Shipping, EU", Money(490, "eur")),
        ShippingOption("Shipping, World", Money(990, "eur")),
    )
    assert {"DE", "AT", "US", "JP"} <= set(request.ship_countries)
    assert await bus.handle(paid(order, 490, ADDRESS, tax=249)) == "paid: order paid"
    done = await bus.deps.store.order(order.ref)
    assert (done.status, done.shipping_amount, done.tax_amount) == (S.PAID, 490, 249)
    assert done.bundle_id is not None and done.total == Money(2500 + 490 + 249, "eur")


async def test_an_option_short_of_the_addresss_zone_goes_to_review(
    bus: MessageBus, shop: FakePaymentGateway
) -> None:
    order = await won_order(bus)
    outcome = await bus.handle(paid(order, 490, US))  # chose EU, ships to the US
    assert outcome == (
        "shipping short by €5.00: paid €4.90, the package in zone World costs €9.90:"
        " order needs review"
    )
    assert (await bus.deps.store.order(order.ref)).status is S.NEEDS_REVIEW
    history = await bus.deps.store.history(order.ref)
    assert "shipping short by €5.00" in history[-1].cause


async def test_a_known_address_gets_its_packages_one_option(
    bus: MessageBus, shop: FakePaymentGateway, engine: AsyncEngine
) -> None:
    first = await won_order(bus)
    await give_address(engine, "web:anna")
    second = await won_order(bus)
    assert len(shop.opened) == 2
    assert shop.opened[1].shipping_options == (ShippingOption("Shipping, EU", Money(490, "eur")),)
    assert shop.opened[1].ship_countries == ("AT", "DE")
    third = await won_order(bus)
    assert shop.opened[2].shipping_options == (
        ShippingOption(f"Shipping (bundled with order {second.ref})", Money(100, "eur")),
    )
    # The first (unknown address) pays later, for the same address: it joins the package
    # with what it paid, and the package has paid more than its price.
    assert await bus.handle(paid(first, 490, ADDRESS)) == "paid: order paid"
    assert await bus.handle(paid(third, 100, ADDRESS)) == "paid: order paid"
    short = await bus.handle(paid(second, 0, ADDRESS))  # its page charged 4.90: paid none
    assert short.startswith("shipping short by €4.90")


async def test_without_zones_nothing_is_offered(bus: MessageBus) -> None:
    gateway = FakePaymentGateway()
    bus.deps.payments = gateway
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=3)
    order = await won_order(bus)
    assert (gateway.opened[0].shipping_options, gateway.opened[0].ship_countries) == ((), ())
    assert await bus.handle(paid(order, 0, ADDRESS)) == "paid: order paid"
    assert (await bus.deps.store.order(order.ref)).bundle_id is None


async def test_reconciliation_reads_the_sessions_shipping_and_tax(
    bus: MessageBus, shop: FakePaymentGateway
) -> None:
    """A lost webhook: reconciliation asks for the session, which says what shipping option
    was paid and the tax; the order is paid with them, or goes to review when short."""
    good, short = await won_order(bus), await won_order(bus, "web:bo")
    for order, shipping, ship_to in ((good, 990, US), (short, 490, US)):
        assert order.checkout_session is not None
        shop.states[order.checkout_session] = SessionState(
            order.checkout_session, order.ref, "complete", "paid", f"pi_{order.ref}",
            2500 + shipping + 349, "eur", ship_to=ship_to, shipping=shipping, tax=349,
        )  # fmt: skip
    changes = await bus.handle(c.Reconcile())
    assert f"{good.ref}: paid at the provider -> paid" in changes
    paid = await bus.deps.store.order(good.ref)
    assert (paid.shipping_amount, paid.tax_amount, paid.bundle_id is not None) == (990, 349, True)
    assert (await bus.deps.store.order(short.ref)).status is S.NEEDS_REVIEW


async def test_two_pages_paid_before_the_address_was_known_note_the_overpayment(
    bus: MessageBus, shop: FakePaymentGateway
) -> None:
    """A new buyer opens two pay links before paying either: both pages offer a new
    package's price. Both are paid (nothing is short); the second's history says how much
    it paid over its share, and the package's later orders pay that much less."""
    one, two = await won_order(bus), await won_order(bus)
    assert await bus.handle(paid(one, 490, ADDRESS)) == "paid: order paid"
    assert await bus.handle(paid(two, 490, ADDRESS)) == "paid: order paid"
    history = await bus.deps.store.history(two.ref)
    package = (await bus.deps.store.order(two.ref)).bundle_id
    note = f"shipping:overpaid €3.90 (its share of package {package} was €1.00)"
    assert note in [e.cause for e in history]
    three = await won_order(bus)  # the address is known now: the package's one option
    assert shop.opened[-1].shipping_options[0].amount == Money(0, "eur")  # 6.90 - 9.80 owed
    assert three.ref
