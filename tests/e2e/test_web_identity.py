"""Web chat identities, tested as an attacker would try them (#18 item 1): cookies the
server never issued, the secret leaking to the seller's screens, names that imitate the
shop or a seller."""

import asyncio
import re
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import ClientSession, CookieJar, DummyCookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.display_names import fold, refused
from tests.conftest import test_settings
from tests.e2e.conftest import WebShop, base_of
from tests.fakes import FakePaymentGateway
from tests.integration.helpers import add_product, start_drop
from tests.live_events import enter
from webhooks.app import create_app
from webhooks.keys import BUS

TOKEN = "s3cret-admin-0123456789abc"


@pytest.fixture
async def server(web_shop: WebShop) -> AsyncIterator[TestServer]:
    async with web_shop(livebuy_admin_token=TOKEN) as server:
        yield server


async def test_a_cookie_the_server_never_issued_gets_a_new_identity(
    server: TestServer,
) -> None:
    base, bus = base_of(server), server.app[BUS]
    # The attack of the issue: a made-up cookie, named as a seller, runs seller commands.
    await bus.handle(c.AddSeller("web:fuzzseller01"))
    forged = {"livebuy_viewer": "fuzzseller01"}
    async with ClientSession(cookies=forged, cookie_jar=DummyCookieJar()) as http:
        post = await http.post(f"{base}/chat/demo/messages", data={"name": "x", "text": "hi"})
        assert post.status == 403
        assert (await http.get(f"{base}/chat/demo/events")).status == 403
        page = await http.get(f"{base}/chat/demo")
        issued = page.cookies["livebuy_viewer"]
        assert issued.value != "fuzzseller01"
        assert 'data-viewer="web:v_' in await page.text()
        assert "web:fuzzseller01" not in await page.text()
        # A copy of an issued cookie with its MAC changed is never issued either.
        secret, _, mac = issued.value.partition(".")
        for bad in (f"{secret}.{mac[::-1]}", f"{secret[::-1]}.{mac}", secret, "." + mac):
            tampered = {"livebuy_viewer": bad}
            answer = await http.post(
                f"{base}/chat/demo/messages", data={"name": "x", "text": "hi"}, cookies=tampered
            )
            assert answer.status == 403, bad
    # The issued cookie: HttpOnly, SameSite=Lax, not Secure over http, for the whole site
    # (the sign-in routes at /auth read it too).
    [header] = [h for h in page.headers.getall("Set-Cookie") if "Path=/;" in h]
    assert "HttpOnly" in header and "SameSite=Lax" in header and issued.value in header
    assert "Secure" not in header


async def test_two_browsers_two_identities_one_browser_one(server: TestServer) -> None:
    base = base_of(server)
    async with (
        ClientSession(cookie_jar=CookieJar(unsafe=True)) as anna,
        ClientSession(cookie_jar=CookieJar(unsafe=True)) as ben,
    ):
        first = await enter(anna, base, "demo")
        assert await enter(anna, base, "other-room") == first  # a reload, another room
        assert await enter(ben, base, "demo") != first


async def test_the_cookie_is_secure_behind_https(database_url: str, engine: AsyncEngine) -> None:
    settings = test_settings(database_url, public_base_url="https://shop.example")
    app = create_app(settings, engine=engine, payments=FakePaymentGateway(), sweep_every=3600)
    async with TestServer(app) as server, ClientSession() as http:
        page = await http.get(server.make_url("/chat/demo"))
        assert "Secure" in page.headers["Set-Cookie"]


async def test_the_sellers_views_never_show_a_session_secret(
    server: TestServer, engine: AsyncEngine, cli: Callable[..., str]
) -> None:
    base, bus = base_of(server), server.app[BUS]
    await add_product(bus, "MUG", stock=5)
    await start_drop(bus, "MUG", quantity=5, channels=("web:demo",))
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as buyer:
        identity = await enter(buyer, base, "demo")
        cookie = buyer.cookie_jar.filter_cookies(server.make_url("/chat"))["livebuy_viewer"]
        secret = cookie.value.partition(".")[0]
        said = await buyer.post(
            f"{base}/chat/demo/messages", data={"name": "Anna", "text": "#buy"}
        )
        assert said.status == 200
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as seller:
        signed_in = await seller.post(f"{base}/dashboard/login", data={"token": TOKEN})
        assert signed_in.status == 200
        screens = [await signed_in.text()]
        for path in ("/dashboard/state", "/dashboard/orders.csv"):
            response = await seller.get(f"{base}{path}")
            assert response.status == 200, path
            screens.append(await response.text())
    screens.append(await asyncio.to_thread(cli, "orders", "--format", "csv"))
    screens.append(await asyncio.to_thread(cli, "orders"))
    assert identity in screens[2] and identity in screens[3]  # the public id is who bought
    for screen in screens:
        assert secret not in screen and cookie.value not in screen
    async with engine.connect() as conn:  # nor does the database hold it
        rows = (await conn.execute(text("SELECT secret_hash, public_id FROM web_viewer"))).all()
    assert rows and all(secret not in f"{h}{p}" for h, p in rows)


@pytest.mark.parametrize(
    "name", ["livebuy", "LiveBuy", "L1VE BUY", "ＬＩＶＥＢＵＹ", "lіvebuy", "live_buy official"]
)
async def test_a_viewer_named_like_the_shop_is_refused(server: TestServer, name: str) -> None:
    base = base_of(server)
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        await enter(http, base, "demo")
        answer = await http.post(f"{base}/chat/demo/messages", data={"name": name, "text": "hi"})
        assert answer.status == 400
        assert "shop's name" in (await answer.json())["error"]


async def test_a_seller_is_marked_and_their_name_cannot_be_taken(server: TestServer) -> None:
    base, bus = base_of(server), server.app[BUS]
    async with (
        ClientSession(cookie_jar=CookieJar(unsafe=True)) as sam,
        ClientSession(cookie_jar=CookieJar(unsafe=True)) as eve,
    ):
        await bus.handle(c.AddSeller(await enter(sam, base, "demo")))
        await enter(eve, base, "demo")
        said = await sam.post(
            f"{base}/chat/demo/messages", data={"name": "Sam Shop", "text": "hi"}
        )
        assert said.status == 200
        for name in ("Sam Shop", "sam  shop", "5am Sh0p"):
            answer = await eve.post(f"{base}/chat/demo/messages", data={"name": name, "text": "x"})
            assert answer.status == 400, name
            assert "seller's name" in (await answer.json())["error"]
        assert (
            await eve.post(f"{base}/chat/demo/messages", data={"name": "Samantha", "text": "x"})
        ).status == 200


def test_names_fold_as_a_reader_reads_them() -> None:
    assert fold("L1ve  Buy.") == fold("livebuy") == fold("LІVЕBUY") == fold("ｌｉｖｅ ｂｕｙ")
    assert refused("Livebuy!") is not None
    assert refused("Anna") is None
    assert refused("   ") is not None
    assert refused("Sam", ["S4M"]) is not None
    assert refused("Samantha", ["Sam"]) is None
    assert re.search("shop", refused("LIVEBUY") or "")
