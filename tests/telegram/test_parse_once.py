"""A Telegram message is read once by the core per delivery: the inbox's look (may a group's
claim share its chat's turn?), the bus's (is it a bid?) and the chat's steps share one
reading; the adapter hands over text, who and where."""

from collections import Counter

import pytest

from tests.integration.helpers import add_product, count_readings
from tests.telegram.conftest import GROUP, ShopFactory
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser

SELLER = FakeUser(1, "Sam", "sam")
BUYERS = [FakeUser(20 + n, f"B{n}", f"b{n}") for n in range(3)]


async def test_each_message_is_read_once(
    shop_factory: ShopFactory, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await shop_factory()
    await add_product(shop.bus)
    api.admins[GROUP] = {SELLER.id}
    readings = count_readings(monkeypatch)
    said = Counter[str]()

    async def say(chat: int, user: FakeUser, *texts: str) -> None:
        await shop.processed(*(api.message(chat, user, text) for text in texts))
        said.update(texts)

    await say(GROUP, SELLER, "/drop TEE 2 25")
    await say(GROUP, BUYERS[0], "#buy", "nice colour", "#bid 30")
    await say(GROUP, BUYERS[1], "#buy")  # the same text again: read again, once
    await say(BUYERS[2].id, BUYERS[2], "/orders", "hello?")  # a private chat
    await say(GROUP, BUYERS[2], "#buy 2 please", "/queue")
    await shop.settle()
    assert Counter(readings) == said
