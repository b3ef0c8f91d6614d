"""Discord interactions through the chat inbox: stored before they are acknowledged, decided
in their channel's order, and answered by another worker when theirs stopped first."""

import asyncio

from sqlalchemy import text

from commerce.adapters.db import connection
from tests.discord.conftest import ShopFactory, until
from tests.discord.fake_discord import OWNER_ID, FakeDiscord
from tests.discord.test_drop import ephemeral_answer
from tests.integration.helpers import add_product
from webhooks.keys import ENGINE


async def test_a_buy_while_the_drop_is_acknowledged_is_decided_after_it(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=5)
        anna = fake.add_member("anna")
        slow = fake.hold("drop")  # the /drop's acknowledgement takes its time
        drop = await fake.slash(OWNER_ID, "drop", sku="TEE", quantity=2, price="25.00")
        await until(lambda: fake.waiting == 1, what="the /drop being acknowledged")
        buy = await fake.slash(anna, "buy", sku="TEE")
        await until(lambda: len(fake.responses(buy)) == 1, what="the /buy acknowledged")
        await asyncio.sleep(0.3)  # time enough to decide the /buy, were it not waiting
        assert len(fake.responses(buy)) == 1  # acknowledged, not decided
        slow.set()
        assert "Type #buy TEE" in await ephemeral_answer(shop, drop)
        assert "/pay/" in await ephemeral_answer(shop, buy)  # not "No drop is live"


async def test_an_interaction_left_by_a_stopped_worker_is_answered_by_the_next(
    open_shop: ShopFactory,
) -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        async with open_shop(fake) as first:
            await add_product(first.bus, stock=5)
            drop = await fake.slash(OWNER_ID, "drop", sku="TEE", quantity=2, price="25.00")
            await ephemeral_answer(first, drop)
            anna = fake.add_member("anna")
            fake.hold("buy")  # acknowledged only after the worker is gone
            buy = await fake.slash(anna, "buy", sku="TEE")
            await until(lambda: fake.waiting == 1, what="the /buy stored")
            engine = first.client.server.app[ENGINE]

            async def drop_done_buy_not() -> bool:
                async with connection(engine) as conn:
                    rows = await conn.execute(text("SELECT done FROM chat_inbox"))
                    return sorted(r.done for r in rows) == [False, True]

            # The /drop is marked done just after its answer went out (the same turn).
            await until(drop_done_buy_not, what="the /drop done and the /buy not")
        # Its worker stopped before deciding the /buy; Discord got its acknowledgement.
        fake.held["buy"].set()
        async with open_shop(fake) as second:
            answer = await ephemeral_answer(second, buy)
            assert "/pay/" in answer
            orders = await second.bus.deps.store.orders(None, None)
            assert [o.identity for o in orders] == [f"discord:{anna}"]
    finally:
        await fake.stop()
