"""News after the sale in a YouTube live chat (#20): YouTube has no private messages, so a
shipped order is said in the live chat, naming the buyer, with their claimant link (/p/<ref>)
and never the tracking number; the link's page shows the tracking to the claimant only, once
signed in with Google as the channel that bought (the fake's OAuth)."""

from commerce.domain import commands as c
from tests.integration.helpers import add_product, start_drop
from tests.youtube.conftest import CHAT, ShopFactory, until
from tests.youtube.fake_youtube import FakeYouTube
from tests.youtube.test_public_links import LINK, browser, here, sign_in

TRACKING = "00340434161094042557"


async def test_a_shipped_order_is_said_with_the_claimants_link(open_shop: ShopFactory) -> None:
    fake = FakeYouTube()
    await fake.start()
    try:
        async with open_shop(fake, youtube_oauth_authorize_url=fake.authorize_url) as shop:
            await add_product(shop.bus, stock=10)
            await start_drop(shop.bus, quantity=3, channels=(CHAT,))
            anna = fake.viewer("anna")
            fake.say(anna, "#buy TEE")
            won = await until(
                lambda: [t for t in fake.lines() if "is yours for" in t], what="the claim"
            )
            found = LINK.search(won[0])
            assert found is not None
            link, ref = found[0], found[1]
            await shop.bus.handle(c.SettlePayment(ref, "pi_1", "evt_1"))
            await shop.bus.handle(c.ShipOrders((c.Parcel((ref,), TRACKING, "DHL"),), "cli"))

            shipped = await until(
                lambda: [t for t in fake.lines() if "has shipped" in t], what="anna told"
            )
            (line,) = shipped
            assert line.endswith(f"your order {ref} has shipped. Tracking and details: {link}")
            assert line.lower().startswith("@anna")
            assert len(line) <= 200  # one live chat message, link whole
            assert all(TRACKING not in t for t in fake.lines())

            async with browser() as passer_by:
                page = await passer_by.get(here(shop, link))
                assert page.status == 200 and TRACKING not in await page.text()
            async with browser() as hers:
                done = await sign_in(shop, hers, link, anna)
                assert done.status == 303
                page = await hers.get(here(shop, link))
                body = await page.text()
                assert page.status == 200 and f"Tracking: {TRACKING} (DHL)" in body
    finally:
        await fake.stop()
