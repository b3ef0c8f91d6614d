"""The pay link said in a Twitch chat is the claimant's only (#20 item 3): the public line
carries PUBLIC_BASE_URL/p/<ref>?t=…, whose page pays only once the browser has signed in
with the Twitch account that claimed (OAuth2 authorization code against the fake Twitch:
id.twitch.tv's /oauth2/authorize and /oauth2/token, Helix GET /users with the user token).
Anyone else sees the item and "reserved for @Anna"; the plain /pay/ link of such an order
leads there too. The sign-in joins the browser to the Twitch account as the web chat's
sign-in does, so the card saved through the web chat is found at the next Twitch claim."""

import re
from urllib.parse import parse_qs, urlsplit

from aiohttp import ClientResponse, ClientSession, CookieJar
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.commands import AddProduct
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec
from commerce.service_layer import queries
from commerce.service_layer.ports import SavedCard
from tests.integration.helpers import add_product, start_drop
from tests.twitch.conftest import CHAT, Shop, ShopFactory, until
from tests.twitch.fake_twitch import CLIENT_ID, CLIENT_SECRET, Viewer

LINK = re.compile(r"https?://\S+/p/(\w+)\?t=\S+")


def browser() -> ClientSession:
    return ClientSession(cookie_jar=CookieJar(unsafe=True))


def base_of(shop: Shop) -> str:
    return str(shop.client.server.make_url("")).rstrip("/")


def here(shop: Shop, url: str) -> str:
    """A link of PUBLIC_BASE_URL's (or a path) on the test server."""
    parts = urlsplit(url)
    return f"{base_of(shop)}{parts.path}" + (f"?{parts.query}" if parts.query else "")


async def claimed_line(shop: Shop, viewer: Viewer) -> str:
    await shop.fake.say(viewer, "#buy TEE")
    lines = await until(
        lambda: [t for t in shop.fake.lines_for(viewer) if "is yours for" in t],
        what="the claim's answer",
    )
    return str(lines[0])


async def sign_in(shop: Shop, http: ClientSession, link: str, person: Viewer) -> ClientResponse:
    """The sign-in button of the /p/ page, Twitch's Authorize, and back: the callback's answer."""
    page = await http.get(here(shop, link))
    button = re.search(r'href="(/auth/twitch\?link=[^"]+)"', await page.text())
    assert button is not None, await page.text()
    start = await http.get(here(shop, button[1].replace("&amp;", "&")), allow_redirects=False)
    assert start.status == 302
    to_twitch = start.headers["Location"]
    assert to_twitch.startswith(f"{shop.fake.oauth_url}/oauth2/authorize?")
    assert f"client_id={CLIENT_ID}" in to_twitch and "scope=openid" in to_twitch
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fauth%2Ftwitch%2Fcallback" in to_twitch
    shop.fake.authorizing = person
    back = await http.get(to_twitch, allow_redirects=False)  # Twitch: "Authorize"
    assert back.status == 302
    return await http.get(here(shop, back.headers["Location"]), allow_redirects=False)


async def customer_of(engine: AsyncEngine, identity: str) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT o.key FROM identity i JOIN identity o ON o.customer_id = i.customer_id"
                " WHERE i.key = :k ORDER BY o.key"
            ),
            {"k": identity},
        )
        return [str(k) for (k,) in rows]


async def test_only_the_claimant_pays_through_the_public_link(
    open_shop: ShopFactory, engine: AsyncEngine
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=3, channels=(CHAT,))
        anna, eve = fake.viewer("anna"), fake.viewer("eve")
        line = await claimed_line(shop, anna)
        found = LINK.search(line)
        assert found is not None, line
        link = found[0]
        assert line == f"@anna: 1 × TEE product is yours for €25.00: {link}"
        assert "/pay/" not in line
        (order,) = await queries.orders(shop.bus.reads)
        assert found[1] == order.ref and order.identity == f"twitch:{anna.id}"
        assert order.checkout_url is not None and "/pay/" in order.checkout_url

        # Anyone who read the chat: the item, whose it is, and a sign-in; no payment.
        async with browser() as passer_by:
            page = await passer_by.get(here(shop, link))
            body = await page.text()
            assert page.status == 200
            # The name anna chats under (her Twitch display name, kept with her orders).
            assert "TEE product" in body and "reserved for @Anna" in body
            assert "Sign in with Twitch to pay" in body
            # The shop's own /pay/ link of this order leads to the same page, not to pay.
            plain = await passer_by.get(here(shop, order.checkout_url), allow_redirects=False)
            assert plain.status == 303 and plain.headers["Location"].startswith(f"/p/{order.ref}")
        assert shop.payments.opened == []

        # Eve signs in with her own Twitch account: reserved for anna, still not hers to pay.
        async with browser() as other:
            done = await sign_in(shop, other, link, eve)
            assert done.status == 303, await done.text()
            assert done.headers["Location"] == urlsplit(link).path + "?" + urlsplit(link).query
            refused = await other.get(here(shop, link))
            assert refused.status == 403
            assert "reserved for @Anna" in await refused.text()
            plain = await other.get(here(shop, order.checkout_url), allow_redirects=False)
            assert plain.status == 303 and plain.headers["Location"].startswith("/p/")
        assert shop.payments.opened == []
        [grant] = fake.code_grants  # the documented form: the secret in the body, never logged
        assert grant["grant_type"] == "authorization_code" and grant["client_id"] == CLIENT_ID
        assert grant["client_secret"] == CLIENT_SECRET

        # Anna signs in with the account that claimed: on to the order's checkout.
        async with browser() as claimant:
            done = await sign_in(shop, claimant, link, anna)
            assert done.status == 303, await done.text()
            onward = await claimant.get(here(shop, link), allow_redirects=False)
            assert onward.status == 303
            token = parse_qs(urlsplit(link).query)["t"][0]
            assert onward.headers["Location"] == f"/pay/{order.ref}?t={token}"
            checkout = await claimant.get(
                here(shop, onward.headers["Location"]), allow_redirects=False
            )
            assert checkout.status == 303
            assert checkout.headers["Location"] == f"https://checkout.test/{order.ref}"
        assert [r.order_ref for r in shop.payments.opened] == [order.ref]
        opened = await queries.order(shop.bus.reads, order.ref)
        assert opened.status is OrderStatus.CHECKOUT_OPEN

        # The browser is anna's Twitch account now, one customer (as /link joins them).
        joined = await customer_of(engine, f"twitch:{anna.id}")
        webs = [k for k in joined if k.startswith("web:")]
        assert len(webs) == 1 and f"twitch:{eve.id}" not in joined
        # A card saved through the web chat (its /card) is hers on Twitch at the next claim.
        card = SavedCard("cus_anna", "pm_anna", "visa", "4242", "fp_anna")
        cards = shop.bus.deps.cards
        assert cards is not None
        await cards.save_card(webs[0], card, shop.bus.clock.now())
        # A download: nothing to ship, so a saved card pays it with one message.
        code = ProductSpec("CODE", "Pack code", Money(500, "eur"), "", (), digital=True)
        await shop.bus.handle(AddProduct(code, 5))
        await start_drop(shop.bus, "CODE", quantity=2, price=500, channels=(CHAT,))
        await fake.say(anna, "#buy CODE")
        await until(
            lambda: any("Pack code" in t and "confirm" in t for t in fake.lines_for(anna)),
            what=f"the one-message buy's question: {fake.lines_for(anna)}",
        )
        cap = [o for o in await queries.orders(shop.bus.reads) if o.ref != order.ref]
        assert len(cap) == 1 and cap[0].confirm_until is not None  # waits for #confirm


async def test_a_wrong_state_is_refused(open_shop: ShopFactory, engine: AsyncEngine) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=3, channels=(CHAT,))
        anna, eve = fake.viewer("anna"), fake.viewer("eve")
        found = LINK.search(await claimed_line(shop, anna))
        assert found is not None
        async with browser() as attacker, browser() as victim:
            page = await attacker.get(here(shop, found[0]))
            button = re.search(r'href="(/auth/twitch\?link=[^"]+)"', await page.text())
            assert button is not None
            start = await attacker.get(
                here(shop, button[1].replace("&amp;", "&")), allow_redirects=False
            )
            fake.authorizing = eve
            back = await attacker.get(start.headers["Location"], allow_redirects=False)
            callback = here(shop, back.headers["Location"])
            guessed = await attacker.get(re.sub(r"state=[^&]+", "state=guessed", callback))
            assert guessed.status == 403 and "Twitch sign-in" in await guessed.text()
            # Eve's code played into another browser (login CSRF): no state cookie there.
            await victim.get(here(shop, found[0]))
            planted = await victim.get(callback)
            assert planted.status == 403 and "Twitch sign-in" in await planted.text()
        assert fake.code_grants == []  # the code was never even exchanged
        assert await customer_of(engine, f"twitch:{eve.id}") in ([], [f"twitch:{eve.id}"])


async def test_a_link_with_a_wrong_token_is_unknown(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=3, channels=(CHAT,))
        found = LINK.search(await claimed_line(shop, shop.fake.viewer("anna")))
        assert found is not None
        async with browser() as http:
            forged = await http.get(f"{base_of(shop)}/p/{found[1]}?t=AAAAAAAAAAAAAAAA")
            assert forged.status == 404 and "not valid" in await forged.text()
            start = await http.get(f"{base_of(shop)}/auth/twitch?link=https://evil.example/")
            assert start.status == 400
