"""The pay link said in a YouTube live chat is the claimant's only (#20 item 3): the line
carries PUBLIC_BASE_URL/p/<ref>?t=…, whose page pays only once the browser has signed in
with Google as the channel that claimed (OAuth2 authorization code with the youtube.readonly
scope against the fake Google: /o/oauth2/v2/auth, the form-encoded token request, then
GET /youtube/v3/channels?part=id&mine=true with the token). Anyone else sees the item and
"reserved for @anna"; a Google account without a channel is told so."""

import re
from urllib.parse import urlsplit

from aiohttp import ClientResponse, ClientSession, CookieJar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer import queries
from tests.integration.helpers import add_product, start_drop
from tests.youtube.conftest import CHAT, Shop, ShopFactory, until
from tests.youtube.fake_youtube import CLIENT_ID, CLIENT_SECRET, FakeYouTube, Viewer

LINK = re.compile(r"https?://\S+/p/(\w+)\?t=\S+")
READONLY = "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fyoutube.readonly"


def browser() -> ClientSession:
    return ClientSession(cookie_jar=CookieJar(unsafe=True))


def here(shop: Shop, url: str) -> str:
    """A link of PUBLIC_BASE_URL's (or a path) on the test server."""
    parts = urlsplit(url)
    base = str(shop.client.server.make_url("")).rstrip("/")
    return f"{base}{parts.path}" + (f"?{parts.query}" if parts.query else "")


async def sign_in(shop: Shop, http: ClientSession, link: str, person: Viewer) -> ClientResponse:
    """The /p/ page's sign-in, Google's consent, and back: the callback's answer."""
    page = await http.get(here(shop, link))
    button = re.search(r'href="(/auth/google\?link=[^"]+)"', await page.text())
    assert button is not None, await page.text()
    start = await http.get(here(shop, button[1].replace("&amp;", "&")), allow_redirects=False)
    assert start.status == 302
    to_google = start.headers["Location"]
    assert to_google.startswith(f"{shop.fake.authorize_url}?")
    assert f"client_id={CLIENT_ID}" in to_google and f"scope={READONLY}" in to_google
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fauth%2Fgoogle%2Fcallback" in to_google
    shop.fake.authorizing = person
    back = await http.get(to_google, allow_redirects=False)  # Google: "Continue"
    assert back.status == 302
    return await http.get(here(shop, back.headers["Location"]), allow_redirects=False)


async def test_only_the_claimant_channel_pays_through_the_public_link(
    open_shop: ShopFactory, engine: AsyncEngine
) -> None:
    fake = FakeYouTube()
    await fake.start()
    try:
        async with open_shop(fake, youtube_oauth_authorize_url=fake.authorize_url) as shop:
            await add_product(shop.bus, stock=10)
            await start_drop(shop.bus, quantity=3, channels=(CHAT,))
            anna, eve = fake.viewer("anna"), fake.viewer("eve")
            fake.say(anna, "#buy TEE")
            lines = await until(
                lambda: [t for t in fake.lines_for(anna) if "is yours for" in t],
                what="the claim's answer",
            )
            found = LINK.search(lines[0])
            assert found is not None and "/pay/" not in lines[0], lines[0]
            link = found[0]
            (order,) = await queries.orders(shop.bus.reads)
            assert found[1] == order.ref and order.identity == f"youtube:{anna.channel}"

            async with browser() as passer_by:
                page = await passer_by.get(here(shop, link))
                body = await page.text()
                assert page.status == 200 and "TEE product" in body
                assert "reserved for @anna" in body and "Sign in with Google" in body

            async with browser() as other:  # eve's channel: reserved, not hers to pay
                done = await sign_in(shop, other, link, eve)
                assert done.status == 303, await done.text()
                refused = await other.get(here(shop, link))
                assert refused.status == 403 and "reserved for @anna" in await refused.text()
            assert shop.payments.opened == []
            grants = [f for f in fake.token_requests if f["grant_type"] == "authorization_code"]
            assert grants and grants[0]["client_secret"] == CLIENT_SECRET

            async with browser() as claimant:
                done = await sign_in(shop, claimant, link, anna)
                assert done.status == 303, await done.text()
                onward = await claimant.get(here(shop, link), allow_redirects=False)
                assert onward.status == 303 and onward.headers["Location"].startswith("/pay/")
                checkout = await claimant.get(
                    here(shop, onward.headers["Location"]), allow_redirects=False
                )
                assert checkout.headers["Location"] == f"https://checkout.test/{order.ref}"
            assert [r.order_ref for r in shop.payments.opened] == [order.ref]
            async with engine.connect() as conn:
                keys = (
                    await conn.execute(
                        text(
                            "SELECT o.key FROM identity i JOIN identity o"
                            " ON o.customer_id = i.customer_id WHERE i.key = :k"
                        ),
                        {"k": f"youtube:{anna.channel}"},
                    )
                ).scalars()
                assert sum(1 for k in keys if str(k).startswith("web:")) == 1
    finally:
        await fake.stop()


async def test_a_google_account_without_a_channel_is_told_so(open_shop: ShopFactory) -> None:
    fake = FakeYouTube()
    await fake.start()
    try:
        async with open_shop(fake, youtube_oauth_authorize_url=fake.authorize_url) as shop:
            await add_product(shop.bus, stock=10)
            await start_drop(shop.bus, quantity=3, channels=(CHAT,))
            anna = fake.viewer("anna")
            fake.say(anna, "#buy TEE")
            lines = await until(
                lambda: [t for t in fake.lines_for(anna) if "is yours for" in t],
                what="the claim's answer",
            )
            found = LINK.search(lines[0])
            assert found is not None
            async with browser() as http:
                answer = await sign_in(shop, http, found[0], Viewer("@nochannel", ""))
                assert answer.status == 502
                assert "has no YouTube channel" in await answer.text()
    finally:
        await fake.stop()
