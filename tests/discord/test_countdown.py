"""A timed drop's board on Discord (an embed) counts down on each edit ("ends in 6 min"), with
the time it ends; between two edits nothing is sent (no timer edits the board), and the ended
board says when it ended."""

import asyncio
import re

from commerce.domain.commands import ExpireHolds
from tests.discord.conftest import ShopFactory, until
from tests.discord.fake_discord import CHANNEL_ID, OWNER_ID
from tests.discord.test_drop import board, board_text, ephemeral_answer
from tests.fakes import ShiftedClock
from tests.integration.helpers import add_product


async def test_the_board_counts_down_on_each_edit(open_shop: ShopFactory) -> None:
    clock = ShiftedClock()
    async with open_shop(clock=clock) as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await ephemeral_answer(
            shop,
            await fake.slash(OWNER_ID, "drop", sku="TEE", quantity=3, price="25", duration="10m"),
        )
        await until(lambda: "3 of 3 left" in board_text(shop), what="the board")
        (drop,) = await shop.bus.deps.store.drops()
        assert drop.ends_at is not None
        at = drop.ends_at.strftime("%H:%M")
        assert board_text(shop).endswith(f"3 of 3 left at €25.00 · ends in 10 min ({at} UTC)")

        # Four minutes pass with nothing happening: the board is not touched (no timer).
        message = board(shop)
        assert message is not None
        edits = fake.calls_to("PATCH", f"/channels/{CHANNEL_ID}/messages")
        clock.advance(minutes=4)
        shop.wake()
        await asyncio.sleep(0.5)
        assert fake.calls_to("PATCH", f"/channels/{CHANNEL_ID}/messages") == edits

        # A purchase edits it, with the time left as of that edit.
        await ephemeral_answer(shop, await fake.slash(fake.add_member("anna"), "buy", sku="TEE"))
        await until(lambda: "2 of 3 left" in board_text(shop), what="the board's edit")
        assert re.search(rf"2 of 3 left at €25\.00 · ends in (6|5) min \({at} UTC\)$",
                         board_text(shop)), board_text(shop)  # fmt: skip
        assert len(fake.calls_to("PATCH", f"/channels/{CHANNEL_ID}/messages")) > len(edits)

        # The end passes; the sweeper ends it, and the board says when it ended.
        clock.advance(minutes=7)
        await shop.bus.handle(ExpireHolds())
        await until(lambda: "has ended" in board_text(shop), what="the final board")
        assert (
            board_text(shop) == f"TEE product: the drop has ended, 1 of 3 sold. · ended {at} UTC"
        )
