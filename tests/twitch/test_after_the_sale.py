"""News after the sale in a Twitch chat (#20): Twitch has no private lane a bot can use, so a
shipped or cancelled order is said in the chat the buyer bought in, naming them, with their
claimant link (/p/<ref>) for the details and never the tracking number itself; the link's
page shows the tracking to the claimant only, once signed in with Twitch (the fake's OAuth)."""

import re

from commerce.domain import commands as c
from commerce.service_layer import queries
from tests.integration.helpers import add_product, start_drop
from tests.twitch.conftest import CHAT, ShopFactory, until
from tests.twitch.test_public_links import LINK, browser, claimed_line, here, sign_in

TRACKING = "1Z999AA10123456784"


async def test_shipped_and_cancelled_are_said_with_the_claimants_link(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=3, channels=(CHAT,))
        anna, bo = fake.viewer("anna"), fake.viewer("bo")
        found = LINK.search(await claimed_line(shop, anna))
        assert found is not None
        link, ref = found[0], found[1]
        await claimed_line(shop, bo)
        orders = {o.identity: o for o in await queries.orders(shop.bus.reads)}
        bos = orders[f"twitch:{bo.id}"].ref
        await shop.bus.handle(c.SettlePayment(ref, "pi_1", "evt_1"))
        await shop.bus.handle(c.ShipOrders((c.Parcel((ref,), TRACKING, "UPS"),), "cli"))
        await shop.bus.handle(c.CancelOrder(None, bos, reason="a flaw in the print"))

        shipped = await until(
            lambda: [t for t in fake.lines() if "has shipped" in t],
            what="anna told in the chat",
        )
        assert shipped == [f"@Anna: your order {ref} has shipped. Tracking and details: {link}"]
        cancelled = await until(
            lambda: [t for t in fake.lines() if "cancelled" in t],
            what="bo told in the chat",
        )
        (said,) = cancelled
        assert said.startswith(f"@Bo: the shop cancelled your order {bos}. Nothing was charged.")
        assert re.search(rf"/p/{bos}\?t=", said)
        # (Named as Twitch shows them, "@Anna": the name kept with their orders.)
        # The whole chat reads these lines: no tracking number, no reason, no card.
        assert all(TRACKING not in t and "flaw" not in t for t in fake.lines())

        # Anyone else who opens anna's link sees no tracking; anna, signed in, does.
        async with browser() as passer_by:
            page = await passer_by.get(here(shop, link))
            assert page.status == 200 and TRACKING not in await page.text()
        async with browser() as hers:
            done = await sign_in(shop, hers, link, anna)
            assert done.status == 303
            page = await hers.get(here(shop, link))
            body = await page.text()
            assert page.status == 200 and f"Tracking: {TRACKING} (UPS)" in body
            assert 'id="tracking"' in body  # the carrier's page, for a carrier it knows
