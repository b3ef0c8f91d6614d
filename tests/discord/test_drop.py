"""A drop on Discord from start to end: the seller's /drop, buyers by button and by /buy with
ephemeral checkout links, payment by signed Stripe webhook, the board edited to its end."""

import re
from typing import Any

from tests.discord.conftest import Shop, ShopFactory, until
from tests.discord.fake_discord import CHANNEL_ID, EPHEMERAL, OWNER_ID
from tests.integration.helpers import add_product, start_drop

LINK = re.compile(r"https?://\S+/pay/(\w+)\?t=\S+")  # a pay link: group 1 the order


def board(shop: Shop) -> dict[str, Any] | None:
    boards = [m for m in shop.fake.channel_messages() if m["embeds"]]
    assert len(boards) <= 1, "one board per drop and channel"
    return boards[0] if boards else None


def board_text(shop: Shop) -> str:
    message = board(shop)
    return str(message["embeds"][0]["description"]) if message else ""


async def ephemeral_answer(shop: Shop, token: str) -> str:
    """The interaction was deferred ephemerally, then answered by an ephemeral follow-up."""
    answers = await until(
        lambda: len(shop.fake.responses(token)) >= 2 and shop.fake.responses(token),
        what="the interaction's answer",
    )
    callback, followup = answers[:2]
    assert callback["type"] == 5  # deferred, "thinking"
    assert callback["data"]["flags"] & EPHEMERAL
    assert followup["flags"] & EPHEMERAL
    return str(followup["content"])


def buy_button(message: dict[str, Any]) -> str:
    (row,) = message["components"]
    (button,) = row["components"]
    assert button["label"] == "Buy"
    return str(button["custom_id"])


async def test_drop_buy_by_button_and_slash_pay_and_end(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        anna, bo = fake.add_member("anna"), fake.add_member("bo")

        answer = await ephemeral_answer(
            shop, await fake.slash(OWNER_ID, "drop", sku="TEE", quantity=2, price="25.00")
        )
        assert "Type #buy TEE" in answer
        await until(lambda: "2 of 2 left" in board_text(shop), what="the board")
        message = board(shop)
        assert message is not None and message["channel_id"] == CHANNEL_ID
        custom_id = buy_button(message)
        assert custom_id == "livebuy:buy:TEE"

        by_button = await ephemeral_answer(shop, await fake.click(anna, message["id"], custom_id))
        anna_link = LINK.search(by_button)
        assert anna_link is not None, by_button
        by_slash = await ephemeral_answer(shop, await fake.slash(bo, "buy", sku="TEE"))
        bo_link = LINK.search(by_slash)
        assert bo_link is not None and bo_link[1] != anna_link[1]
        # The links were only ever in ephemeral follow-ups, never in the channel.
        assert not any(
            "/pay/" in m["content"]
            for m in fake.channel_messages()
            if not m.get("interaction_token")
        )

        await until(lambda: "0 of 2 left" in board_text(shop), what="the board to sell out")
        sold_out = await ephemeral_answer(
            shop, await fake.click(fake.add_member("cy"), message["id"], custom_id)
        )
        assert "waitlist" in sold_out

        await shop.pay(anna_link[1])
        dm = await until(lambda: fake.dms_to(anna), what="anna's payment DM")
        assert "Payment received" in dm[0]["content"] and anna_link[1] in dm[0]["content"]

        ended = await ephemeral_answer(shop, await fake.slash(OWNER_ID, "end", sku="TEE"))
        assert "has ended" in ended
        await until(lambda: "has ended, 2 of 2 sold" in board_text(shop), what="the final board")
        final = board(shop)
        assert final is not None and final["components"] == []
        assert final["edits"] >= 2  # one message, edited in place


async def test_a_drop_started_from_the_dashboard_posts_its_board(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=3, channels=(f"discord:{CHANNEL_ID}",))
        await until(lambda: "3 of 3 left" in board_text(shop), what="the board")
        message = board(shop)
        assert message is not None and buy_button(message) == "livebuy:buy:TEE"
