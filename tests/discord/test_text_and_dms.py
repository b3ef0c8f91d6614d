"""`#buy` typed as text (with the message-content intent), DMs and their fallback, the intent
missing in the developer portal, and sellers."""

import logging

import pytest

from tests.discord.conftest import ShopFactory, until
from tests.discord.fake_discord import (
    CHANNEL_ID,
    MESSAGE_CONTENT,
    OWNER_ID,
    SELLER_ROLE_ID,
    FakeDiscord,
)
from tests.discord.test_drop import LINK, board_text, ephemeral_answer
from tests.integration.helpers import add_product, start_drop


async def test_buy_typed_as_text_replies_in_the_channel_and_sends_the_link_by_dm(
    open_shop: ShopFactory,
) -> None:
    async with open_shop(discord_message_content=True) as shop:
        fake = shop.fake
        assert fake.identified[0]["intents"] & MESSAGE_CONTENT
        await add_product(shop.bus)
        await start_drop(shop.bus, quantity=3, channels=(f"discord:{CHANNEL_ID}",))
        anna, bo = fake.add_member("anna"), fake.add_member("bo")
        fake.closed_dms.add(bo)

        said = await fake.post_message(anna, "omg want it #buy TEE")
        await fake.post_message(anna, "just chatting")  # ordinary chat: no answer
        dm = await until(lambda: fake.dms_to(anna), what="anna's DM")
        assert LINK.search(dm[0]["content"]), dm[0]["content"]
        replies = await until(
            lambda: [m for m in fake.channel_messages() if "message_reference" in m],
            what="the public reply",
        )
        assert str(replies[0]["message_reference"]["message_id"]) == said
        assert f"<@{anna}>" in replies[0]["content"] and "checkout" not in replies[0]["content"]

        # Bo's DMs are closed: the bot mentions him in the channel, without the link.
        await fake.post_message(bo, "#buy")
        fallback = await until(
            lambda: [m for m in fake.channel_messages() if "direct messages" in m["content"]],
            what="the closed-DMs fallback",
        )
        assert fallback[0]["content"].startswith(f"<@{bo}>")
        assert "checkout" not in fallback[0]["content"]
        assert not fake.dms_to(bo)
        closed = [c for c in fake.calls if c.status == 403]
        assert closed and closed[0].path.startswith("/channels/")
        await until(lambda: "1 of 3 left" in board_text(shop), what="the board")

        # A redelivered message (the same id) claims nothing more.
        await fake.dispatch("MESSAGE_CREATE", fake.messages[said])
        await until(lambda: "1 of 3 left" in board_text(shop))
        orders = await shop.bus.deps.store.orders(None, None)
        assert sorted(o.identity for o in orders) == sorted([f"discord:{anna}", f"discord:{bo}"])


async def test_without_the_intent_in_the_portal_the_bot_carries_on_with_slash_commands(
    open_shop: ShopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bots.discord")
    fake = FakeDiscord(message_content_allowed=False)
    async with open_shop(fake, discord_message_content=True) as shop:
        first, second = fake.identified
        assert first["intents"] & MESSAGE_CONTENT and not second["intents"] & MESSAGE_CONTENT
        assert "message content intent is not enabled" in caplog.text
        await add_product(shop.bus)
        await start_drop(shop.bus, quantity=3, channels=(f"discord:{CHANNEL_ID}",))
        answer = await ephemeral_answer(shop, await fake.slash(fake.add_member("anna"), "buy"))
        assert LINK.search(answer)


async def test_without_the_intent_configured_the_bot_says_so_at_start(
    open_shop: ShopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bots.discord")
    async with open_shop():
        assert "#buy typed as text is not read" in caplog.text


async def test_only_sellers_start_drops(open_shop: ShopFactory) -> None:
    async with open_shop(discord_seller_role="seller") as shop:
        fake = shop.fake
        await add_product(shop.bus)
        nobody = fake.add_member("nobody")
        refused = await ephemeral_answer(
            shop, await fake.slash(nobody, "drop", sku="TEE", quantity=2, price="25.00")
        )
        assert "only sellers" in refused
        assert not await shop.bus.deps.store.drops()
        # A member with the seller role (DISCORD_SELLER_ROLE, any case) may.
        seller = fake.add_member("sam", roles=(SELLER_ROLE_ID,))
        started = await ephemeral_answer(
            shop, await fake.slash(seller, "drop", sku="TEE", quantity=2, price="25.00")
        )
        assert "Type #buy TEE" in started
        stats = await ephemeral_answer(shop, await fake.slash(OWNER_ID, "stats"))
        assert "TEE: 0/2 taken" in stats
        assert "only sellers" in await ephemeral_answer(shop, await fake.slash(nobody, "end"))
