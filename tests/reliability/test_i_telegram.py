"""I. Telegram (catalogue cases 68-76): the whole app against the fake Bot API server, the
outbox and the chat inbox on SQLite and PostgreSQL. Each test runs the scenario of the test
that first proved it, with the same fixtures."""

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.outbox import Outgoing
from tests.fakes import FakeClock
from tests.integration import test_chat_inbox as inbox
from tests.integration import test_outbox as outbox
from tests.telegram import conftest as telegram
from tests.telegram import test_chats as chats
from tests.telegram import test_inbox as telegram_inbox
from tests.telegram import test_modes as modes
from tests.telegram.conftest import GROUP
from tests.telegram.fake_bot_api import FakeBotApi, Fault
from webhooks.keys import ENGINE, OUTBOX

pytestmark = pytest.mark.reliability

api = telegram.api
shop_factory = telegram.shop_factory
ShopFactory = telegram.ShopFactory


async def test_c068_a_webhook_without_the_right_secret_token_is_refused_with_403(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    await modes.test_webhook_mode(shop_factory, api)


async def test_c069_an_update_delivered_twice_is_handled_once(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    await modes.test_duplicate_updates_are_processed_once(shop_factory, api)


async def test_c070_the_webhook_answers_once_the_update_is_stored(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    await telegram_inbox.test_a_webhook_update_is_stored_before_telegram_gets_its_answer(
        shop_factory, api
    )


async def test_c071_retry_after_postpones_the_message_and_loses_nothing(
    engine: AsyncEngine,
) -> None:
    await outbox.test_retry_after_postpones_the_chat_and_loses_nothing(engine)


async def test_c072_two_workers_keep_one_chats_pace(database_url: str) -> None:
    await outbox.test_two_workers_keep_one_chats_pace(database_url)


async def test_c072_a_429_holds_the_chat_back_in_every_worker(database_url: str) -> None:
    await outbox.test_a_429_holds_the_chat_back_in_every_worker(database_url)


NEW_GROUP = -1009988776655  # the supergroup the shop's group became


async def drop_channels(shop: telegram.Shop) -> list[str]:
    async with shop.client.server.app[ENGINE].connect() as conn:
        return list((await conn.execute(text("SELECT chat FROM drop_channel"))).scalars())


async def test_c073_a_group_upgraded_to_a_supergroup_takes_its_drop_along(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    """Telegram's service message (`migrate_to_chat_id`) moves the live drop, its board and
    waiting messages to the new id: a buyer there claims, and the board is posted there."""
    shop = await shop_factory()
    await chats.drop(shop, api, "/drop TEE 2 25")
    assert await drop_channels(shop) == [f"telegram:{GROUP}"]
    await shop.processed(api.migrate(GROUP, NEW_GROUP))
    assert await drop_channels(shop) == [f"telegram:{NEW_GROUP}"]
    await shop.processed(api.message(NEW_GROUP, chats.ANNA, "#buy"))
    await shop.settle()
    orders = await shop.bus.deps.store.orders(None, None)
    assert [(o.identity, o.chat) for o in orders] == [
        (f"telegram:{chats.ANNA.id}", f"telegram:{NEW_GROUP}")
    ]
    board = api.board(NEW_GROUP)
    assert board is not None and "1 of 2 left" in board.text


async def test_c073_a_send_refused_for_a_migrated_group_goes_to_the_new_id(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    """Without the service message, the 400 "group chat was upgraded to a supergroup chat"
    (parameters.migrate_to_chat_id) of sendMessage moves the chat: the message is sent again
    to the new id, and the drop follows."""
    shop = await shop_factory()
    await chats.drop(shop, api, "/drop TEE 2 25")
    api.migrated[GROUP] = NEW_GROUP
    outbox = shop.client.server.app[OUTBOX]
    await outbox.put(
        [Outgoing("telegram", str(GROUP), "Doors open in 5 minutes")], shop.clock.now()
    )
    await shop.settle()
    refused = [c for c in api.of("sendMessage") if int(c.params["chat_id"]) == GROUP]
    assert refused and refused[-1].params["text"] == "Doors open in 5 minutes"
    assert "Doors open in 5 minutes" in api.texts_to(NEW_GROUP)
    assert await drop_channels(shop) == [f"telegram:{NEW_GROUP}"]
    counts = await outbox.counts("telegram")
    assert (counts.pending, counts.undeliverable) == (0, 0)


async def test_c074_a_blocked_bot_marks_the_message_undeliverable_and_goes_on(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    await chats.test_a_blocked_private_chat_is_recorded_and_does_not_stall(shop_factory, api)


async def test_c075_only_one_worker_polls_and_another_takes_over(
    shop_factory: ShopFactory,
) -> None:
    await modes.test_one_worker_polls_and_another_takes_over(shop_factory)


async def test_c075_a_second_poller_elsewhere_is_reported_and_polling_resumes(
    shop_factory: ShopFactory, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    """Another deployment (no shared lease) polling the same bot: Telegram answers 409
    Conflict. It is logged as an error and counted; polling goes on with backoff and takes
    the updates once the other stops."""
    shop = await shop_factory()
    conflict = "Conflict: terminated by other getUpdates request; make sure that only one bot"
    api.faults.append(
        Fault(frozenset({"getUpdates"}), remaining=2, status=409, description=conflict)
    )
    with caplog.at_level(logging.WARNING):
        await shop.processed(api.message(chats.ANNA.id, chats.ANNA, "/help"))
        await shop.processed(api.message(chats.ANNA.id, chats.ANNA, "/help"))
    assert shop.runtime.conflicts == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2 and all("only one may poll" in e for e in errors)


async def test_c076_an_update_is_stored_once_whatever_is_redelivered(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    await inbox.test_an_update_is_stored_once(engine, clock)


async def test_c076_a_dead_workers_update_is_taken_again(
    engine: AsyncEngine, clock: FakeClock
) -> None:
    await inbox.test_a_dead_workers_update_is_taken_again_and_its_chat_waits(engine, clock)
