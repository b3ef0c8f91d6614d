"""Auctions on Discord: a seller's /auction, /bid and /maxbid answered ephemerally, the
auction's board edited in place, the outbid buyer told by DM."""

from tests.discord.conftest import ShopFactory, until
from tests.discord.fake_discord import CHANNEL_ID, OWNER_ID
from tests.discord.test_drop import ephemeral_answer
from tests.integration.helpers import add_product


def auction_board(shop_messages: list[dict[str, object]]) -> list[dict[str, object]]:
    return [m for m in shop_messages if m["embeds"]]


async def test_auction_bids_board_and_outbid_dm(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus)
        started = await ephemeral_answer(
            shop,
            await fake.slash(
                OWNER_ID, "auction", sku="TEE", start="10.00", duration="10m", close="sudden"
            ),
        )
        assert "Auction TEE" in started
        anna, bo = fake.add_member("anna"), fake.add_member("bo")
        leading = await ephemeral_answer(shop, await fake.slash(anna, "bid", amount="12"))
        assert "leads TEE" in leading and f"<@{anna}>" in leading
        maximum = await ephemeral_answer(shop, await fake.slash(bo, "maxbid", amount="30"))
        assert "maximum of €30.00" in maximum

        outbid = await until(lambda: fake.dms_to(anna), what="anna outbid, by DM")
        assert "outbid on TEE" in outbid[0]["content"]
        assert "30" not in outbid[0]["content"]  # bo's maximum stays secret

        def board() -> str:
            boards = auction_board(fake.channel_messages(CHANNEL_ID))
            assert len(boards) <= 1
            return str(boards[0]["embeds"][0]["description"]) if boards else ""  # type: ignore[index]

        await until(lambda: "2 bids" in board(), what="the auction board")
        assert "€30" not in board()
