"""A show's package on Discord: a buyer wins three lots with /buy, opens each pay link and
pays (Stripe's signed webhooks with the option paid and the address); the first page offers
one option per zone, the later ones the package's one option; first + each + each."""

import asyncio
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.shipping import Zone
from commerce.domain.shows import LotMode, LotSpec
from commerce.service_layer.ports import ShippingOption
from tests.discord.conftest import Shop, ShopFactory, until
from tests.discord.fake_discord import CHANNEL_ID, OWNER_ID
from tests.discord.test_drop import LINK, ephemeral_answer
from tests.e2e.stripe_signing import event_body, session
from tests.integration.helpers import add_product

HERE = f"discord:{CHANNEL_ID}"
SKUS = ("CARD1", "CARD2", "CARD3")


async def _pay(shop: Shop, ref: str, shipping: int, number: int) -> None:
    """Checkout's webhook: the order's items and the shipping option the buyer paid."""
    paid = session(ref, f"cs_{ref}") | {
        "amount_total": 2000 + shipping,
        "shipping_cost": {"amount_subtotal": shipping, "amount_tax": 0,
                          "amount_total": shipping, "shipping_rate": f"shr_{number}"},
        "total_details": {"amount_discount": 0, "amount_shipping": shipping, "amount_tax": 0},
    }  # fmt: skip
    await shop._webhook(event_body(f"evt_paid_{ref}", "checkout.session.completed", paid))


async def test_three_wins_on_discord_pay_first_each_each(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await shop.bus.handle(c.AddZone(Zone.parse("EU", "DE,AT", "4.90", "1.00", None, "eur")))
        await shop.bus.handle(c.AddZone(Zone.parse("World", "*", "9.90", "2.00", None, "eur")))
        for sku in SKUS:
            await add_product(shop.bus, sku, stock=5)
        lots = tuple(LotSpec(sku, LotMode.FIXED, Decimal(20)) for sku in SKUS)
        starts = shop.bus.deps.clock.now() + timedelta(minutes=30)
        await shop.bus.handle(c.CreateShow("Sunday cards", starts, (HERE,), lots=lots))
        anna = fake.add_member("anna")
        refs = []
        for number, sku in enumerate(SKUS):
            if number:
                await asyncio.sleep(3.1)  # a /next within 3 s is taken for a double press
            await ephemeral_answer(shop, await fake.slash(OWNER_ID, "next"))
            answer = await ephemeral_answer(shop, await fake.slash(anna, "buy", sku=sku))
            link = LINK.search(answer)
            assert link is not None, answer
            target = urlsplit(link[0])
            opened = await shop.client.get(f"{target.path}?{target.query}", allow_redirects=False)
            assert opened.status == 303, await opened.text()
            request = shop.payments.opened[-1]
            paid = request.shipping_options[0].amount.minor
            await _pay(shop, link[1], paid, number)
            order = await until(lambda ref=link[1]: _paid(shop, ref), what=f"order {link[1]} paid")
            refs.append(order.ref)
        first, second, third = shop.payments.opened
        assert first.shipping_options == (
            ShippingOption("Shipping, EU", Money(490, "eur")),
            ShippingOption("Shipping, World", Money(990, "eur")),
        )
        assert second.shipping_options == (
            ShippingOption(f"Shipping (bundled with order {refs[0]})", Money(100, "eur")),
        )
        assert third.shipping_options[0].amount == Money(100, "eur")
        orders = [await shop.bus.deps.store.order(ref) for ref in refs]
        assert [o.shipping_amount for o in orders] == [490, 100, 100]
        assert len({o.bundle_id for o in orders}) == 1


async def _paid(shop: Shop, ref: str) -> object:
    order = await shop.bus.deps.store.order(ref)
    return order if order.status is OrderStatus.PAID else None
