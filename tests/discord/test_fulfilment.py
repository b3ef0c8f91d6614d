"""`livebuy ship` typed in a terminal reaches a Discord buyer by DM, through the running
service's outbox, against the fake Discord (REST and gateway in the real wire format)."""

import pytest

from commerce.domain.orders import OrderStatus
from tests.discord.conftest import ShopFactory, until
from tests.discord.fake_discord import CHANNEL_ID
from tests.discord.test_drop import LINK, ephemeral_answer
from tests.e2e.test_cli_fulfilment import livebuy
from tests.integration.helpers import add_product, start_drop


async def test_ship_reaches_the_buyer_by_dm(
    open_shop: ShopFactory,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: object,
) -> None:
    monkeypatch.chdir(str(tmp_path))  # no developer .env for the CLI
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus)
        await start_drop(shop.bus, quantity=2, channels=(f"discord:{CHANNEL_ID}",))
        anna = fake.add_member("anna")
        assert LINK.search(await ephemeral_answer(shop, await fake.slash(anna, "buy")))
        (order,) = await shop.bus.deps.store.orders(None, None)
        await shop.pay(order.ref)
        await until(lambda: fake.dms_to(anna), what="the payment's confirmation by DM")

        code = "1Z999AA10123456784"
        out = await livebuy(database_url, "ship", order.ref, "--tracking", code, "--carrier=UPS")
        assert out.startswith(f"shipped {order.ref}: tracking 1Z999AA10123456784 (UPS)")
        shop.wake()
        dms = await until(
            lambda: [m for m in fake.dms_to(anna) if m["content"].startswith("Shipped:")],
            what="the shipping news by DM",
        )
        assert dms[0]["content"] == (
            f"Shipped: 1 × TEE product (order {order.ref}). Tracking: 1Z999AA10123456784"
            " (UPS)\nhttps://www.ups.com/track?tracknum=1Z999AA10123456784"
        )
        assert (await shop.bus.deps.store.order(order.ref)).status is OrderStatus.FULFILLED
