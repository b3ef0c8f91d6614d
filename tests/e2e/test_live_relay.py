"""Two workers on one PostgreSQL: a viewer whose stream one worker holds sees what the other
worker did (chat lines, the board, their own private reply), through LISTEN/NOTIFY."""

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import ClientResponse, ClientSession, CookieJar
from aiohttp.test_utils import TestServer

from commerce.adapters.db import create_engine
from commerce.adapters.relay import PgRelay
from tests.conftest import test_settings
from tests.fakes import FakePaymentGateway
from tests.integration.helpers import add_product, start_drop
from tests.live_events import enter
from webhooks.app import create_app
from webhooks.keys import BUS


async def events_from_message(stream: ClientResponse, count: int) -> list[dict[str, Any]]:
    """The first chat line and the `count - 1` events after it (what came before, the drop's
    announcement and card, depends on when the viewer joined)."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = (await asyncio.wait_for(stream.content.readline(), 10)).decode()
        if line.startswith("data: "):
            event = json.loads(line.removeprefix("data: "))
            if events or event["type"] == "message":
                events.append(event)
    return events


async def test_a_viewer_on_one_worker_sees_what_another_worker_did(pg_url: str) -> None:
    pg_database = pg_url
    engines = [create_engine(pg_database) for _ in range(2)]
    apps = [
        create_app(test_settings(pg_database), engine=e, payments=FakePaymentGateway(),
                   webhook_secret="whsec_x", sweep_every=3600)
        for e in engines
    ]  # fmt: skip
    try:
        async with (
            TestServer(apps[0]) as one,
            TestServer(apps[1]) as two,
            ClientSession(cookie_jar=CookieJar(unsafe=True)) as http,
        ):
            bus = two.app[BUS]
            await add_product(bus, stock=3)
            await start_drop(bus, quantity=1, channels=("web:show",))
            others = ClientSession(cookie_jar=CookieJar(unsafe=True))
            await enter(http, str(one.make_url("")).rstrip("/"), "show")
            await enter(others, str(one.make_url("")).rstrip("/"), "show")
            async with others, http.get(one.make_url("/chat/show/events")) as anna_stream, \
                    others.get(one.make_url("/chat/show/events")) as ben_stream:  # fmt: skip
                await asyncio.sleep(0.5)  # both workers listening
                posted = await http.post(
                    two.make_url("/chat/show/messages"), data={"name": "anna", "text": "#buy"}
                )
                assert posted.status == 200
                anna = await events_from_message(anna_stream, 4)
                ben = await events_from_message(ben_stream, 3)
    finally:
        for e in engines:
            await e.dispose()
    kinds = [e["type"] for e in anna]
    assert kinds == ["message", "bot", "private", "board"]
    assert anna[0] == {"type": "message", "name": "anna", "text": "#buy"}
    assert "/pay/" in anna[2]["text"]  # her link, from the other worker
    assert anna[3]["remaining"] == 0
    assert [e["type"] for e in ben] == ["message", "bot", "board"]  # never her link


async def test_a_burst_of_events_is_relayed_in_order_identical_lines_included(
    pg_url: str,
) -> None:
    """Events published together go in one statement; PostgreSQL delivers identical payloads
    of one transaction once, so each carries its number: a line typed twice arrives twice."""
    heard: list[dict[str, Any]] = []
    all_heard = asyncio.Event()

    def hear(message: dict[str, Any]) -> None:
        heard.append(message)
        if len(heard) == len(burst):
            all_heard.set()

    said = {"room": "demo", "event": {"type": "message", "name": "ann", "text": "#buy"}}
    burst = [said, said, *({"room": "demo", "event": {"n": i}} for i in range(200)), said]
    relay = PgRelay(pg_url, hear)
    running = asyncio.create_task(relay.run())
    try:
        async with asyncio.timeout(10):
            await relay.listening.wait()
        for message in burst:
            relay.publish(message)
        async with asyncio.timeout(10):
            await all_heard.wait()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    assert [{k: v for k, v in m.items() if k != "n"} for m in heard] == burst
