"""LIVEBUY_WEB_CLAIMS (#18 item 3), tested as the attacker of the issue: fresh browser
sessions cannot hold a drop. first-paid: an anonymous web viewer's claim holds nothing (the
first payment takes the unit); signed-in: it is refused; a viewer linked (/link) to a
Telegram or Discord account holds as on that platform."""

import asyncio
import contextlib
from collections.abc import Callable

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import Renderer
from commerce.domain import commands as c
from commerce.service_layer import chat
from tests.e2e.conftest import WebShop
from tests.integration.helpers import add_product, start_drop
from tests.live_events import enter
from webhooks.keys import BUS

Serve = Callable[[str], contextlib.AbstractAsyncContextManager[TestServer]]


@pytest.fixture
def serve(web_shop: WebShop) -> Serve:
    """The service with LIVEBUY_WEB_CLAIMS set to the mode given."""
    return lambda mode: web_shop(livebuy_web_claims=mode)


async def drop_state(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as conn:
        remaining = (await conn.execute(text("SELECT remaining FROM drops"))).scalar_one()
        orders = (await conn.execute(text("SELECT COUNT(*) FROM orders"))).scalar_one()
    return int(remaining), int(orders)


async def claim_from_fresh_browsers(base: str, browsers: int, claims_each: int) -> list[int]:
    async def one(n: int) -> list[int]:
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            await enter(http, base, "demo")
            statuses = []
            for _ in range(claims_each):
                form = {"name": f"Fresh {n}", "text": "#buy"}
                posted = await http.post(f"{base}/chat/demo/messages", data=form)
                statuses.append(posted.status)
            return statuses

    return [s for row in await asyncio.gather(*(one(n) for n in range(browsers))) for s in row]


async def test_25_fresh_sessions_hold_nothing_in_first_paid_mode(
    serve: Serve, engine: AsyncEngine
) -> None:
    async with serve("first-paid") as server:
        base, bus = str(server.make_url("")).rstrip("/"), server.app[BUS]
        await add_product(bus, "MUG", stock=20)
        await start_drop(bus, "MUG", quantity=20, limit=2, channels=("web:demo",))
        statuses = await claim_from_fresh_browsers(base, 25, 2)
        assert set(statuses) == {200}
        remaining, orders = await drop_state(engine)
        assert remaining == 20  # nothing held: the drop is still there for paying buyers
        assert orders == 50  # each may pay, and the first payments take the units
        # What such a buyer reads: nothing is held for them, the link pays for it.
        claimed = await bus.handle(c.ChatMessage("w:x", "web:demo", "web:v_fresh", "#buy", "Al"))
        assert isinstance(claimed, chat.Claimed)
        reply = Renderer("en").outcome(claimed, "@Al")
        assert reply.public == "@Al: 1 × MUG product for €25.00 goes to whoever pays first." + (
            " Check your messages for your link."
        )
        assert reply.private is not None and "is not held for you" in reply.private
        # A viewer linked to a Telegram account holds as Telegram buyers do.
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            viewer = await enter(http, base, "demo")
            issued = await bus.handle(
                c.ChatMessage("tg:1", "telegram:42", "telegram:42", "/link", "Ann", private=True)
            )
            assert isinstance(issued, chat.LinkCodeIssued)
            link = {"name": "Ann", "text": f"/link {issued.code}"}
            assert (await http.post(f"{base}/chat/demo/messages", data=link)).status == 200
            buy = {"name": "Ann", "text": "#buy"}
            assert (await http.post(f"{base}/chat/demo/messages", data=buy)).status == 200
        assert (await drop_state(engine))[0] == 19
        [held] = await bus.handle(c.ListOrders(identity=viewer))
        assert held.status == "checkout_open"


async def test_signed_in_mode_refuses_anonymous_claims(serve: Serve, engine: AsyncEngine) -> None:
    async with serve("signed-in") as server:
        base, bus = str(server.make_url("")).rstrip("/"), server.app[BUS]
        await add_product(bus, "MUG", stock=20)
        await start_drop(bus, "MUG", quantity=20, limit=2, channels=("web:demo",))
        statuses = await claim_from_fresh_browsers(base, 3, 1)
        assert set(statuses) == {200}
        assert await drop_state(engine) == (20, 0)  # no order, no hold
        message = c.ChatMessage("w:1", "web:demo", "web:v_0123456789ab", "#buy", "Eve")
        refused = await bus.handle(message)
        assert isinstance(refused, chat.Failed)
        assert refused.sign_in and "need a sign-in" in refused.reason and "/link" in refused.reason
        # Telegram buyers are accounts: they claim as always.
        tg = c.ChatMessage("tg:9", "web:demo", "telegram:7", "#buy", "Tom")
        assert isinstance(await bus.handle(tg), chat.Claimed)


async def test_hold_mode_keeps_todays_behaviour(serve: Serve, engine: AsyncEngine) -> None:
    async with serve("hold") as server:
        base, bus = str(server.make_url("")).rstrip("/"), server.app[BUS]
        await add_product(bus, "MUG", stock=20)
        await start_drop(bus, "MUG", quantity=20, limit=2, channels=("web:demo",))
        await claim_from_fresh_browsers(base, 3, 1)
        assert await drop_state(engine) == (17, 3)
