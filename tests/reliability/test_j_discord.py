"""J. Discord (catalogue cases 77-83): the whole app against the fake Discord (REST v10 and
the gateway), on SQLite and PostgreSQL. Most tests run the scenario of the test that first
proved the case, with the same fixtures."""

import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.discord.sender import DiscordSender
from commerce.adapters.outbox import SqlOutbox
from commerce.service_layer.outbox import Courier, Outgoing, Undeliverable
from tests.discord import conftest as discord
from tests.discord import test_buyers as buyers
from tests.discord import test_drop as drop
from tests.discord import test_inbox as inbox
from tests.discord import test_resilience as resilience
from tests.discord import test_text_and_dms as text_and_dms
from tests.discord.conftest import until
from tests.discord.fake_discord import CHANNEL_ID, OWNER_ID
from tests.discord.test_drop import ephemeral_answer
from tests.fakes import FakeClock
from tests.integration.helpers import add_product

pytestmark = pytest.mark.reliability

open_shop = discord.open_shop
ShopFactory = discord.ShopFactory


async def test_c077_an_interaction_is_deferred_at_once_and_decided_in_order(
    open_shop: ShopFactory,
) -> None:
    await inbox.test_a_buy_while_the_drop_is_acknowledged_is_decided_after_it(open_shop)


async def test_c077_an_interaction_left_by_a_stopped_worker_is_answered(
    open_shop: ShopFactory,
) -> None:
    await inbox.test_an_interaction_left_by_a_stopped_worker_is_answered_by_the_next(open_shop)


@pytest.mark.parametrize("status", [401, 404])
async def test_c078_an_expired_interaction_token_is_answered_by_dm(
    open_shop: ShopFactory, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Discord refuses a follow-up once the interaction's token is 15 minutes old (401
    Invalid Webhook Token, 404 Unknown Webhook): the answer goes by DM through the outbox,
    and the claim it reports stands."""
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=5)
        board = await fake.slash(OWNER_ID, "drop", sku="TEE", quantity=2, price="25.00")
        await ephemeral_answer(shop, board)
        anna = fake.add_member("anna")
        fake.fail_next("POST", "/webhooks/", status)
        with caplog.at_level(logging.WARNING):
            await fake.slash(anna, "buy", sku="TEE")
            dms = await until(lambda: fake.dms_to(anna), what="the answer by DM")
        assert "/pay/" in dms[0]["content"]
        orders = await shop.bus.deps.store.orders(None, None)
        assert [o.identity for o in orders] == [f"discord:{anna}"]
        assert any("token expired" in r.getMessage() for r in caplog.records)
        refused = [c for c in fake.calls if c.path.startswith("/webhooks/") and c.status >= 400]
        assert [c.status for c in refused] == [status]  # tried once, not again


async def test_c079_a_429_is_waited_out_and_nothing_is_lost_or_doubled(
    open_shop: ShopFactory,
) -> None:
    await resilience.test_a_429_is_waited_out_and_nothing_is_lost_or_doubled(open_shop)


@pytest.mark.parametrize("status", [401, 403])
async def test_c080_a_401_or_403_is_not_retried_and_is_counted(
    open_shop: ShopFactory,
    engine: AsyncEngine,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A send Discord refuses (a bad token, a missing permission) is tried once: the message
    is marked undeliverable at once, counted, and logged; the next message still goes out.
    Each refused message costs one request, far from Discord's 10,000 invalid requests in
    ten minutes."""
    async with open_shop() as shop:
        fake = shop.fake
        sender = DiscordSender(lambda: shop.service.bot)
        path = f"/channels/{CHANNEL_ID}/messages"
        fake.fail_next("POST", path, status)
        with pytest.raises(Undeliverable):
            await sender.send(Outgoing("discord", CHANNEL_ID, "refused"))
        assert [c.status for c in fake.calls_to("POST", path)] == [status]

        # Real time, as the shop's own courier reads it: a lease this courier takes must hold
        # for that one too (a clock days behind made every lease look run out: sent twice).
        clock, outbox = FakeClock(datetime.now(UTC)), SqlOutbox(engine)
        courier = Courier(outbox, sender, clock, per_second=10_000)
        await outbox.put(
            [Outgoing("discord", CHANNEL_ID, "first"), Outgoing("discord", CHANNEL_ID, "second")],
            clock.now(),
        )
        fake.fail_next("POST", path, status)
        before = (await outbox.counts("discord")).undeliverable
        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                await courier.deliver_due()
                clock.advance(seconds=5)
        counts = await outbox.counts("discord")
        assert (counts.undeliverable - before, counts.pending) == (1, 0)
        # Sent by this courier or the shop's own, which shares the outbox: once either way.
        posted = [m["content"] for m in fake.channel_messages()]
        assert posted.count("second") == 1 and "first" not in posted
        assert [c.status for c in fake.calls_to("POST", path)][1:] == [status, 200]
        assert any("cannot be reached" in r.getMessage() for r in caplog.records)
        # The operator is alerted: an error naming the token or the permission.
        alerts = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert alerts and all(f"({status}" in a for a in alerts)


async def test_c081_an_interaction_delivered_twice_claims_once(open_shop: ShopFactory) -> None:
    await resilience.test_a_reconnect_in_the_middle_of_a_drop_loses_no_buyer(open_shop)


async def test_c082_the_app_command_path_buy_by_button_and_slash(open_shop: ShopFactory) -> None:
    await drop.test_drop_buy_by_button_and_slash_pay_and_end(open_shop)


async def test_c082_the_typed_path_buy_as_text(open_shop: ShopFactory) -> None:
    await text_and_dms.test_buy_typed_as_text_replies_in_the_channel_and_sends_the_link_by_dm(
        open_shop
    )


async def test_c083_closed_dms_fall_back_to_a_mention_or_are_recorded(
    open_shop: ShopFactory,
) -> None:
    await buyers.test_the_sender_turns_discord_errors_into_the_couriers(open_shop)
