"""The buyer can always find their order (#18 item 5): /orders and the page's My orders
button list the open orders with a pay link for each unpaid one, privately; a reload of the
page shows the viewer's own private lines again (kept per identity, not per tab)."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from commerce.domain import commands as c
from tests.e2e.conftest import WebShop
from tests.integration.helpers import add_product, start_drop
from tests.live_events import enter, read_events
from webhooks.keys import BUS


@pytest.fixture
async def server(web_shop: WebShop) -> AsyncIterator[TestServer]:
    async with web_shop() as server:
        yield server


async def events_until(http: ClientSession, url: str, done: Any) -> list[dict[str, Any]]:
    """A new stream's events (as a reloaded page gets them) until `done(events)` holds."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(5), http.get(url) as stream:
        async for line in stream.content:
            if line.startswith(b"data: "):
                seen.append(json.loads(line[6:]))
                if done(seen):
                    break
    return seen


def private_texts(events: list[dict[str, Any]]) -> list[str]:
    """The private lines a page shows: those kept for the viewer, then the live ones."""
    lines = [line for e in events if e["type"] == "mine" for line in e["lines"]]
    lines += [e for e in events if e["type"] == "private"]
    return [line["text"] for line in lines if line["type"] == "private"]


async def test_orders_with_pay_links_and_private_lines_after_a_reload(
    server: TestServer,
) -> None:
    base, bus = str(server.make_url("")).rstrip("/"), server.app[BUS]
    await add_product(bus, "MUG", stock=5)
    await add_product(bus, "CAP", stock=5)
    await start_drop(bus, "MUG", quantity=5, channels=("web:demo",))
    async with contextlib.AsyncExitStack() as stack:
        anna = await stack.enter_async_context(ClientSession(cookie_jar=CookieJar(unsafe=True)))
        ben = await stack.enter_async_context(ClientSession(cookie_jar=CookieJar(unsafe=True)))
        anna_id = await enter(anna, base, "demo")
        await enter(ben, base, "demo")
        ben_seen: list[dict[str, Any]] = []
        ben_reader = asyncio.create_task(
            read_events(await ben.get(f"{base}/chat/demo/events"), ben_seen)
        )
        said = await anna.post(f"{base}/chat/demo/messages", data={"name": "Anna", "text": "#buy"})
        assert said.status == 200
        # Her tab is closed before the link arrived: a new one (a reload) shows it again.
        events = f"{base}/chat/demo/events"
        await asyncio.sleep(0.5)  # long gone: every worker has heard of her link by now
        again = await events_until(anna, events, private_texts)
        [mine] = [e for e in again if e["type"] == "mine"]  # kept for her, not live
        assert any("/pay/" in line.get("text", "") for line in mine["lines"])
        # /orders (the My orders button sends it): privately, with a pay link.
        [order] = await bus.handle(c.ListOrders(identity=anna_id))
        asked = await anna.post(
            f"{base}/chat/demo/messages", data={"name": "Anna", "text": "/orders"}
        )
        assert asked.status == 200
        answer = await events_until(
            anna, events, lambda seen: any("Your orders" in t for t in private_texts(seen))
        )
        [listing] = [t for t in private_texts(answer) if t.startswith("Your orders")]
        assert order.ref in listing and "Pay: http" in listing and f"/pay/{order.ref}" in listing
        await asyncio.sleep(0.3)
        ben_reader.cancel()
        await asyncio.gather(ben_reader, return_exceptions=True)
    # Ben saw neither her /orders nor its answer nor her link; nor does he get her lines.
    assert not [e for e in ben_seen if "/orders" in e.get("text", "")]
    assert not [e for e in ben_seen if "/pay/" in e.get("text", "")]
    assert not [e for e in ben_seen if e["type"] == "mine"]


async def test_closed_orders_are_not_listed(server: TestServer) -> None:
    base, bus = str(server.make_url("")).rstrip("/"), server.app[BUS]
    await add_product(bus, "MUG", stock=5)
    await start_drop(bus, "MUG", quantity=5, channels=("web:demo",))
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as anna:
        anna_id = await enter(anna, base, "demo")
        for text in ("#buy", "/cancel", "/orders"):
            said = await anna.post(
                f"{base}/chat/demo/messages", data={"name": "Anna", "text": text}
            )
            assert said.status == 200
        [order] = await bus.handle(c.ListOrders(identity=anna_id))
        assert order.status == "cancelled"
        seen = await events_until(
            anna, f"{base}/chat/demo/events", lambda seen: private_texts(seen)
        )
    assert "You have no open orders" in private_texts(seen)[-1]
