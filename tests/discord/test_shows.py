"""Shows, giveaways and polls on Discord: the announcement, the show's board edited in place on
/next, a poll's board with vote buttons and live counts, a giveaway entered by button and by
typed #enter, drawn by the sweeper with the seed, the winner told by DM."""

import asyncio
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

from commerce.domain import commands as c
from commerce.domain.shows import LotMode, LotSpec
from tests.discord.conftest import Shop, ShopFactory, until
from tests.discord.fake_discord import CHANNEL_ID, OWNER_ID
from tests.discord.test_drop import ephemeral_answer
from tests.integration.helpers import add_product

HERE = f"discord:{CHANNEL_ID}"


def boards(shop: Shop, marker: str) -> list[dict[str, Any]]:
    """The channel's board messages (embeds) whose text has `marker`."""
    return [
        m
        for m in shop.fake.channel_messages()
        if m["embeds"] and marker in str(m["embeds"][0]["description"])
    ]


def text(message: dict[str, Any]) -> str:
    return str(message["embeds"][0]["description"])


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (b["label"], b["custom_id"]) for row in message["components"] for b in row["components"]
    ]


def said(shop: Shop, wanted: str) -> list[str]:
    """Plain messages (no embed, not an interaction's answer) in the channel with `wanted`."""
    return [
        str(m["content"])
        for m in shop.fake.channel_messages()
        if not m["embeds"] and not m.get("interaction_token") and wanted in m["content"]
    ]


async def test_a_show_announced_and_its_board_edited_on_next(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        await add_product(shop.bus, "CARD", stock=5)
        await add_product(shop.bus, "PIN", stock=5)
        lots = (
            LotSpec("CARD", LotMode.FIXED, Decimal(4), quantity=2),
            LotSpec("PIN", LotMode.FIXED, Decimal(3)),
        )
        starts = shop.bus.deps.clock.now() + timedelta(minutes=30)
        await shop.bus.handle(c.CreateShow("Sunday cards", starts, (HERE, "web:live"), lots=lots))
        shop.wake()
        await until(lambda: said(shop, "Sunday cards starts"), what="the announcement")

        answer = await ephemeral_answer(shop, await shop.fake.slash(OWNER_ID, "next"))
        assert "lot 1/2" in answer
        await until(lambda: boards(shop, "lot 1/2"), what="the show's board")
        (board,) = boards(shop, "Sunday cards")
        assert "Next: 1 × PIN product at €3.00" in text(board)

        # A /next within 3 s of the last is taken for a double press: wait like a seller.
        await asyncio.sleep(3.1)
        await ephemeral_answer(shop, await shop.fake.slash(OWNER_ID, "next"))
        await until(lambda: boards(shop, "lot 2/2"), what="the board edited")
        (edited,) = boards(shop, "Sunday cards")  # the same message, not a second one
        assert edited["id"] == board["id"] and edited["edits"] >= 1
        assert "Next: nothing more" in text(edited)
        assert not said(shop, "🔴")  # the board is never posted as a plain message


async def test_a_poll_by_buttons_with_live_counts(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        opened = await ephemeral_answer(
            shop,
            await fake.slash(
                OWNER_ID, "poll", question="Cards or sneakers?", options="cards sneakers"
            ),
        )
        assert "Cards or sneakers?" in opened
        (board,) = await until(lambda: boards(shop, "Cards or sneakers?"), what="the poll board")
        (one, two) = buttons(board)
        assert one[0] == "1 · cards" and one[1].startswith("livebuy:vote:")
        assert two[0] == "2 · sneakers" and two[1].endswith(":2")
        anna, bo = fake.add_member("anna"), fake.add_member("bo")
        voted = await ephemeral_answer(shop, await fake.click(anna, board["id"], two[1]))
        assert voted == "Your vote for sneakers counts."
        await ephemeral_answer(shop, await fake.click(bo, board["id"], one[1]))
        again = await ephemeral_answer(shop, await fake.click(bo, board["id"], two[1]))
        assert again == "You voted already (cards)."
        await until(lambda: boards(shop, "#1 cards: 1\n#2 sneakers: 1"), what="the live counts")
        (counted,) = boards(shop, "Cards or sneakers?")
        assert counted["id"] == board["id"]

        await ephemeral_answer(shop, await fake.slash(OWNER_ID, "endpoll"))
        (closed,) = await until(lambda: boards(shop, "Poll closed"), what="the closed poll")
        assert closed["id"] == board["id"] and not buttons(closed)


async def test_a_giveaway_by_button_and_typing_drawn_with_the_seed(
    open_shop: ShopFactory,
) -> None:
    async with open_shop(discord_message_content=True) as shop:
        fake = shop.fake
        await add_product(shop.bus, "PIN", stock=2)
        started = await ephemeral_answer(
            shop, await fake.slash(OWNER_ID, "giveaway", sku="PIN", duration="6s")
        )
        # Six seconds for the two entries: on a loaded machine two were not always enough
        # for bo's typed entry to arrive before the giveaway ended.
        ends = time.monotonic() + 6
        assert "Giveaway: PIN product" in started
        (board,) = await until(lambda: boards(shop, "Giveaway: PIN"), what="the giveaway board")
        ((label, custom_id),) = buttons(board)
        assert label == "Enter" and custom_id.startswith("livebuy:enter:")
        anna, bo = fake.add_member("anna"), fake.add_member("bo")
        entered = await ephemeral_answer(shop, await fake.click(anna, board["id"], custom_id))
        assert entered == "You're in: entry 1 for PIN product."
        again = await ephemeral_answer(shop, await fake.click(anna, board["id"], custom_id))
        assert again == "You're in already (entry 1)."
        await fake.post_message(bo, "me! #enter")
        dm = await until(lambda: fake.dms_to(bo), what="bo's entry, by DM")
        assert "entry 2" in dm[0]["content"]
        await until(lambda: boards(shop, "2 entered"), what="the entries on the board")
        assert boards(shop, "2 entered")[0]["id"] == board["id"]

        await asyncio.sleep(max(0.0, ends - time.monotonic()) + 0.1)
        (draw,) = await shop.bus.handle(c.DrawDueGiveaways())  # the sweeper's pass
        seed = draw.giveaway.seed
        assert seed and draw.winner_identity in (f"discord:{anna}", f"discord:{bo}")
        shop.wake()
        result = await until(lambda: said(shop, f"Seed {seed}"), what="the result")
        assert "goes to" in result[0]
        (drawn,) = await until(lambda: boards(shop, f"Seed {seed}"), what="the board's result")
        assert drawn["id"] == board["id"] and not buttons(drawn)
        winner = draw.winner_identity.partition(":")[2]
        won = await until(
            lambda: [m for m in fake.dms_to(winner) if "You won" in m["content"]],
            what="the winner's DM",
        )
        assert "Nothing to pay" in won[0]["content"]
        loser = bo if winner == anna else anna
        assert not [m for m in fake.dms_to(loser) if "You won" in m["content"]]
