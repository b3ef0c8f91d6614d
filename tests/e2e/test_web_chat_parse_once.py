"""A web chat line is read once by the core per delivery: the page's question (is it
personal, kept out of the room?), the bus's (is it a bid?) and the chat's steps share one
reading. On the old code each line was read three times."""

from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import test_settings
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, count_readings, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(test_settings(database_url), engine=engine, clock=clock, sweep_every=3600)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_each_line_is_read_once(
    client: TestClient,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bus = client.server.app[BUS]
    await add_product(bus)
    await start_drop(bus)
    assert (await client.get("/chat/demo")).status == 200
    readings = count_readings(monkeypatch)
    lines = ["#buy", "#buy", "hello room", "/card", "#bid 30", "/orders", "#buy 2 please"]
    for text in lines:
        posted = await client.post("/chat/demo/messages", data={"name": "ann", "text": text})
        assert posted.status == 200, await posted.text()
    assert Counter(readings) == Counter(lines)
