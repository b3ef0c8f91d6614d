"""A YouTube live chat message is read once by the core per delivery: the inbox's look (may a
claim share the chat's turn?), the bus's (is it a bid?) and the chat's steps share one
reading. On the old code each message was read three times."""

import asyncio
from collections import Counter

import pytest

from tests.integration.helpers import add_product, count_readings
from tests.youtube.conftest import ShopFactory, until
from tests.youtube.fake_youtube import Viewer


async def test_each_message_is_read_once(
    open_shop: ShopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        readings = count_readings(monkeypatch)
        said = Counter[str]()

        def say(viewer: Viewer, *texts: str) -> None:
            for text in texts:
                fake.say(viewer, text)
            said.update(texts)

        say(fake.owner, "/drop TEE 3 25")
        await until(lambda: any("Type #buy TEE" in t for t in fake.lines()), what="the drop")
        viewers = [fake.viewer(f"reader{n}") for n in range(3)]
        say(viewers[0], "#buy TEE", "what a colour", "#bid 30")
        say(viewers[1], "#buy TEE", "/queue")  # the same text again: read again, once
        say(viewers[2], "#buy 2 please", "hello all")
        await until(lambda: all(fake.lines_for(v) for v in viewers), what="every buyer answered")
        await until(lambda: Counter(readings) >= said, what="every message read")
        await asyncio.sleep(0.3)  # a second reading would come now
        assert Counter(readings) == said
