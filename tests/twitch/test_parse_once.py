"""A Twitch chat message is read once by the core per delivery: the inbox's look (may a claim
share the chat's turn?), the bus's (is it a bid?) and the chat's steps share one reading."""

import asyncio
from collections import Counter

import pytest

from tests.integration.helpers import add_product, count_readings
from tests.twitch.conftest import ShopFactory, until


async def test_each_message_is_read_once(
    open_shop: ShopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        readings = count_readings(monkeypatch)
        said = Counter[str]()

        async def say(viewer: object, *texts: str) -> None:
            for text in texts:
                await fake.say(viewer, text)
            said.update(texts)

        await say(fake.broadcaster, "/drop TEE 3 25")
        await until(lambda: any("#buy TEE" in line for line in fake.lines()), what="the drop")
        viewers = [fake.viewer(f"reader{n}") for n in range(3)]
        await say(viewers[0], "#buy TEE", "what a colour", "#bid 30")
        await say(viewers[1], "#buy TEE", "/queue")  # the same text again: read again, once
        await say(viewers[2], "#buy 2 please", "hello all")
        await until(lambda: all(fake.lines_for(v) for v in viewers), what="every buyer answered")
        await until(lambda: Counter(readings) >= said, what="every message read")
        await asyncio.sleep(0.3)  # a second reading would come now
        assert Counter(readings) == said
