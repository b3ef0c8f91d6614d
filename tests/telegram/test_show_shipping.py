"""A show's packages through the Telegram fake and the built-in Stripe emulator: Anna wins
three lots of one show and pays three times (a Checkout page first, then her saved card
with one tap); the shipping charged is the zone's first + each + each. A `--shipping free`
show charges none."""

from datetime import timedelta
from decimal import Decimal

from aiohttp import ClientSession
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.reports import SqlReports
from commerce.adapters.show_report import SqlShowReport
from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.domain.shipping import ShippingPolicy, Zone
from commerce.domain.shows import LotMode, LotSpec
from tests.e2e.conftest import emulator_auth
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, Shop, ShopFactory, until
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.test_one_message import (
    ANNA,
    OK,
    SELLER,
    _emulator_pay,
    _nudge,
    _opened,
    _shop,
    _until_status,
)
from webhooks.cli.shows import report_markdown
from webhooks.keys import ENGINE

EU = Zone.parse("EU", "DE,AT", "4.90", "1.00", None, "eur")
SKUS = ("CARD1", "CARD2", "CARD3")


async def _session(shop: Shop, session: str) -> dict[str, object]:
    """The Checkout Session as the emulator keeps it (Stripe's shape)."""
    url = f"http://127.0.0.1:{shop.client.server.port}/stripe-emulator/v1/checkout/sessions/"
    auth = await emulator_auth(shop.client.server.app[ENGINE])
    async with ClientSession(headers=auth) as http, http.get(url + session) as got:
        assert got.status == 200, await got.text()
        found: dict[str, object] = await got.json()
        return found


async def _show(shop: Shop, title: str, policy: ShippingPolicy | None) -> None:
    lots = tuple(LotSpec(sku, LotMode.FIXED, Decimal(20)) for sku in SKUS)
    starts = shop.clock.now() + timedelta(minutes=30)
    await shop.bus.handle(
        c.CreateShow(title, starts, (f"telegram:{GROUP}",), lots=lots, shipping=policy)
    )
    await shop.settle()


async def _win_and_pay(shop: Shop, api: FakeBotApi, sku: str, expect: str = "") -> str:
    """/next puts the lot live, Anna buys it and pays: the link's page the first time
    (her card is kept), one tap on Confirm after that."""
    await shop.processed(api.message(GROUP, SELLER, "/next"))
    await shop.settle()
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    orders = await shop.bus.deps.store.orders(None, None)
    (order,) = [o for o in orders if o.drop_code == sku]
    if order.checkout_url is not None:
        opened = await _opened(shop, order)
        assert opened.checkout_session is not None
        await _emulator_pay(shop, opened.checkout_session, OK)
        await _until_status(shop, order.ref, OrderStatus.PAID)
        await until(
            lambda: (
                any(t.startswith("Visa •••• 4242") for t in api.texts_to(ANNA.id)) or _nudge(shop)
            ),
            what="the card-saved message",
        )
    else:
        question = api.messages_in(ANNA.id)[-1]
        assert question.buttons, question.text
        # The question names the items and the package's share: what the tap charges.
        assert question.text.startswith(f"1 × {sku} product for {expect}"), question.text
        await shop.processed(api.press(question, ANNA))
        await _until_status(shop, order.ref, OrderStatus.PAID)
    await shop.settle()
    return order.ref


async def test_three_wins_of_a_show_pay_first_each_each(
    shop_factory: ShopFactory, api: FakeBotApi, engine: AsyncEngine
) -> None:
    shop = await _shop(shop_factory)
    await shop.bus.handle(c.AddSeller(f"telegram:{SELLER.id}"))
    await shop.bus.handle(c.AddZone(EU))
    for sku in SKUS:
        await add_product(shop.bus, sku, stock=5)
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await _show(shop, "Sunday cards", None)

    refs = [await _win_and_pay(shop, api, sku, "€21.00") for sku in SKUS]
    orders = [await shop.bus.deps.store.order(ref) for ref in refs]
    assert [o.shipping_amount for o in orders] == [490, 100, 100]  # first + each + each
    assert len({o.bundle_id for o in orders}) == 1  # one package
    first = orders[0]
    assert first.checkout_session is not None
    session = await _session(shop, first.checkout_session)
    # The page knew no address: one option per zone, the one paid is the EU package.
    assert session["shipping_cost"]["amount_subtotal"] == 490  # type: ignore[index]
    assert session["amount_total"] == 2000 + 490
    # The two taps charged the items and the package's share together.
    assert "Charged €21.00 to Visa •••• 4242 for 1 × CARD2 product." in api.texts_to(ANNA.id)
    # The show's report and the shop's figures split what was paid, and count one package.
    report = await SqlShowReport(engine).report("SUNDAY-CARDS", shop.clock.now())
    assert (report.revenue_minor, report.shipping_minor, report.tax_minor) == (6000, 690, 0)
    assert (report.total_minor, report.packages) == (6690, 1)
    # As the README's worked example says it.
    line = "Paid: items €60.00 · shipping €6.90 · tax €0.00 · total €66.90 · 1 package to send"
    assert line in report_markdown(report)
    (revenue,) = await SqlReports(engine).revenue()
    assert (revenue.items, revenue.shipping, revenue.packages) == (6000, 690, 1)


async def test_a_free_shipping_show_charges_none(
    shop_factory: ShopFactory, api: FakeBotApi, engine: AsyncEngine
) -> None:
    shop = await _shop(shop_factory)
    await shop.bus.handle(c.AddSeller(f"telegram:{SELLER.id}"))
    await shop.bus.handle(c.AddZone(EU))
    for sku in SKUS:
        await add_product(shop.bus, sku, stock=5)
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await _show(shop, "Free friday", ShippingPolicy.parse("free", "eur"))

    refs = [await _win_and_pay(shop, api, sku, "€20.00") for sku in SKUS]
    orders = [await shop.bus.deps.store.order(ref) for ref in refs]
    assert [o.shipping_amount for o in orders] == [0, 0, 0]
    assert all(o.status is OrderStatus.PAID for o in orders)
    assert first_total(await _session(shop, str(orders[0].checkout_session))) == 2000
    report = await SqlShowReport(engine).report("FREE-FRIDAY", shop.clock.now())
    assert (report.shipping_minor, report.packages) == (0, 1)


def first_total(session: dict[str, object]) -> object:
    return session["amount_total"]


async def test_stripe_tax_is_added_and_kept_apart(
    shop_factory: ShopFactory, api: FakeBotApi, engine: AsyncEngine
) -> None:
    """LIVEBUY_STRIPE_TAX=1: the Checkout asks for automatic tax; the emulator adds its 10 %
    test rate to items and shipping, and the order keeps the tax apart from both."""
    shop = await _shop(shop_factory, livebuy_stripe_tax=True)
    await shop.bus.handle(c.AddSeller(f"telegram:{SELLER.id}"))
    await shop.bus.handle(c.AddZone(EU))
    for sku in SKUS:
        await add_product(shop.bus, sku, stock=5)
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await _show(shop, "Taxed", None)
    ref = await _win_and_pay(shop, api, SKUS[0])
    order = await shop.bus.deps.store.order(ref)
    assert (order.amount.minor, order.shipping_amount, order.tax_amount) == (2000, 490, 249)
    assert order.status is OrderStatus.PAID
    session = await _session(shop, str(order.checkout_session))
    assert session["automatic_tax"] == {"enabled": True, "liability": None, "status": "complete"}
    assert session["amount_total"] == 2000 + 490 + 249
    report = await SqlShowReport(engine).report("TAXED", shop.clock.now())
    assert (report.revenue_minor, report.shipping_minor, report.tax_minor) == (2000, 490, 249)
