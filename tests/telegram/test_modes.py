"""Who may sell, privacy mode, webhook mode and redelivered updates."""

import asyncio
import json
import logging

import pytest

from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, WEBHOOK_SECRET, ShopFactory, until
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser

SELLER = FakeUser(1, "Sam", "sam")
MALLORY = FakeUser(66, "Mallory", "mallory")
ANNA = FakeUser(11, "Anna", "anna")


async def test_only_chat_admins_and_sellers_start_drops(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory(livebuy_sellers="telegram:5")
    await add_product(shop.bus)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(GROUP, MALLORY, "/drop TEE 3 25"))
    await shop.processed(api.message(GROUP, MALLORY, "/drop TEE 3 1"))
    await shop.settle()
    assert api.texts_to(GROUP) == ["@mallory: only sellers can do that."] * 2
    assert len(api.of("getChatMember")) == 1  # the answer is cached for a while
    assert await shop.bus.deps.store.drops() == []
    # Mallory's refund is refused too (chat admins may not refund; only sellers).
    api.admins[GROUP].add(MALLORY.id)
    await shop.processed(api.message(GROUP, MALLORY, "/refund ABCDEFGH"))
    await shop.settle()
    assert api.texts_to(GROUP)[-1] == "@mallory: only sellers can do that."
    # A seller from LIVEBUY_SELLERS needs no admin rights in the chat.
    owner = FakeUser(5, "Olga", "olga")
    await shop.processed(api.message(GROUP, owner, "/drop TEE 2 25"))
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None and board.text.startswith("TEE product · €25.00\n2 of 2 left")


async def test_privacy_mode_warns_and_tells_the_seller(
    shop_factory: ShopFactory, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.can_read_all_group_messages = False
    with caplog.at_level(logging.WARNING, logger="bots.telegram.adapter"):
        shop = await shop_factory()
    assert any("/setprivacy" in r.getMessage() for r in caplog.records)
    await add_product(shop.bus)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(GROUP, SELLER, "/drop@livebuy_bot TEE 3 25"))
    await shop.settle()
    texts = api.texts_to(GROUP)
    assert texts[0].startswith("TEE product · €25.00")  # the board
    assert texts[1].startswith("Privacy mode is on")
    assert "/buy@livebuy_bot" in texts[1] and "/setprivacy" in texts[1]


async def test_commands_for_another_bot_are_ignored(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await add_product(shop.bus)
    await shop.processed(api.message(GROUP, ANNA, "/buy@other_bot"))
    await shop.settle()
    assert api.texts_to(GROUP) == []


async def test_webhook_mode(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    shop = await shop_factory(
        public_base_url="https://shop.example", telegram_webhook_secret=WEBHOOK_SECRET
    )
    assert api.webhook is not None
    assert api.webhook["url"] == "https://shop.example/webhooks/telegram"
    assert api.webhook["secret_token"] == WEBHOOK_SECRET
    assert api.of("getUpdates") == []  # no long polling in webhook mode
    update = api.message(ANNA.id, ANNA, "/start")
    body = json.dumps(update)

    async def post(headers: dict[str, str]) -> int:
        headers = {"Content-Type": "application/json", **headers}
        response = await shop.client.post("/webhooks/telegram", data=body, headers=headers)
        return response.status

    assert await post({}) == 403
    assert await post({"X-Telegram-Bot-Api-Secret-Token": "wrong"}) == 403
    adapter = shop.runtime.adapter
    assert adapter is not None and adapter.finished == 0  # nothing processed
    good = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    assert await post(good) == 200
    await until(lambda: adapter.finished == 1, what="the update")
    # Telegram delivers it again (it did not see our answer): processed once.
    assert await post(good) == 200
    await until(lambda: adapter.finished == 2, what="the redelivery")
    await shop.settle()
    (help_text,) = api.texts_to(ANNA.id)
    assert help_text.startswith("Buy with #buy")
    bad = await shop.client.post(
        "/webhooks/telegram", data=b"not json", headers={**good, "Content-Type": "text/plain"}
    )
    assert bad.status == 400


async def test_duplicate_updates_are_processed_once(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await add_product(shop.bus)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25"))
    claim = api.message(GROUP, ANNA, "#buy")
    await shop.processed(claim)
    await shop.processed(claim)  # the same update id again (a redelivery after a restart)
    await shop.settle()
    orders = await shop.bus.deps.store.orders(None, None)
    assert len(orders) == 1
    board = api.board(GROUP)
    assert board is not None and "2 of 3 left" in board.text
    # Anna never started the bot: one public reply with the deep link, not two.
    replies = [m for m in api.messages_in(GROUP) if m is not board]
    assert len(replies) == 1 and replies[0].buttons[0]["url"].endswith(orders[0].ref)


async def test_one_worker_polls_and_another_takes_over(shop_factory: ShopFactory) -> None:
    """Telegram serves one getUpdates poller per bot: with two workers only the lease holder
    polls; when it stops, the other one starts."""
    first = await shop_factory()
    api = first.api
    await until(lambda: bool(api.of("getUpdates")), what="the first worker polling")
    second = await shop_factory()
    await asyncio.sleep(0.5)
    assert first.runtime.polling and not second.runtime.polling
    await first.client.close()  # a graceful stop hands the lease over at once
    await until(lambda: second.runtime.polling, within=10, what="the second worker polling")
