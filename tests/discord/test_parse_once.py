"""A Discord message typed as text is read once by the core per delivery: the inbox's look
(may a claim share the channel's turn?), the bus's (is it a bid?) and the chat's steps share
one reading. On the old code each message was read three times."""

import asyncio
from collections import Counter

import pytest

from tests.discord.conftest import ShopFactory, until
from tests.discord.fake_discord import CHANNEL_ID
from tests.integration.helpers import add_product, count_readings, start_drop


async def test_each_message_is_read_once(
    open_shop: ShopFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with open_shop(discord_message_content=True) as shop:
        fake = shop.fake
        await add_product(shop.bus)
        await start_drop(shop.bus, quantity=3, channels=(f"discord:{CHANNEL_ID}",))
        readings = count_readings(monkeypatch)
        said = Counter[str]()
        members = [fake.add_member(f"reader{n}") for n in range(3)]
        for member, texts in zip(
            members,
            (["#buy TEE", "what a colour", "#bid 30"], ["#buy TEE", "/queue"], ["#buy 2 pls"]),
            strict=True,
        ):
            for text in texts:
                await fake.post_message(member, text)
            said.update(texts)
        await until(lambda: Counter(readings) >= said, what="every message read")
        await until(lambda: all(fake.dms_to(m) for m in members[:2]), what="the buyers' links")
        await asyncio.sleep(0.3)  # a second reading would come now
        assert Counter(readings) == said
