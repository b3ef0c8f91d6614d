"""`livebuy ship` typed in a terminal reaches a Telegram buyer in their private chat with
the bot, through the running service's outbox (the fake Bot API speaks the real wire
format); `livebuy cancel` tells the buyer the same way."""

import pytest

from commerce.domain.orders import OrderStatus
from tests.e2e.test_cli_fulfilment import livebuy
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, ShopFactory, until
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser
from tests.telegram.test_drop_flow import order_ref, pay

SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna")
BOB = FakeUser(12, "Bob", "bob")
DHL = "https://www.dhl.com/global-en/home/tracking.html?tracking-id=00340434161094042557"


async def test_ship_and_cancel_reach_the_buyer_in_telegram(
    shop_factory: ShopFactory,
    api: FakeBotApi,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> None:
    monkeypatch.chdir(str(tmp_path))  # no developer .env for the CLI
    shop = await shop_factory()
    await add_product(shop.bus, stock=5)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(ANNA.id, ANNA, "/start"), api.message(BOB.id, BOB, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25"))
    await shop.processed(api.message(GROUP, ANNA, "#buy"), api.message(GROUP, BOB, "#buy"))
    anna, bob = await order_ref(shop, ANNA), await order_ref(shop, BOB)
    await pay(shop, anna)
    await shop.settle()

    code = "00340434161094042557"
    out = await livebuy(database_url, "ship", anna.lower(), "--tracking", code, "--carrier", "dhl")
    assert out == f"shipped {anna}: tracking 00340434161094042557 (DHL) {DHL}\n"
    await shop.settle()
    shipped = [m.text for m in api.messages_in(ANNA.id) if m.text.startswith("Shipped:")]
    assert shipped == [
        f"Shipped: 1 × TEE product (order {anna}). Tracking: 00340434161094042557 (DHL)\n{DHL}"
    ]
    assert not [m for m in api.messages_in(GROUP) if "Shipped" in m.text]  # privately only
    assert (await shop.bus.deps.store.order(anna)).status is OrderStatus.FULFILLED

    await livebuy(database_url, "cancel", bob, "--reason", "damaged in the studio")
    await shop.settle()
    await until(
        lambda: any("The seller cancelled" in m.text for m in api.messages_in(BOB.id)),
        what="bob told",
    )
    (told,) = [m.text for m in api.messages_in(BOB.id) if "The seller cancelled" in m.text]
    assert told == (
        f"The seller cancelled order {bob} (TEE product): damaged in the studio."
        " Nothing was charged."
    )
