"""The web chat over plain HTTP: cookies, bad input, and notices reaching the room."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.web.chat import WebNotifier, board_event
from bots.web.hub import ChatHub, Viewer
from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer.results import (
    CardSaved,
    CardView,
    OrderView,
    PaymentFellBack,
    PaymentOutcome,
    PaymentResult,
)
from tests.conftest import test_settings
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(test_settings(database_url), engine=engine, clock=clock, sweep_every=3600)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_pages_cookies_and_bad_input(client: TestClient) -> None:  # type: ignore[type-arg]
    assert (await client.get("/chat/Not_A_Room!")).status == 404
    no_cookie = await client.post("/chat/demo/messages", data={"name": "a", "text": "hi"})
    assert no_cookie.status == 403
    assert (await client.get("/chat/demo/events")).status == 403
    page = await client.get("/chat/demo")
    assert page.status == 200 and '<script src="/chat/chat.js">' in await page.text()
    assert "EventSource" in await (await client.get("/chat/chat.js")).text()
    assert "livebuy_viewer" in page.cookies
    for form, status in (
        ({"name": "", "text": "hi"}, 400),
        ({"name": "ann", "text": "  "}, 400),
        ({"name": "ann", "text": "x" * 501}, 400),
        ({"name": "ann", "text": "hello"}, 200),
    ):
        assert (await client.post("/chat/demo/messages", data=form)).status == status


async def test_notices_reach_web_viewers_and_rooms(
    client: TestClient,
    clock: FakeClock,  # type: ignore[type-arg]
) -> None:
    bus = client.server.app[BUS]
    hub = ChatHub()
    notifier = WebNotifier(hub, now=clock.now)
    bus.deps.notifier = notifier
    room_viewer, buyer = Viewer("web:someone", "someone"), Viewer("web:anna", "anna")
    async with hub.join("demo", room_viewer), hub.join("demo", buyer):
        await add_product(bus)
        drop = await start_drop(bus, quantity=1, hold=timedelta(minutes=1))
        hub.to_room("demo", board_event(drop, clock.now()))
        hub.names["web:anna"] = "anna"
        await buy(bus, "web:anna")
        await buy(bus, "web:ben")
        clock.advance(minutes=2)
        await bus.handle(c.ExpireHolds())  # anna's hold ends, ben is promoted
        await bus.handle(c.EndDrop("TEE"))
        seen = [buyer.queue.get_nowait() for _ in range(buyer.queue.qsize())]
        room = [room_viewer.queue.get_nowait() for _ in range(room_viewer.queue.qsize())]
    assert any("Your hold on TEE product" in e for e in seen)  # private, to anna only
    assert not any("Your hold on" in e for e in room)
    assert any('"status": "ended"' in e for e in room)  # the board shows the end
    assert any('"ended": "20:02 UTC"' in e for e in room)  # and when (EndDrop, by hand)
    assert any("Drop TEE has ended" in e for e in room)


async def test_a_viewer_that_stops_reading_is_let_go() -> None:
    hub = ChatHub()
    slow = Viewer("web:slow", "slow")
    async with hub.join("demo", slow):
        for i in range(600):
            hub.to_room("demo", {"type": "message", "name": "x", "text": str(i)})
        assert slow not in hub.rooms["demo"]
        assert slow.queue.qsize() == 1 and slow.queue.get_nowait() is None


async def test_card_notices_reach_the_buyer_alone(clock: FakeClock) -> None:
    hub = ChatHub()
    notifier = WebNotifier(hub)
    anna, ben = Viewer("web:anna", "anna"), Viewer("web:ben", "ben")
    async with hub.join("demo", anna), hub.join("demo", ben):
        await notifier.notify(CardSaved("web:anna", CardView("visa", "4242")))
        now = clock.now()
        order = OrderView(
            "K7P2QX9M", "TEE", "TEE", "Tee", "", "web:anna", "web:demo", 1, Money(2500, "eur"),
            OrderStatus.CHECKOUT_OPEN, now + timedelta(minutes=10), now,
            checkout_url="https://checkout.test/K7P2QX9M",
        )  # fmt: skip
        fell = PaymentResult(PaymentOutcome.FALLBACK, order, reason="Your card was declined.")
        await notifier.notify(PaymentFellBack(fell))
        await notifier.notify(CardSaved("telegram:7", CardView("visa", "1111")))
        seen = [json.loads(anna.queue.get_nowait() or "") for _ in range(anna.queue.qsize())]
        assert ben.queue.empty()
    assert [e["type"] for e in seen] == ["private", "private"]
    seen = [e["text"] for e in seen]
    assert "Visa •••• 4242 is saved" in seen[0]
    assert "Your card could not pay (Your card was declined.)" in seen[1]
    assert "https://checkout.test/K7P2QX9M" in seen[1]
