"""Telegram invoices charge shipping: a LabeledPrice for the package's share when the
buyer's address is known (first, then each), the dearest zone's package while it is not
(checked against the address the payment brings)."""

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.domain.shipping import Zone
from tests.telegram.conftest import GROUP, ShopFactory
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_invoices import ANNA, BOB, _drop, _order_of


async def known_buyer(engine: AsyncEngine, identity: str, ship_to: str) -> None:
    """A buyer whose earlier paid order shipped to `ship_to`."""
    async with engine.begin() as conn:
        customer = await conn.execute(
            text(
                "INSERT INTO customer (display_name, origin_key, disputes, ship_to, created_at)"
                " VALUES ('', :identity, 0, :ship_to, :now) RETURNING id"
            ),
            {"identity": identity, "ship_to": ship_to, "now": datetime.now(UTC)},
        )
        await conn.execute(
            text("INSERT INTO identity (key, customer_id) VALUES (:identity, :customer)"),
            {"identity": identity, "customer": customer.scalar_one()},
        )


EU = Zone.parse("EU", "DE,AT", "4.90", "1.00", None, "eur")
WORLD = Zone.parse("World", "*", "9.90", "2.00", None, "eur")


async def test_invoices_carry_the_packages_shipping(
    shop_factory: ShopFactory, api: FakeBotApi, engine: AsyncEngine
) -> None:
    shop = await _drop(shop_factory)
    await shop.bus.handle(c.AddZone(EU))
    await shop.bus.handle(c.AddZone(WORLD))
    await known_buyer(engine, f"telegram:{ANNA.id}", "Anna, Street 1, 10115 Berlin, DE")

    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    (invoice,) = api.invoices
    assert invoice["prices"] == [
        {"label": "1 × TEE product", "amount": 2500},
        {"label": "Versand", "amount": 490},  # the package's first unit, in Anna's language
    ]
    ref = str(invoice["payload"])
    await shop.processed(api.pre_checkout(ANNA, ref, 2990))
    await shop.processed(api.successful_payment(ANNA, ref, 2990, provider_charge_id="ch_1"))
    await shop.settle()
    first = await shop.bus.deps.store.order(ref)
    assert first.status is OrderStatus.PAID and first.shipping_amount == 490

    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    second = api.invoices[-1]
    assert second["prices"][1] == {"label": "Versand", "amount": 100}  # bundled: each
    ref2 = str(second["payload"])
    await shop.processed(api.successful_payment(ANNA, ref2, 2600, provider_charge_id="ch_2"))
    await shop.settle()
    paid = await shop.bus.deps.store.order(ref2)
    assert paid.status is OrderStatus.PAID and paid.bundle_id == first.bundle_id

    # Bob's address is not known yet: the dearest zone's package, checked once he paid.
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    await shop.settle()
    bobs = api.invoices[-1]
    assert bobs["prices"][1] == {"label": "Shipping", "amount": 990}
    ref3 = await _order_of(shop, BOB)
    await shop.processed(api.successful_payment(BOB, ref3, 3490, provider_charge_id="ch_3"))
    await shop.settle()
    bob = await shop.bus.deps.store.order(ref3)
    assert bob.status is OrderStatus.PAID and bob.bundle_id is not None
    assert bob.shipping_amount == 990
