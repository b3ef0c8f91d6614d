"""The whole loop in local mode: #buy -> Checkout Session on the built-in emulator -> pay on
its page -> signed webhook -> order paid -> notification, with the real stripe library."""

import asyncio

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import Renderer
from commerce.domain.commands import ChatMessage
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderPaid, OrderView
from tests.conftest import test_settings
from tests.e2e.conftest import checkout_page, free_port
from tests.fakes import FakeNotifier
from tests.integration.helpers import add_product, start_drop
from webhooks.app import create_app
from webhooks.devtools.emulator import create_emulator
from webhooks.keys import BUS


async def test_buy_pay_and_confirm_through_the_emulator(
    database_url: str, engine: AsyncEngine
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    notifier = FakeNotifier()
    settings = test_settings(database_url, public_base_url=base)
    app = create_app(settings, engine=engine, notifier=notifier, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server, ClientSession() as http:
        bus = server.app[BUS]
        await add_product(bus)
        await start_drop(bus, quantity=1)
        message = ChatMessage("web:demo:1", "web:demo", "web:alice", "omg want it #buy", "alice")
        outcome = await bus.handle(message)
        assert isinstance(outcome, chat.Claimed)
        order = outcome.result.order
        assert order is not None and order.checkout_url is not None
        assert order.checkout_url.startswith(f"{base}/pay/{order.ref}?t=")
        reply = Renderer("en").outcome(outcome, "@alice")
        assert reply.public is not None and "@alice" in reply.public
        assert reply.private is not None and order.checkout_url in reply.private

        checkout = await checkout_page(http, order.checkout_url)
        assert checkout.startswith(f"{base}/stripe-emulator/")
        page = await http.get(checkout)
        assert page.status == 200
        assert "TEST MODE" in await page.text()
        paid = await http.post(checkout, allow_redirects=False)
        assert paid.status == 303
        assert paid.headers["Location"].startswith(f"{base}/checkout/done?order={order.ref}")

        current = await until_paid(bus, order.ref)
        # The page asked for the address (a tee ships) and sent its test address.
        assert current.ship_to == "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"
        assert [n.order.ref for n in notifier.of(OrderPaid)] == [order.ref]  # type: ignore[union-attr]
        done = await http.get(paid.headers["Location"])
        assert "Thank you" in await done.text()
        history = await bus.deps.store.history(order.ref)
        assert [e.to_status for e in history] == ["reserved", "checkout_open", "paid"]
        assert history[-1].cause.startswith("stripe:evt_")


async def test_the_address_typed_on_the_emulator_page_ends_on_the_order(
    database_url: str, engine: AsyncEngine
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base)
    app = create_app(settings, engine=engine, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server, ClientSession() as http:
        bus = server.app[BUS]
        await add_product(bus)
        await start_drop(bus, quantity=1)
        message = ChatMessage("web:demo:2", "web:demo", "web:bea", "#buy", "bea")
        outcome = await bus.handle(message)
        assert isinstance(outcome, chat.Claimed) and outcome.result.order is not None
        order = outcome.result.order
        assert order.checkout_url is not None
        checkout = await checkout_page(http, order.checkout_url)

        page = await (await http.get(checkout)).text()
        assert "<legend>Shipping address</legend>" in page
        assert 'name="line1" autocomplete="shipping address-line1" value="Teststraße 1"' in page
        typed = {
            "card": "4242424242424242",
            "name": "Bea  Buyer",
            "line1": "12 Rue de la Paix",
            "line2": "",
            "postal_code": "75002",
            "city": "Paris",
            "state": "",
            "country": "fr",
        }
        # A required field left empty: the page says so, keeps what was typed, stays open.
        refused = await http.post(checkout, data=typed | {"line1": " "})
        assert refused.status == 400
        text = await refused.text()
        assert "Enter the shipping address (line1)." in text and 'value="Paris"' in text
        # A country the shop does not ship to (not in allowed_countries) is refused too.
        assert (await http.post(checkout, data=typed | {"country": "JP"})).status == 400

        paid = await http.post(checkout, data=typed, allow_redirects=False)
        assert paid.status == 303
        current = await until_paid(bus, order.ref)
        assert current.ship_to == "Bea Buyer, 12 Rue de la Paix, 75002 Paris, FR"


async def test_with_stripe_keys_the_product_talks_to_that_server(
    database_url: str, engine: AsyncEngine
) -> None:
    """STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_API_BASE set: no emulator is
    mounted, and checkouts, payments and webhooks go through the configured server (here an
    emulator of our own standing in for Stripe, on another port)."""
    shop_port, stripe_port = free_port(), free_port()
    shop, stripe = f"http://127.0.0.1:{shop_port}", f"http://127.0.0.1:{stripe_port}"
    secret = "whsec_configured"
    fake_stripe = web.Application()
    fake_stripe.add_subapp(
        "/stripe-emulator",
        create_emulator(
            public_base_url=stripe,
            webhook_url=f"{shop}/webhooks/stripe",
            webhook_secret=secret,
            api_key="sk_test_configured",
        ),
    )
    settings = test_settings(
        database_url,
        public_base_url=shop,
        stripe_secret_key="sk_test_configured",
        stripe_webhook_secret=secret,
        stripe_api_base=f"{stripe}/stripe-emulator",
    )
    app = create_app(settings, engine=engine, sweep_every=3600)
    async with (
        TestServer(fake_stripe, host="127.0.0.1", port=stripe_port),
        TestServer(app, host="127.0.0.1", port=shop_port) as server,
        ClientSession() as http,
    ):
        assert (await http.get(f"{shop}/stripe-emulator/v1/events")).status == 404
        bus = server.app[BUS]
        await add_product(bus)
        await start_drop(bus, quantity=1)
        outcome = await bus.handle(ChatMessage("web:demo:9", "web:demo", "web:bo", "#buy", "bo"))
        assert isinstance(outcome, chat.Claimed) and outcome.result.order is not None
        assert outcome.result.order.checkout_url is not None
        url = await checkout_page(http, outcome.result.order.checkout_url)
        assert url.startswith(f"{stripe}/stripe-emulator/pay/")
        assert (await http.post(url, allow_redirects=False)).status == 303
        for _ in range(100):
            order = await bus.deps.store.order(outcome.result.order.ref)
            if order.status is OrderStatus.PAID:
                break
            await asyncio.sleep(0.05)
        assert order.status is OrderStatus.PAID


async def until_paid(bus: MessageBus, ref: str) -> OrderView:
    """The order once the emulator's webhook (delivered in the background) has paid it."""
    for _ in range(100):
        current = await bus.deps.store.order(ref)
        if current.status is OrderStatus.PAID:
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {ref} is {current.status}, not paid")
