"""A drop of a product with a picture on Discord: the board's embed carries the description
and the picture as `image.url` (a media folder file by this server's public /media/ address,
which the test fetches as Discord would; an https picture as given); products without one
keep a plain embed. SQLite and PostgreSQL, against the fake Discord."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from commerce.adapters.media import MediaFolder
from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec
from commerce.domain.shows import LotMode, LotSpec
from tests.discord.conftest import Shop, ShopFactory, until
from tests.discord.fake_discord import OWNER_ID
from tests.discord.test_shows import HERE, boards
from tests.pictures import png

BASE = "https://shop.example.com"


def board(shop: Shop) -> dict[str, Any] | None:
    boards = [m for m in shop.fake.channel_messages() if m["embeds"]]
    return boards[0] if boards else None


def embed(shop: Shop) -> dict[str, Any]:
    message = board(shop)
    return dict(message["embeds"][0]) if message else {}


async def test_the_board_embed_shows_the_picture_and_description(
    open_shop: ShopFactory, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    name, _ = MediaFolder(media).save(png())
    async with open_shop(public_base_url=BASE, livebuy_media_dir=str(media)) as shop:
        spec = ProductSpec(
            "TEE", "Tee", Money(2500, "eur"), "", (), image=name, description="Heavy cotton."
        )
        await shop.bus.handle(c.AddProduct(spec, 10))
        await shop.fake.slash(OWNER_ID, "drop", sku="TEE", quantity=2, price="25.00")
        await until(lambda: "2 of 2 left" in embed(shop).get("description", ""), what="board")
        shown = embed(shop)
        assert shown["image"] == {"url": f"{BASE}/media/{name}"}
        assert shown["description"].split("\n")[1] == "Heavy cotton."
        # The address Discord fetches is this server's media route.
        fetched = await shop.client.get(f"/media/{name}")
        assert fetched.status == 200 and await fetched.read() == png()

        # Edits keep the picture (each PATCH sends the whole embed).
        message = board(shop)
        assert message is not None
        await shop.fake.click(shop.fake.add_member("anna"), message["id"], "livebuy:buy:TEE")
        await until(lambda: "1 of 2 left" in embed(shop).get("description", ""), what="edit")
        assert embed(shop)["image"] == {"url": f"{BASE}/media/{name}"}


async def test_an_https_picture_is_shown_from_its_address(open_shop: ShopFactory) -> None:
    url = "https://cdn.example.com/mug.webp"
    async with open_shop() as shop:
        spec = ProductSpec("MUG", "Mug", Money(900, "eur"), "", (), image=url)
        await shop.bus.handle(c.AddProduct(spec, 10))
        spec = ProductSpec("CAP", "Cap", Money(900, "eur"), "", ())
        await shop.bus.handle(c.AddProduct(spec, 10))
        await shop.fake.slash(OWNER_ID, "drop", sku="MUG", quantity=2, price="9.00")
        await until(lambda: "2 of 2 left" in embed(shop).get("description", ""), what="board")
        assert embed(shop)["image"] == {"url": url}
        await shop.fake.slash(OWNER_ID, "end", sku="MUG")
        await until(lambda: "ended" in embed(shop).get("description", ""), what="the end")
        await shop.fake.slash(OWNER_ID, "drop", sku="CAP", quantity=2, price="9.00")

        def cap_board() -> dict[str, Any] | None:
            found = [
                m["embeds"][0]
                for m in shop.fake.channel_messages()
                if m["embeds"] and "Cap" in m["embeds"][0].get("description", "")
            ]
            return found[0] if found else None

        plain = await until(cap_board, what="the CAP board")
        assert "image" not in plain  # no picture: the embed is as before


async def test_an_auction_board_embed_shows_the_lots_picture(open_shop: ShopFactory) -> None:
    url = "https://cdn.example.com/card.png"
    async with open_shop() as shop:
        spec = ProductSpec(
            "CARD", "Holo card", Money(100, "eur"), "", (), image=url, description="Graded 9."
        )
        await shop.bus.handle(c.AddProduct(spec, 1))
        await shop.fake.slash(
            OWNER_ID, "auction", sku="CARD", start="1.00", duration="10m", close="sudden"
        )
        shown = await until(lambda: embed(shop), what="the auction board")
        assert shown["image"] == {"url": url}
        assert shown["description"].split("\n")[1] == "Graded 9."
        await shop.fake.slash(shop.fake.add_member("anna"), "bid", amount="2")
        await until(lambda: "€2.00" in embed(shop).get("description", ""), what="the bid")
        assert embed(shop)["image"] == {"url": url}


async def test_a_show_board_shows_its_live_lots_picture(open_shop: ShopFactory) -> None:
    url = "https://cdn.example.com/card.webp"
    async with open_shop() as shop:
        spec = ProductSpec("CARD", "Card", Money(400, "eur"), "", (), image=url)
        await shop.bus.handle(c.AddProduct(spec, 5))
        lots = (LotSpec("CARD", LotMode.FIXED, Decimal(4)),)
        starts = shop.bus.deps.clock.now() + timedelta(minutes=30)
        await shop.bus.handle(c.CreateShow("Sunday", starts, (HERE,), lots=lots))
        await shop.fake.slash(OWNER_ID, "next")
        await until(lambda: boards(shop, "lot 1/1"), what="the show's board")
        (board,) = boards(shop, "lot 1/1")
        assert board["embeds"][0]["image"] == {"url": url}
