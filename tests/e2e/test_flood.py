"""Flood control (#18 item 4), as an attacker floods: one person's messages per chat on
every platform (LIVEBUY_RATE_PER_BUYER, in the core), and the web chat's requests per client
address (LIVEBUY_RATE_PER_IP, 429 with Retry-After). Sellers are never slowed down."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.throttle import WARN_AGAIN_AFTER
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.service_layer import chat
from tests.conftest import test_settings
from tests.e2e.conftest import WebShop, base_of
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.helpers import add_product, start_drop
from tests.live_events import enter, read_events
from webhooks.app import create_app
from webhooks.keys import BUS

TOKEN = "s3cret-admin-0123456789abc"
# #18: 3,000 messages from one session, 600 times what a window lets through.
FLOOD = 3000


@pytest.fixture
async def server(web_shop: WebShop) -> AsyncIterator[TestServer]:
    async with web_shop(
        livebuy_admin_token=TOKEN,
        livebuy_rate_per_buyer="5/10s",  # the product's defaults
        livebuy_rate_per_ip="off",  # one test machine is every viewer's address here
    ) as server:
        yield server


async def test_three_thousand_messages_from_one_session_are_throttled(
    server: TestServer,
) -> None:
    base, bus = base_of(server), server.app[BUS]
    await add_product(bus, "MUG", stock=20)
    await start_drop(bus, "MUG", quantity=20, limit=2, channels=("web:demo",))
    seen: dict[str, list[dict[str, Any]]] = {"spammer": [], "ben": []}
    async with contextlib.AsyncExitStack() as stack:
        people = {}
        readers = []
        for name in seen:
            http = await stack.enter_async_context(
                ClientSession(cookie_jar=CookieJar(unsafe=True))
            )
            await enter(http, base, "demo")
            stream = await http.get(f"{base}/chat/demo/events")
            readers.append(asyncio.create_task(read_events(stream, seen[name])))
            people[name] = http
        gate = asyncio.Semaphore(50)

        async def say(i: int) -> int:
            text = "#buy MUG" if i % 2 else f"spam {i} http://evil.example"
            async with gate:
                posted = await people["spammer"].post(
                    f"{base}/chat/demo/messages", data={"name": "Spammer", "text": text}
                )
                return posted.status

        started = time.monotonic()
        statuses = await asyncio.gather(*(say(i) for i in range(FLOOD)))
        took = time.monotonic() - started
        windows = int(took // 10) + 1  # a window lets 5 through
        # One "slow down" a minute (throttle.WARN_AGAIN_AFTER): a loaded machine may take longer.
        warnings = int(took // WARN_AGAIN_AFTER) + 1
        assert set(statuses) == {200}  # dropped, not errors: a flood learns nothing
        ok = await people["ben"].post(
            f"{base}/chat/demo/messages", data={"name": "Ben", "text": "hi"}
        )
        assert ok.status == 200  # another viewer is not slowed down by the flood
        await asyncio.sleep(0.5)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    spam_lines = [e for e in seen["ben"] if e["type"] == "message" and e["name"] == "Spammer"]
    assert 1 <= len(spam_lines) <= 5 * windows  # what the room saw of 3,000
    slow_downs = [e for e in seen["spammer"] if "slow down" in e.get("text", "")]
    assert 1 <= len(slow_downs) <= warnings
    assert all(e["type"] == "private" for e in slow_downs)
    assert not [e for e in seen["ben"] if "slow down" in e.get("text", "")]
    assert any(e["type"] == "message" and e["name"] == "Ben" for e in seen["ben"])
    # The funnel on the dashboard counts what was dropped.
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as seller:
        assert (await seller.post(f"{base}/dashboard/login", data={"token": TOKEN})).status == 200
        state = await (await seller.get(f"{base}/dashboard/state")).json()
    assert state["throttled"]["web"] >= FLOOD - 5 * windows


async def test_a_sellers_commands_are_never_throttled(server: TestServer) -> None:
    base, bus = base_of(server), server.app[BUS]
    await add_product(bus, "MUG", stock=50)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as sam:
        await bus.handle(c.AddSeller(await enter(sam, base, "demo")))
        seen: list[dict[str, Any]] = []
        reader = asyncio.create_task(read_events(await sam.get(f"{base}/chat/demo/events"), seen))
        for text in ["/drop MUG 1 price 5"] + [
            "/end MUG" if i % 2 else "/drop MUG 1 price 5" for i in range(1, 20)
        ]:
            said = await sam.post(f"{base}/chat/demo/messages", data={"name": "Sam", "text": text})
            assert said.status == 200
        await asyncio.sleep(0.3)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
    assert len([e for e in seen if e["type"] == "message"]) == 20
    assert not [e for e in seen if "slow down" in e.get("text", "")]


async def test_the_core_slows_every_platform_down(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> None:
    settings = test_settings(database_url, livebuy_rate_per_buyer="3/10s")
    bus = bootstrap(settings, engine, clock=clock, notifier=notifier)
    await bus.handle(c.AddSeller("discord:42"))
    outcomes = []
    for i in range(8):
        message = c.ChatMessage(f"tg:{i}", "telegram:-100", "telegram:7", "/orders", "Tom")
        outcomes.append(await bus.handle(message))
    assert not any(isinstance(o, chat.Throttled) for o in outcomes[:3])
    assert outcomes[3] == chat.Throttled(tell=True)
    assert outcomes[4:] == [chat.Throttled(tell=False)] * 4
    # The same person in another chat, and another person in this one, have their own rate.
    other_chat = c.ChatMessage("tg:x", "telegram:-200", "telegram:7", "/orders", "Tom")
    assert not isinstance(await bus.handle(other_chat), chat.Throttled)
    other_person = c.ChatMessage("tg:y", "telegram:-100", "telegram:8", "/orders", "Ann")
    assert not isinstance(await bus.handle(other_person), chat.Throttled)
    for i in range(8):  # a seller on Discord: never
        message = c.ChatMessage(f"dc:{i}", "discord:9", "discord:42", "/stats", "Sam")
        assert not isinstance(await bus.handle(message), chat.Throttled)
    assert await bus.handle(c.CountThrottled()) == {"telegram": 5}


async def test_one_address_floods_the_web_chat_and_gets_429(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    settings = test_settings(
        database_url, livebuy_rate_per_ip="10/10s", livebuy_trusted_proxies="127.0.0.1"
    )
    app = create_app(settings, engine=engine, clock=clock, sweep_every=3600)
    async with TestServer(app) as server, ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        base = base_of(server)
        eve = {"X-Forwarded-For": "198.51.100.7"}  # as the trusted proxy names her
        page = await http.get(f"{base}/chat/demo", headers=eve)  # a new identity: one request
        assert page.status == 200
        statuses = []
        for i in range(12):
            posted = await http.post(
                f"{base}/chat/demo/messages", data={"name": "Eve", "text": f"hi {i}"}, headers=eve
            )
            statuses.append(posted.status)
        assert statuses[:9] == [200] * 9 and statuses[9:] == [429] * 3
        assert 1 <= int(posted.headers["Retry-After"]) <= 10
        # Minting identities from her address counts too.
        async with ClientSession() as fresh:
            assert (await fresh.get(f"{base}/chat/demo", headers=eve)).status == 429
        # Another client address behind the proxy has its own rate, and so has this machine
        # itself (local mode: every viewer is on loopback).
        other = {"X-Forwarded-For": "203.0.113.9"}
        hello = {"name": "Eve", "text": "hi"}
        assert (
            await http.post(f"{base}/chat/demo/messages", data=hello, headers=other)
        ).status == 200
        for _ in range(12):
            assert (await http.post(f"{base}/chat/demo/messages", data=hello)).status == 200
