"""One-message buying in the web chat, over HTTP, with the built-in Stripe emulator: the first
buy through the link keeps the card, the second is one `#buy` and a press of Confirm; `/card`
and `/link` are answered in the viewer's private lane, and never reach the room."""

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.e2e.conftest import checkout_page, free_port
from tests.integration.helpers import add_product, start_drop
from tests.live_events import read_events
from webhooks.app import create_app
from webhooks.keys import BUS

ROOM = "demo"


@dataclass
class Viewer:
    base: str
    name: str
    http: ClientSession
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def say(self, text: str) -> None:
        form = {"name": self.name, "text": text}
        response = await self.http.post(f"{self.base}/chat/{ROOM}/messages", data=form)
        assert response.status == 200, await response.text()

    async def press(self, action: str) -> int:
        response = await self.http.post(
            f"{self.base}/chat/{ROOM}/actions", data={"action": action}
        )
        return response.status

    async def event(self, kind: str, wanted: str, after: int = 0) -> dict[str, Any]:
        """The first event of a kind (from index `after` on) whose text has `wanted`."""
        for _ in range(300):
            for e in self.seen[after:]:
                if e.get("type") == kind and wanted in e.get("text", ""):
                    return e
            await asyncio.sleep(0.02)
        raise AssertionError(f"{wanted!r} never came to {self.name}: {self.seen}")

    def texts(self, kind: str | None = None) -> list[str]:
        return [str(e.get("text", "")) for e in self.seen if kind in (None, e.get("type"))]


@dataclass
class Shop:
    base: str
    bus: MessageBus
    stack: contextlib.AsyncExitStack
    readers: list["asyncio.Task[None]"] = field(default_factory=list)

    async def viewer(self, name: str) -> Viewer:
        http = ClientSession(cookie_jar=CookieJar(unsafe=True))
        await self.stack.enter_async_context(http)
        assert (await http.get(f"{self.base}/chat/{ROOM}")).status == 200
        viewer = Viewer(self.base, name, http)
        stream = await http.get(f"{self.base}/chat/{ROOM}/events")
        self.readers.append(asyncio.create_task(read_events(stream, viewer.seen)))
        return viewer

    async def order(self, ref: str, status: OrderStatus) -> None:
        for _ in range(200):  # the emulator delivers its webhooks in the background
            if (await self.bus.deps.store.order(ref)).status is status:
                return
            await asyncio.sleep(0.025)
        raise AssertionError(f"order {ref} never became {status}")


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[Shop]:
    """The whole app in local mode (the emulator as Stripe) on a loopback port."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(
        test_settings(database_url, public_base_url=base), engine=engine, sweep_every=3600
    )
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(TestServer(app, host="127.0.0.1", port=port))
        shop = Shop(base, server.app[BUS], stack)
        yield shop
        for reader in shop.readers:
            reader.cancel()
        await asyncio.gather(*shop.readers, return_exceptions=True)


REF = re.compile(r"order ([A-Z0-9]{6,})")


async def test_the_second_buy_is_one_message_and_a_confirm(shop: Shop) -> None:
    await add_product(shop.bus, stock=5)
    await start_drop(shop.bus, quantity=3, channels=(f"web:{ROOM}",))
    anna, ben = await shop.viewer("anna"), await shop.viewer("ben")

    # Buy #1: no card yet, so the link; paying it on the emulator keeps the card.
    await anna.say("#buy")
    first = await anna.event("private", "Pay within")
    url = re.search(r"https?://\S+", first["text"])
    assert url is not None and "/pay/" in url[0] and "actions" not in first
    checkout = await checkout_page(anna.http, url[0])
    assert "/stripe-emulator/" in checkout
    assert (await anna.http.post(checkout, allow_redirects=False)).status == 303
    await anna.event("private", "Payment received")
    saved = await anna.event("private", "Visa •••• 4242 is saved")
    assert "/unlink" in saved["text"]

    # Buy #2: the units are held and anna is asked, privately, with a Confirm button.
    mark = len(anna.seen)
    await anna.say("#buy")
    public = await ben.event("bot", "@anna: 1 × TEE product is held for you")
    assert "confirm" in public["text"].lower()
    asked = await anna.event("private", "with Visa •••• 4242: confirm?", mark)
    assert "1 × TEE product for €25.00" in asked["text"]
    [button] = asked["actions"]
    assert button["label"] == "Confirm" and button["action"].startswith("confirm:")
    ref = button["action"].removeprefix("confirm:")
    assert (await shop.bus.deps.store.order(ref)).status is OrderStatus.RESERVED

    # Nobody else can press it for her: the identity is the cookie's, not the button's.
    assert await ben.press(button["action"]) == 200
    await ben.event("private", "nothing waits for your confirm")
    assert (await shop.bus.deps.store.order(ref)).status is OrderStatus.RESERVED

    assert await anna.press(button["action"]) == 200
    charged = await anna.event("private", "Charged €25.00 to Visa •••• 4242", mark)
    assert "1 × TEE product" in charged["text"]
    await shop.order(ref, OrderStatus.PAID)
    await ben.event("bot", "TEE product sold to @anna", len(public))
    assert sum("sold to @anna" in t for t in ben.texts("bot")) == 2
    # Pressed again (a double click): the order is paid once, the answer says why not again.
    assert await anna.press(button["action"]) == 200
    await anna.event("private", "nothing waits for your confirm", mark)
    paid = [o for o in await shop.bus.deps.store.orders(None, None) if o.ref == ref]
    assert paid[0].status is OrderStatus.PAID

    # Nothing private reached ben: no link, no card, no question, no button.
    assert not any(e.get("actions") for e in ben.seen)
    assert not [t for t in ben.texts() if "4242" in t or "stripe-emulator" in t]


async def test_card_and_link_are_answered_privately(shop: Shop) -> None:
    anna, ben = await shop.viewer("anna"), await shop.viewer("ben")
    await anna.say("/card")
    card = await anna.event("private", "You have no saved card")
    setup = re.search(r"https?://\S+", card["text"])
    assert setup is not None and "/stripe-emulator/" in setup[0]
    await anna.say("/link")
    issued = await anna.event("private", "Your code:")
    code = re.search(r"Your code: (\S+)\.", issued["text"])
    assert code is not None
    # anna sees what she typed; the room does not, nor the code.
    assert "/link" in anna.texts("message") and "/card" in anna.texts("message")
    await ben.say("/link " + code[1])  # ben joins anna's identities (from the web, too)
    linked = await ben.event("private", "Linked:")
    assert linked["text"].count("web:") == 2
    await ben.say("hello")
    await anna.event("message", "hello")
    assert anna.texts("message").count("/link " + code[1]) == 0
    assert ben.texts("message") == ["/link " + code[1], "hello"]
    assert not [t for t in anna.texts() if "Linked" in t]
    # A button that is not ours, and a viewer without a cookie, are refused.
    assert await anna.press("pay:everything") == 400
    async with ClientSession() as stranger:
        response = await stranger.post(
            f"{shop.base}/chat/{ROOM}/actions", data={"action": "confirm:ABCDEF"}
        )
        assert response.status == 403
