"""An auction end to end in the web chat: the seller's /auction and the viewers' bids posted over
HTTP, what each viewer's event stream shows (public board and bids, private outbid notice and
payment link), and the winner paying on the built-in Stripe emulator."""

import asyncio
import contextlib
from typing import Any

from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.service_layer.results import AuctionWon
from tests.conftest import test_settings
from tests.e2e.conftest import checkout_page, free_port
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.helpers import add_product
from tests.live_events import enter, read_events
from webhooks.app import create_app
from webhooks.keys import BUS


async def _texts(events: list[dict[str, Any]], kind: str, wanted: str) -> list[str]:
    """The texts of one kind seen so far, once `wanted` is among them (events are async)."""
    for _ in range(100):
        texts = [e["text"] for e in events if e.get("type") == kind]
        if any(wanted in t for t in texts):
            return texts
        await asyncio.sleep(0.02)
    raise AssertionError(f"{wanted!r} never came: {events}")


async def test_an_auction_in_the_web_chat_paid_on_the_emulator(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    notifier = FakeNotifier()
    settings = test_settings(database_url, public_base_url=base)
    app = create_app(settings, engine=engine, clock=clock, notifier=notifier, sweep_every=3600)
    names = ("sam", "anna", "ben")
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(TestServer(app, host="127.0.0.1", port=port))
        bus = server.app[BUS]
        await add_product(bus, "CARD", stock=1)
        people: dict[str, ClientSession] = {}
        seen: dict[str, list[dict[str, Any]]] = {}
        readers = []
        identities = {}
        for name in names:
            http = ClientSession(cookie_jar=CookieJar(unsafe=True))
            people[name] = await stack.enter_async_context(http)
            identities[name] = await enter(http, base, "show")
            stream = await http.get(f"{base}/chat/show/events")
            seen[name] = []
            readers.append(asyncio.create_task(read_events(stream, seen[name])))
        await bus.handle(c.AddSeller(identities["sam"]))

        async def say(name: str, text: str) -> None:
            form = {"name": name, "text": text}
            response = await people[name].post(f"{base}/chat/show/messages", data=form)
            assert response.status == 200

        await say("sam", "/auction CARD start 1 for 20s sudden")
        await say("anna", "#bid 2")
        await say("ben", "#bid 3")
        await say("anna", "I want it #bid 5")
        clock.advance(seconds=20)
        await bus.handle(c.ExpireHolds())  # the sweeper's pass: the auction closes

        room = await _texts(seen["ben"], "bot", "CARD sold to @anna for €5.00!")
        assert (
            "Auction CARD: CARD product from €1.00, 20s, sudden death. Bid with #bid 1.00" in room
        )
        assert "#1 @anna leads CARD at €2.00. Next bid: €3.00" in room
        assert "#2 @ben leads CARD at €3.00. Next bid: €4.00" in room
        assert "#3 @anna leads CARD at €5.00. Next bid: €6.00" in room
        outbid = await _texts(seen["ben"], "private", "You were outbid on CARD")
        assert outbid == ["You were outbid on CARD: €5.00 now. Bid at least €6.00 with #bid 6.00"]
        won = await _texts(seen["anna"], "private", "You won CARD product for €5.00")
        assert not any("You won" in t for t in await _texts(seen["ben"], "private", ""))

        [notice] = notifier.of(AuctionWon)
        assert isinstance(notice, AuctionWon)
        url = notice.order.checkout_url
        assert url is not None and url.startswith(f"{base}/pay/") and url in won[-1]
        checkout = await checkout_page(people["anna"], url)
        assert checkout.startswith(f"{base}/stripe-emulator/")
        paid = await people["anna"].post(checkout, allow_redirects=False)
        assert paid.status == 303
        for _ in range(100):  # the emulator delivers the webhook in the background
            order = await bus.deps.store.order(notice.order.ref)
            if order.status is OrderStatus.PAID:
                break
            await asyncio.sleep(0.05)
        assert order.status is OrderStatus.PAID and order.amount.minor == 500
        await _texts(seen["ben"], "bot", "sold to")
        # The auction card, redrawn in place: price, leader, bids, time left, bid buttons.
        cards = [e for e in seen["ben"] if e.get("type") == "auction"]
        assert [(c["price"], c["leader"], c["bids"], c["status"]) for c in cards] == [
            ("€1.00", "", 0, "live"),
            ("€2.00", "@anna", 1, "live"),
            ("€3.00", "@ben", 2, "live"),
            ("€5.00", "@anna", 3, "live"),
            ("€5.00", "@anna", 3, "closed"),
        ]
        assert (cards[3]["minimum_plain"], cards[3]["plus5_plain"]) == ("6.00", "10.00")
        assert cards[0]["left"] == 20 and cards[-1]["left"] == 0
        assert not any("CARD CARD product" in t for t in await _texts(seen["ben"], "bot", ""))
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
