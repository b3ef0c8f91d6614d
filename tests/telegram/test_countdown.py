"""A timed drop's board in a Telegram group counts down on each edit ("ends in 6 min"),
with the time it ends; between two edits nothing is sent (no timer edits the board), and the
ended board says when it ended."""

import re

from commerce.domain.commands import ExpireHolds
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, ShopFactory
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser

SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna")
BOB = FakeUser(12, "Bob", "bob")


async def test_the_board_counts_down_on_each_edit(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory(livebuy_sellers=f"telegram:{SELLER.id}")
    await add_product(shop.bus, stock=10)
    for user in (ANNA, BOB):
        await shop.processed(api.message(user.id, user, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25 for 10m"))
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None
    (drop,) = await shop.bus.deps.store.drops()
    assert drop.ends_at is not None
    at = drop.ends_at.strftime("%H:%M")
    assert re.fullmatch(
        rf"TEE product · €25\.00\n3 of 3 left · ends in (10|9) min \({at} UTC\)", board.text
    ), board.text

    # Four minutes pass with nothing happening: the board is not touched (no timer loop).
    edits, calls = board.edits, len(api.calls)
    await shop.later(minutes=4)
    await shop.settle()
    assert board.edits == edits
    assert not [c for c in api.calls[calls:] if c.method.startswith("edit")]

    # A purchase edits it, with the time left as of that edit.
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    assert re.fullmatch(
        rf"TEE product · €25\.00\n2 of 3 left · ends in (6|5) min \({at} UTC\)\n"
        r"Last buyers: @anna",
        board.text,
    ), board.text
    # Under a minute, in seconds.
    await shop.later(minutes=5, seconds=10)  # (each settle may jump a few seconds more)
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    await shop.settle()
    assert re.search(rf"1 of 3 left · ends in \d\d? s \({at} UTC\)", board.text), board.text

    # The end passes; the sweeper ends it, and the board says when it ended.
    await shop.later(minutes=1)
    await shop.bus.handle(ExpireHolds())
    await shop.settle()
    assert board.text.splitlines()[1] == f"Drop TEE has ended: 2 of 3 sold. · ended {at} UTC"
    assert board.buttons == []
