"""An auction in a Telegram group: the board edited in place, the outbid bidder told
privately, and the winner (who never started the bot) reaching the payment by deep link."""

from commerce.domain.commands import CloseDueAuctions
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, ShopFactory
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser

SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna")
BOB = FakeUser(12, "Bob", "bob")


async def test_an_auction_in_a_group(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    shop = await shop_factory()
    await add_product(shop.bus, "CARD", stock=1)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/auction CARD start 1 for 50s"))
    await shop.processed(api.message(GROUP, ANNA, "#bid 2"))
    await shop.processed(api.message(GROUP, BOB, "#bid 5"))
    await shop.settle()
    assert any(t.startswith("You were outbid on CARD: €5.00 now.") for t in api.texts_to(ANNA.id))
    boards = [m for m in api.messages_in(GROUP) if m.text.startswith("CARD CARD product: ")]
    assert len(boards) == 1  # one board, edited as the bids came
    assert "€5.00 by @Bob, 2 bids" in boards[0].text

    await shop.later(seconds=61)
    await shop.bus.handle(CloseDueAuctions())
    await shop.settle()
    [order] = await shop.bus.deps.store.orders(None, None)
    assert order.identity == f"telegram:{BOB.id}" and order.amount.minor == 500
    final = next(m for m in api.messages_in(GROUP) if m is boards[0])
    assert final.text == "CARD sold to @Bob for €5.00!"
    deep = api.messages_in(GROUP)[-1]
    assert deep.text.startswith("@bob: 1 × CARD product is yours for €5.00")
    assert deep.buttons[0]["url"] == f"https://t.me/livebuy_bot?start=pay-{order.ref}"


async def test_the_bid_buttons_bid_the_next_amounts(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await add_product(shop.bus, "CARD", stock=1)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(GROUP, SELLER, "/auction CARD start 1 for 50s"))
    await shop.processed(api.message(GROUP, BOB, "#bid 2"))
    await shop.settle()
    board = next(m for m in api.messages_in(GROUP) if m.text.startswith("CARD CARD product: "))
    assert [b["text"] for b in board.buttons] == ["Bid €3.00", "Bid €7.00"]
    await shop.processed(api.press(board, ANNA, data=board.buttons[1]["callback_data"]))
    await shop.settle()
    assert "€7.00 by @Anna, 2 bids" in board.text
    assert [b["text"] for b in board.buttons] == ["Bid €8.00", "Bid €12.00"]
