"""The whole loop in local mode: #buy -> Checkout Session on the built-in emulator -> pay on
its page -> signed webhook -> order paid -> notification, with the real stripe library."""

import asyncio
import socket

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import Renderer
from commerce.domain.commands import ChatMessage
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat
from commerce.service_layer.results import OrderPaid
from tests.conftest import test_settings
from tests.fakes import FakeNotifier
from tests.integration.helpers import add_product, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
        assert order.checkout_url.startswith(f"{base}/stripe-emulator/")
        reply = Renderer("en").outcome(outcome, "@alice")
        assert reply.public is not None and "@alice" in reply.public
        assert reply.private is not None and order.checkout_url in reply.private

        page = await http.get(order.checkout_url)
        assert page.status == 200
        assert "TEST MODE" in await page.text()
        paid = await http.post(order.checkout_url, allow_redirects=False)
        assert paid.status == 303
        assert paid.headers["Location"].startswith(f"{base}/checkout/done?order={order.ref}")

        for _ in range(100):  # the emulator delivers the webhook in the background
            current = await bus.deps.store.order(order.ref)
            if current.status is OrderStatus.PAID:
                break
            await asyncio.sleep(0.05)
        assert current.status is OrderStatus.PAID
        assert [n.order.ref for n in notifier.of(OrderPaid)] == [order.ref]  # type: ignore[union-attr]
        done = await http.get(paid.headers["Location"])
        assert "Thank you" in await done.text()
        history = await bus.deps.store.history(order.ref)
        assert [e.to_status for e in history] == ["reserved", "checkout_open", "paid"]
        assert history[-1].cause.startswith("stripe:evt_")
