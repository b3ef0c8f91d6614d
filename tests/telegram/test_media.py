"""A drop of a product with a picture in a Telegram group: its board is a photo with the
text as caption (sendPhoto: a media folder file uploaded as multipart/form-data, an https
picture by URL), edited with editMessageCaption, or editMessageMedia when the picture
changed; on SQLite and PostgreSQL, against the fake Bot API."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from commerce.adapters.media import MediaFolder
from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec
from commerce.domain.shows import LotMode, LotSpec
from commerce.service_layer.messagebus import MessageBus
from tests.pictures import GIF, png
from tests.telegram.conftest import GROUP, ShopFactory
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser, Upload

SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna")
BOB = FakeUser(12, "Bob", "bob")
URL = "https://cdn.example.com/tee.jpg"


async def add_pictured(bus: MessageBus, image: str | None, about: str = "Heavy cotton.") -> None:
    spec = ProductSpec("TEE", "Tee", Money(2500, "eur"), "", (), image=image, description=about)
    await bus.handle(c.AddProduct(spec, 10))


async def test_a_board_with_a_stored_picture_is_an_uploaded_photo(
    shop_factory: ShopFactory, api: FakeBotApi, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    name, _ = MediaFolder(media).save(png())
    shop = await shop_factory(livebuy_media_dir=str(media))
    await add_pictured(shop.bus, name)
    api.admins[GROUP] = {SELLER.id}

    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25"))
    await shop.settle()
    (sent,) = api.of("sendPhoto")
    assert sent.params["photo"] == Upload(name, "image/png", png())
    assert sent.params["caption"] == "Tee · €25.00\nHeavy cotton.\n3 of 3 left"
    assert sent.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Buy", "callback_data": "buy:TEE"}]]
    }
    board = api.board(GROUP)
    assert board is not None and board.photo == sent.params["photo"]

    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    assert board.text == "Tee · €25.00\nHeavy cotton.\n2 of 3 left\nLast buyers: @anna"
    assert api.of("editMessageCaption") and not api.of("editMessageText")
    assert not api.of("editMessageMedia")  # the same picture: never uploaded again
    assert len(api.of("sendPhoto")) == 1
    assert all(m.photo is None for m in api.messages_in(GROUP) if m is not board)


async def test_a_picture_by_address_and_a_changed_picture(
    shop_factory: ShopFactory, api: FakeBotApi, tmp_path: Path
) -> None:
    media = tmp_path / "media"
    shop = await shop_factory(livebuy_media_dir=str(media))
    await add_pictured(shop.bus, URL, about="")
    api.admins[GROUP] = {SELLER.id}

    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25"))
    await shop.settle()
    (sent,) = api.of("sendPhoto")
    assert sent.params["photo"] == URL  # Telegram fetches it itself
    assert sent.params["caption"] == "Tee · €25.00\n3 of 3 left"

    # The seller changes the picture while the drop runs: the next redraw replaces it.
    name, _ = MediaFolder(media).save(GIF)
    await shop.bus.handle(c.UpdateProduct("TEE", image=name, description="Now in red."))
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    (replaced,) = api.of("editMessageMedia")
    attached = replaced.params["media"]
    assert attached["type"] == "photo" and attached["media"].startswith("attach://")
    assert replaced.params[attached["media"].removeprefix("attach://")].data == GIF
    assert attached["caption"] == "Tee · €25.00\nNow in red.\n2 of 3 left\nLast buyers: @anna"
    board = api.board(GROUP)
    assert board is not None and isinstance(board.photo, Upload) and board.photo.data == GIF

    # The drop ends: a caption edit (the picture is the same), never a text edit.
    await shop.processed(api.message(GROUP, SELLER, "/end TEE"))
    await shop.settle()
    assert api.of("editMessageCaption")
    assert "ended" in board.text or "sold" in board.text
    assert not api.of("editMessageText")


async def test_a_long_description_is_shortened_to_the_caption_limit(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    spec = ProductSpec(
        "TEE", "T" * 200, Money(2500, "eur"), "", (), image=URL, description="d" * 800
    )
    await shop.bus.handle(c.AddProduct(spec, 10))
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25"))
    await shop.settle()
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None and len(board.text) == 1024
    # The description gives way: the stock and the buyers stay.
    assert board.text.endswith("d…\n2 of 3 left\nLast buyers: @anna")


async def test_an_auction_lot_board_is_a_photo_with_its_description(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    spec = ProductSpec(
        "CARD", "Holo card", Money(100, "eur"), "", (), image=URL, description="Mint, graded 9."
    )
    await shop.bus.handle(c.AddProduct(spec, 1))
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(GROUP, SELLER, "/auction CARD start 1 for 50s"))
    await shop.processed(api.message(GROUP, ANNA, "#bid 2"))
    await shop.settle()
    (sent,) = api.of("sendPhoto")  # the auction's board: one photo, by its address
    assert sent.params["photo"] == URL
    (board,) = [m for m in api.messages_in(GROUP) if m.photo == URL]
    assert board.text.split("\n")[1] == "Mint, graded 9."
    assert "€2.00 by @Anna" in board.text
    await shop.processed(api.message(GROUP, BOB, "#bid 4"))
    await shop.settle()
    assert "€4.00 by @Bob" in board.text and "Mint, graded 9." in board.text
    edited = {e.params["message_id"] for e in api.of("editMessageCaption")}
    assert str(board.message_id) in edited
    assert str(board.message_id) not in {e.params["message_id"] for e in api.of("editMessageText")}


async def test_a_picture_whose_file_is_gone_leaves_a_working_text_board(
    shop_factory: ShopFactory, api: FakeBotApi, tmp_path: Path
) -> None:
    """The media folder lost the file (a wiped disk, a worker without the shared folder):
    the board goes out as text and its edits still arrive."""
    media = tmp_path / "media"
    name, _ = MediaFolder(media).save(png())
    shop = await shop_factory(livebuy_media_dir=str(media))
    await add_pictured(shop.bus, name)
    (media / name).unlink()
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25"))
    await shop.settle()
    assert not api.of("sendPhoto")
    board = api.board(GROUP)
    assert board is not None and board.photo is None
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    assert board.text == "Tee · €25.00\nHeavy cotton.\n2 of 3 left\nLast buyers: @anna"


async def test_a_show_board_shows_its_live_lots_picture(
    shop_factory: ShopFactory, api: FakeBotApi, tmp_path: Path
) -> None:
    """The show's board is a photo of the lot that is on, replaced when the next lot has
    another picture (editMessageMedia), with the board's text as its caption."""
    media = tmp_path / "media"
    name, _ = MediaFolder(media).save(png())
    shop = await shop_factory(livebuy_media_dir=str(media))
    await add_pictured(shop.bus, URL)
    pin = ProductSpec("PIN", "Pin", Money(300, "eur"), "", (), image=name)
    await shop.bus.handle(c.AddProduct(pin, 5))
    api.admins[GROUP] = {SELLER.id}
    await shop.bus.handle(c.AddSeller(f"telegram:{SELLER.id}"))
    lots = (
        LotSpec("TEE", LotMode.FIXED, Decimal(25)),
        LotSpec("PIN", LotMode.FIXED, Decimal(3)),
    )
    starts = shop.clock.now() + timedelta(minutes=30)
    await shop.bus.handle(c.CreateShow("Sunday", starts, (f"telegram:{GROUP}",), lots=lots))

    await shop.processed(api.message(GROUP, SELLER, "/next"))
    await shop.settle()
    shows = [p for p in api.of("sendPhoto") if str(p.params["caption"]).startswith("🔴 Sunday")]
    (sent,) = shows
    assert sent.params["photo"] == URL and "lot 1/2" in str(sent.params["caption"])
    board = next(m for m in api.messages_in(GROUP) if m.text.startswith("🔴 Sunday"))
    assert board.photo == URL

    await shop.processed(api.message(GROUP, SELLER, "/next"))
    await shop.settle()
    assert "lot 2/2" in board.text
    assert board.photo == Upload(name, "image/png", png())  # the same message, new picture
    assert any(
        str(call.params["media"]["caption"]).startswith("🔴 Sunday")
        for call in api.of("editMessageMedia")
    )
