"""A show in the web chat over HTTP: the announcement as a bot line, the show's card redrawn
in place on /next, a giveaway entered by its Enter button and by #enter and drawn by the
sweeper (the result line with the seed and the public record), a poll voted on by buttons with
live counts; entries and votes confirmed in the voter's private lane only."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.shows import LotMode, LotSpec
from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.fakes import FakeClock
from tests.integration.helpers import add_product
from tests.live_events import enter, read_events
from webhooks.app import create_app
from webhooks.keys import BUS

ROOM = "live"


async def seen(events: list[dict[str, Any]], kind: str, wanted: str = "") -> list[dict[str, Any]]:
    """The events of one kind so far, once one of them mentions `wanted` (events are async)."""
    for _ in range(200):
        found = [e for e in events if e.get("type") == kind]
        if any(wanted in json.dumps(e, ensure_ascii=False) for e in found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {kind} event with {wanted!r}: {events}")


@dataclass
class Room:
    base: str
    bus: MessageBus
    people: dict[str, ClientSession]
    events: dict[str, list[dict[str, Any]]]

    identities: dict[str, str]

    def identity(self, name: str) -> str:
        return self.identities[name]

    async def say(self, name: str, text: str) -> None:
        form = {"name": name, "text": text}
        response = await self.people[name].post(f"{self.base}/chat/{ROOM}/messages", data=form)
        assert response.status == 200, await response.text()

    async def press(self, name: str, action: str) -> int:
        url = f"{self.base}/chat/{ROOM}/actions"
        response = await self.people[name].post(url, data={"action": action, "name": name})
        return response.status


@pytest.fixture
async def room(database_url: str, engine: AsyncEngine, clock: FakeClock) -> AsyncIterator[Room]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base)
    app = create_app(settings, engine=engine, clock=clock, sweep_every=3600)
    async with contextlib.AsyncExitStack() as stack:
        server = await stack.enter_async_context(TestServer(app, host="127.0.0.1", port=port))
        people: dict[str, ClientSession] = {}
        events: dict[str, list[dict[str, Any]]] = {}
        readers, identities = [], {}
        for name in ("sam", "anna", "ben"):
            http = ClientSession(cookie_jar=CookieJar(unsafe=True))
            people[name] = await stack.enter_async_context(http)
            identities[name] = await enter(http, base, ROOM)
            stream = await http.get(f"{base}/chat/{ROOM}/events")
            events[name] = []
            readers.append(asyncio.create_task(read_events(stream, events[name])))
        shop = Room(base, server.app[BUS], people, events, identities)
        await shop.bus.handle(c.AddSeller(shop.identity("sam")))
        try:
            yield shop
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)


async def test_a_show_announced_and_its_card_redrawn_on_next(room: Room, clock: FakeClock) -> None:
    await add_product(room.bus, "CARD", stock=5)
    await add_product(room.bus, "PIN", stock=5)
    lots = (
        LotSpec("CARD", LotMode.FIXED, Decimal(4), quantity=2),
        LotSpec("PIN", LotMode.GIVEAWAY, duration=timedelta(seconds=60)),
    )
    starts = clock.now() + timedelta(minutes=30)
    await room.bus.handle(
        c.CreateShow("Sunday cards", starts, (f"web:{ROOM}", "telegram:-1001"), lots=lots)
    )
    lines = await seen(room.events["anna"], "bot", "Sunday cards starts")
    assert [e["text"] for e in lines] == [
        "📅 Sunday cards starts 2026-11-24 20:30 UTC here, 2 lots. See you there!"
    ]

    await room.say("sam", "/next")
    first = await seen(room.events["anna"], "show", "CARD product")
    assert first[-1]["status"] == "live" and first[-1]["position"] == 1
    assert first[-1]["next"] == "PIN product, giveaway" and first[-1]["sold"] == 0

    clock.advance(seconds=10)
    await room.say("sam", "/next")
    cards = await seen(room.events["anna"], "show", '"position": 2')
    assert {card["key"] for card in cards} == {cards[0]["key"]}  # one card, redrawn
    assert cards[-1]["current"] == "PIN product, giveaway"
    assert cards[-1]["next"] == "nothing more"
    # The board is a card, never a bot line per /next.
    assert not [e for e in room.events["anna"] if e.get("type") == "bot" and "🔴" in e["text"]]
    # The giveaway lot started in the room with its card and Enter button.
    (giveaway,) = {g["key"]: g for g in await seen(room.events["ben"], "giveaway")}.values()
    assert giveaway["actions"] == [{"label": "Enter", "action": f"enter:{giveaway['id']}"}]


async def test_giveaway_by_button_and_by_typing_drawn_with_the_seed(
    room: Room, clock: FakeClock
) -> None:
    await add_product(room.bus, "PIN", stock=3)
    await room.say("sam", "/giveaway PIN for 60s")
    started = await seen(room.events["anna"], "giveaway", "PIN product")
    giveaway_id = started[-1]["id"]
    commitment = started[-1]["commitment"]
    assert any(commitment in e["text"] for e in await seen(room.events["anna"], "bot", "🎁"))

    assert await room.press("anna", f"enter:{giveaway_id}") == 200
    assert await room.press("anna", "enter:abc") == 400
    await room.say("ben", "#enter")
    counted = await seen(room.events["sam"], "giveaway", '"entries": 2')
    assert counted[-1]["status"] == "live"
    mine = await seen(room.events["anna"], "private", "entry 1")
    assert mine[-1]["text"] == "You're in: entry 1 for PIN product."
    assert not [e for e in room.events["ben"] if "entry 1" in e.get("text", "")]
    await seen(room.events["ben"], "private", "entry 2")
    assert await room.press("anna", f"enter:{giveaway_id}") == 200
    await seen(room.events["anna"], "private", "You're in already (entry 1)")

    clock.advance(seconds=61)
    await room.bus.handle(c.ExpireHolds())  # the sweeper's pass draws it
    drawn = await seen(room.events["sam"], "giveaway", '"status": "drawn"')
    seed = drawn[-1]["seed"]
    assert seed and drawn[-1]["actions"] == [] and drawn[-1]["winner"] in ("anna", "ben")
    lines = await seen(room.events["sam"], "bot", f"Seed {seed}")
    (result,) = [e for e in lines if seed in e["text"]]
    assert result["link"] == f"/giveaways/{giveaway_id}"
    assert f"goes to {drawn[-1]['winner']}" in result["text"]
    winner = drawn[-1]["winner"]
    await seen(room.events[winner], "private", "You won the giveaway")
    loser = "ben" if winner == "anna" else "anna"
    assert not [e for e in room.events[loser] if "You won" in e.get("text", "")]
    record = await room.people["sam"].get(f"{room.base}/giveaways/{giveaway_id}")
    assert record.status == 200 and seed in await record.text()


async def test_a_poll_voted_by_buttons_with_live_counts(room: Room) -> None:
    await room.say("sam", '/poll "Cards or sneakers next?" cards sneakers')
    opened = await seen(room.events["anna"], "poll", "Cards or sneakers next?")
    poll = opened[-1]
    assert [(o["button"], o["action"]) for o in poll["options"]] == [
        ("1 · cards", f"vote:{poll['id']}:1"),
        ("2 · sneakers", f"vote:{poll['id']}:2"),
    ]
    assert await room.press("anna", f"vote:{poll['id']}:2") == 200
    assert await room.press("ben", f"vote:{poll['id']}:1") == 200
    assert await room.press("ben", f"vote:{poll['id']}:2") == 200  # the first vote counts
    counts = await seen(room.events["sam"], "poll", '"votes": 2, "options"')
    assert [o["votes"] for o in counts[-1]["options"]] == [1, 1]
    assert len({p["key"] for p in counts}) == 1
    await seen(room.events["anna"], "private", "Your vote for sneakers counts.")
    await seen(room.events["ben"], "private", "You voted already (cards).")
    assert not [e for e in room.events["sam"] if e.get("type") == "private"]

    await room.say("sam", "/poll end")
    closed = await seen(room.events["ben"], "poll", '"status": "closed"')
    assert all(not o["action"] for o in closed[-1]["options"])
    lines = await seen(room.events["ben"], "bot", "Poll closed")
    assert sum("Poll closed" in e["text"] for e in lines) == 1
    assert await room.press("anna", f"vote:{poll['id']}:1") == 200
    await seen(room.events["anna"], "private", "No poll is running here")
