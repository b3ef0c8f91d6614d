"""Sign-in for web chat viewers (#18 item 2), on SQLite and PostgreSQL, with the attacks
tried first: a forged or stale Telegram login, a reused or expired email link and a wrong
OAuth state are refused with a 4xx and change no identity; a good sign-in joins the browser
to the account as /link does (one customer, one limit), and a seller's account makes the
browser a seller's."""

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import ClientSession, CookieJar
from aiohttp.test_utils import TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.service_layer import chat
from tests.e2e.conftest import WebShop, base_of, free_port
from tests.fake_sign_ins import (
    CLIENT_ID,
    CLIENT_SECRET,
    DISCORD_USER,
    TELEGRAM_USER,
    FakeDiscord,
    telegram_login,
)
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, start_drop
from tests.live_events import enter
from tests.telegram.fake_bot_api import FakeBotApi
from webhooks.keys import BUS
from webhooks.signin import MAILBOX

BOT_TOKEN = "123456:telegram-bot-token-for-tests"
LINK = re.compile(r"https?://\S+/auth/email/([A-Za-z0-9_-]+)")


def browser() -> ClientSession:
    return ClientSession(cookie_jar=CookieJar(unsafe=True))


async def accounts(engine: AsyncEngine, identity: str) -> list[str]:
    """Every identity of the customer `identity` belongs to (the web viewer's included)."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT o.key FROM identity i JOIN identity o ON o.customer_id = i.customer_id"
                " WHERE i.key = :k ORDER BY o.key"
            ),
            {"k": identity},
        )
        return [str(k) for (k,) in rows]


async def identities(engine: AsyncEngine) -> list[tuple[str, int]]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT key, customer_id FROM identity ORDER BY key"))
        return [(str(k), int(c)) for k, c in rows]


# email --------------------------------------------------------------------------------------


@pytest.fixture
async def local(web_shop: WebShop) -> AsyncIterator[TestServer]:
    """Local mode (no Stripe key, no SMTP_URL): links go to /dev/mail."""
    async with web_shop(livebuy_web_claims="signed-in") as server:
        yield server


async def ask_link(http: ClientSession, base: str, server: TestServer, email: str) -> str:
    """Asks for a sign-in link from the chat page and returns its token (from /dev/mail)."""
    form = await http.get(f"{base}/auth/email?room=demo")
    assert form.status == 200
    sent = await http.post(f"{base}/auth/email", data={"email": email})
    assert sent.status == 200, await sent.text()
    assert "Check your email" in await sent.text()
    mailbox = await http.get(f"{base}/dev/mail")
    found = LINK.search(await mailbox.text())
    assert found is not None
    assert server.app[MAILBOX].letters[0].to == email.strip().lower()
    return found[1]


async def open_link(http: ClientSession, base: str, token: str) -> Any:
    confirm = await http.get(f"{base}/auth/email/{token}")
    assert confirm.status == 200
    return await http.post(f"{base}/auth/email/{token}", allow_redirects=False)


async def test_an_email_link_signs_the_browser_in_once(
    local: TestServer, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    base = base_of(local)
    caplog.set_level(logging.INFO, logger="webhooks.signin.mail")
    async with browser() as anna:
        me = await enter(anna, base, "demo")
        token = await ask_link(anna, base, local, " Anna@Example.com")
        assert f"/auth/email/{token}" in caplog.text  # local mode: in the server's log too
        answer = await (await anna.get(f"{base}/chat/demo")).text()
        assert token not in answer  # never on the public page
        async with engine.connect() as conn:  # only the token's hash is kept
            stored = (
                await conn.execute(text("SELECT token_hash, email FROM email_sign_in"))
            ).all()
        assert stored == [(stored[0][0], "anna@example.com")] and token not in stored[0][0]
        done = await open_link(anna, base, token)
        assert done.status == 303 and done.headers["Location"] == "/chat/demo"
        assert await accounts(engine, me) == ["email:anna@example.com", me]
        reload = await anna.get(f"{base}/chat/demo")
        page = await reload.text()
        assert "signed in as" in page and "email:anna@example.com" in page
        # The cookie now lives at / (the /auth routes read it): one of the earlier path
        # /chat is ended, or the browser would send both.
        assert "livebuy_viewer=; Max-Age=0; Path=/chat" in reload.headers.getall("Set-Cookie")
        assert "Sign in with" not in page  # signed in: no buttons
    async with browser() as eve:  # the link again, from anywhere: refused, nothing changes
        other = await enter(eve, base, "demo")
        before = await identities(engine)
        again = await open_link(eve, base, token)
        assert again.status == 400 and "used already or has expired" in await again.text()
        assert await identities(engine) == before
        assert await accounts(engine, other) in ([], [other])


async def test_a_browser_signed_in_as_one_person_does_not_join_another(
    telegram_shop: TestServer, engine: AsyncEngine, clock: FakeClock
) -> None:
    """A shared computer: Tina signed in with Telegram; Eve, on the same browser, signs in
    with her email. Joining would give each the other's card and limit: refused (409), and
    the link stays unused."""
    server = telegram_shop
    base = base_of(server)
    async with browser() as shared:
        me = await enter(shared, base, "demo")
        login = telegram_login(BOT_TOKEN, TELEGRAM_USER, int(clock.now().timestamp()))
        await shared.get(f"{base}/auth/telegram", params=login, allow_redirects=False)
        assert await accounts(engine, me) == ["telegram:424242", me]
        again = await shared.get(f"{base}/auth/telegram", params=login, allow_redirects=False)
        assert again.status == 303  # the same person again: fine
        before = await identities(engine)
        token = await ask_link(shared, base, server, "eve@example.com")
        refused = await open_link(shared, base, token)
        assert refused.status == 409 and "signed in as telegram:424242" in await refused.text()
        assert await identities(engine) == before
        async with engine.connect() as conn:
            used = (await conn.execute(text("SELECT used_at FROM email_sign_in"))).scalar()
        assert used is None  # the whole use case rolled back


async def test_an_expired_or_made_up_email_link_is_refused(
    local: TestServer, engine: AsyncEngine, clock: FakeClock
) -> None:
    base = base_of(local)
    async with browser() as anna:
        me = await enter(anna, base, "demo")
        token = await ask_link(anna, base, local, "anna@example.com")
        clock.advance(minutes=15, seconds=1)
        before = await identities(engine)
        late = await open_link(anna, base, token)
        assert late.status == 400 and "expired" in await late.text()
        made_up = await open_link(anna, base, "A" * 43)
        assert made_up.status == 400
        assert (await anna.get(f"{base}/auth/email/not-a-token")).status == 400
        assert await identities(engine) == before
        assert "email:anna@example.com" not in await accounts(engine, me)


async def test_a_bad_address_or_a_foreign_form_sends_nothing(local: TestServer) -> None:
    base = base_of(local)
    async with browser() as anna:
        await enter(anna, base, "demo")
        for bad in ("anna", "anna@", "a b@example.com", "x" * 60 + "@example.com"):
            answer = await anna.post(f"{base}/auth/email", data={"email": bad})
            assert answer.status == 400, bad
            assert "is not an email address" in await answer.text()
    async with ClientSession() as foreign:  # a form on another site: no viewer cookie
        answer = await foreign.post(f"{base}/auth/email", data={"email": "x@example.com"})
        assert answer.status == 403
    assert not local.app[MAILBOX].letters


async def test_nobody_mails_an_address_more_than_three_links(local: TestServer) -> None:
    base = base_of(local)
    async with browser() as eve:
        await enter(eve, base, "demo")
        for _ in range(3):
            sent = await eve.post(f"{base}/auth/email", data={"email": "victim@example.com"})
            assert sent.status == 200
        bombed = await eve.post(f"{base}/auth/email", data={"email": "Victim@example.com "})
        assert bombed.status == 429 and int(bombed.headers["Retry-After"]) > 0
        assert "too many sign-in links" in await bombed.text()
        assert len(local.app[MAILBOX].letters) == 3
        other = await eve.post(f"{base}/auth/email", data={"email": "anna@example.com"})
        assert other.status == 200  # another address is not held up


async def test_sign_in_pages_hand_out_identities_no_faster_than_the_chat(
    web_shop: WebShop,
) -> None:
    """LIVEBUY_RATE_PER_IP counts new identities made by the sign-in pages too."""
    async with web_shop(livebuy_trusted_proxies="127.0.0.1", livebuy_rate_per_ip="2/60s") as shop:
        base, client = base_of(shop), {"X-Forwarded-For": "203.0.113.9"}
        statuses = []
        for _ in range(3):
            async with ClientSession() as fresh:  # no cookie: a new identity each time
                answer = await fresh.get(f"{base}/auth/email/{'A' * 43}", headers=client)
                statuses.append(answer.status)
        assert statuses == [200, 200, 429]
        assert "Retry-After" in answer.headers


async def test_one_address_from_two_browsers_is_one_buyer_with_one_limit(
    local: TestServer, engine: AsyncEngine
) -> None:
    base, bus = base_of(local), local.app[BUS]
    await add_product(bus, "MUG", stock=20)
    await start_drop(bus, "MUG", quantity=20, limit=2, channels=("web:demo",))
    async with browser() as laptop, browser() as phone:
        first, second = await enter(laptop, base, "demo"), await enter(phone, base, "demo")
        anonymous = await bus.handle(c.ChatMessage("m:0", "web:demo", first, "#buy", "Anna"))
        assert isinstance(anonymous, chat.Failed) and anonymous.sign_in  # signed-in mode
        for http in (laptop, phone):
            done = await open_link(http, base, await ask_link(http, base, local, "a@example.com"))
            assert done.status == 303
        assert await accounts(engine, first) == sorted(["email:a@example.com", first, second])
        claim = await bus.handle(c.ChatMessage("m:1", "web:demo", first, "#buy 2", "Anna"))
        assert isinstance(claim, chat.Claimed) and claim.result.outcome.value == "won"
        more = await bus.handle(c.ChatMessage("m:2", "web:demo", second, "#buy", "Anna"))
        assert isinstance(more, chat.Claimed) and more.result.reason == "limit_reached"


async def test_a_seller_signs_in_and_is_a_seller_by_that_account(
    local: TestServer, engine: AsyncEngine, cli: Callable[..., str]
) -> None:
    base, bus = base_of(local), local.app[BUS]
    await asyncio.to_thread(cli, "seller", "add", "email:Owner@Shop.example")  # any case
    async with browser() as owner:
        me = await enter(owner, base, "demo")
        assert not (await bus.handle(c.AdmitWebLine(me, "Shop Owner"))).seller
        await add_product(bus, "MUG", stock=5)
        drop = c.ChatMessage("m:0", "web:demo", me, "/drop MUG 5 10", "Owner")
        assert isinstance(await bus.handle(drop), chat.Failed)  # not yet a seller
        token = await ask_link(owner, base, local, "owner@shop.example")
        assert (await open_link(owner, base, token)).status == 303
        assert (await bus.handle(c.AdmitWebLine(me, "Shop Owner"))).seller
        started = await bus.handle(c.ChatMessage("m:1", "web:demo", me, "/drop MUG 5 10", "Owner"))
        assert isinstance(started, chat.DropOpened)


# SMTP ---------------------------------------------------------------------------------------


async def test_the_link_goes_through_a_real_smtp_server(
    web_shop: WebShop, caplog: pytest.LogCaptureFixture
) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    received: list[Any] = []
    logins: list[tuple[bytes, bytes]] = []

    class Inbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        assert isinstance(data, LoginPassword)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"p@ss word")

    port = free_port()
    # aiosmtpd's own thread and loop: a real SMTP conversation over a socket, AUTH included.
    controller = Controller(
        Inbox(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        smtp_url = f"smtp://mailer:p%40ss%20word@127.0.0.1:{port}"
        async with web_shop(smtp_url=smtp_url, livebuy_mail_from="shop@example.com") as server:
            base = base_of(server)
            assert MAILBOX not in server.app  # SMTP configured: no local mailbox
            async with browser() as anna:
                await enter(anna, base, "demo")
                assert (await anna.get(f"{base}/dev/mail")).status == 404
                await anna.get(f"{base}/auth/email?room=demo")
                sent = await anna.post(f"{base}/auth/email", data={"email": "anna@example.com"})
                assert sent.status == 200, await sent.text()
                [envelope] = received
                assert envelope.mail_from == "shop@example.com"
                assert envelope.rcpt_tos == ["anna@example.com"]
                body = envelope.content.decode()
                found = LINK.search(body)
                assert found is not None and "15 minutes" in body
                assert logins == [(b"mailer", b"p@ss word")]
                done = await open_link(anna, base, found[1])
                assert done.status == 303
    finally:
        controller.stop()
    assert "p@ss" not in caplog.text and found[1] not in caplog.text


async def test_an_smtp_server_that_refuses_is_a_clear_error(web_shop: WebShop) -> None:
    async with web_shop(smtp_url=f"smtp://127.0.0.1:{free_port()}") as server:
        base = base_of(server)
        async with browser() as anna:
            await enter(anna, base, "demo")
            sent = await anna.post(f"{base}/auth/email", data={"email": "anna@example.com"})
            assert sent.status == 502 and "could not be sent" in await sent.text()


# Telegram -----------------------------------------------------------------------------------


@pytest.fixture
async def telegram_shop(web_shop: WebShop) -> AsyncIterator[TestServer]:
    bot_api = FakeBotApi(token=BOT_TOKEN)  # the bot runs too: at a fake Bot API
    await bot_api.start()
    async with web_shop(
        telegram_bot_token=BOT_TOKEN,
        telegram_api_base_url=bot_api.url,
        telegram_login_bot="shop_bot",
        livebuy_sellers="telegram:424242",
    ) as server:
        yield server
    await bot_api.close()


async def test_a_telegram_login_signs_in_and_a_seller_is_recognised(
    telegram_shop: TestServer, engine: AsyncEngine, clock: FakeClock
) -> None:
    base, bus = base_of(telegram_shop), telegram_shop.app[BUS]
    async with browser() as tina:
        me = await enter(tina, base, "demo")
        page = await (await tina.get(f"{base}/chat/demo")).text()
        assert 'href="/auth/telegram/login?room=demo"' in page
        widget = await tina.get(f"{base}/auth/telegram/login?room=demo")
        html = await widget.text()
        assert 'data-telegram-login="shop_bot"' in html and "/auth/telegram" in html
        assert "https://telegram.org" in widget.headers["Content-Security-Policy"]
        login = telegram_login(BOT_TOKEN, TELEGRAM_USER, int(clock.now().timestamp()) - 60)
        done = await tina.get(f"{base}/auth/telegram", params=login, allow_redirects=False)
        assert done.status == 303 and done.headers["Location"] == "/chat/demo"
        assert await accounts(engine, me) == ["telegram:424242", me]
        assert (await bus.handle(c.AdmitWebLine(me, "Tina"))).seller  # LIVEBUY_SELLERS


@pytest.mark.parametrize(
    "attack",
    ["forged hash", "other bot's token", "changed id", "stale", "from the future", "no hash"],
)
async def test_a_forged_or_stale_telegram_login_is_refused(
    telegram_shop: TestServer, engine: AsyncEngine, clock: FakeClock, attack: str
) -> None:
    base = base_of(telegram_shop)
    now = int(clock.now().timestamp())
    login = telegram_login(BOT_TOKEN, TELEGRAM_USER, now)
    match attack:
        case "forged hash":
            login["hash"] = "0" * 64
        case "other bot's token":
            login = telegram_login("999:another-bot", TELEGRAM_USER, now)
        case "changed id":
            login["id"] = "1"  # a seller's id, say, under Tina's hash
        case "stale":
            login = telegram_login(BOT_TOKEN, TELEGRAM_USER, now - 86400 - 60)
        case "from the future":
            login = telegram_login(BOT_TOKEN, TELEGRAM_USER, now + 3600)
        case "no hash":
            del login["hash"]
    async with browser() as eve:
        me = await enter(eve, base, "demo")
        before = await identities(engine)
        refused = await eve.get(f"{base}/auth/telegram", params=login, allow_redirects=False)
        assert refused.status == 403
        assert "Telegram" in await refused.text()
        assert await identities(engine) == before
        assert await accounts(engine, me) in ([], [me])


async def test_telegram_sign_in_is_off_without_the_bot(local: TestServer) -> None:
    base = base_of(local)
    async with browser() as http:
        page = await (await http.get(f"{base}/chat/demo")).text()
        assert "/auth/telegram" not in page and "/auth/discord" not in page
        assert 'href="/auth/email?room=demo"' in page  # local mode: email links
        assert (await http.get(f"{base}/auth/telegram/login")).status == 404
        assert (await http.get(f"{base}/auth/discord")).status == 404


async def test_no_sign_in_is_offered_that_is_not_configured(web_shop: WebShop) -> None:
    """A real shop (a Stripe key) without SMTP_URL, Telegram login or Discord client: no
    sign-in button, and the sign-in routes (and the local mailbox) do not exist."""
    async with web_shop(stripe_secret_key="sk_test_configured") as server:
        base = base_of(server)
        async with browser() as http:
            page = await (await http.get(f"{base}/chat/demo")).text()
            assert "Sign in with" not in page and 'id="sign-in"' not in page
            for path in ("/auth/email", "/dev/mail", "/auth/telegram/login", "/auth/discord"):
                assert (await http.get(f"{base}{path}")).status == 404, path


# Discord ------------------------------------------------------------------------------------


@pytest.fixture
async def discord(web_shop: WebShop) -> AsyncIterator[tuple[TestServer, FakeDiscord]]:
    fake = FakeDiscord()
    async with TestServer(fake.app(), host="127.0.0.1") as provider:
        at = base_of(provider)
        async with web_shop(
            discord_client_id=CLIENT_ID,
            discord_client_secret=CLIENT_SECRET,
            discord_oauth_base_url=at,
            discord_api_base_url=f"{at}/api/v10",
        ) as server:
            yield server, fake


async def test_discord_oauth_signs_in(
    discord: tuple[TestServer, FakeDiscord], engine: AsyncEngine
) -> None:
    server, fake = discord
    base = base_of(server)
    redirect = f"{server.app['settings'].public_base_url if False else ''}"  # noqa: F841
    async with browser() as nelly:
        me = await enter(nelly, base, "demo")
        start = await nelly.get(f"{base}/auth/discord?room=demo", allow_redirects=False)
        assert start.status == 302
        to_discord = start.headers["Location"]
        assert "scope=identify" in to_discord and f"client_id={CLIENT_ID}" in to_discord
        assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fauth%2Fdiscord%2Fcallback" in (
            to_discord
        )
        back = await nelly.get(to_discord, allow_redirects=False)  # Discord: "Authorize"
        callback = back.headers["Location"].replace("http://127.0.0.1:8080", base)
        done = await nelly.get(callback, allow_redirects=False)
        assert done.status == 303, await done.text()
        assert done.headers["Location"] == "/chat/demo"
        [form] = fake.token_requests
        assert form["grant_type"] == "authorization_code" and CLIENT_SECRET not in str(form)
        assert await accounts(engine, me) == [f"discord:{DISCORD_USER['id']}", me]


@pytest.mark.parametrize("attack", ["wrong state", "no state cookie", "another viewer"])
async def test_a_wrong_oauth_state_is_refused(
    discord: tuple[TestServer, FakeDiscord], engine: AsyncEngine, attack: str
) -> None:
    server, fake = discord
    base = base_of(server)
    async with browser() as victim, browser() as eve:
        me = await enter(victim, base, "demo")
        await enter(eve, base, "demo")
        # Eve starts a sign-in with her own Discord account and keeps the code...
        start = await eve.get(f"{base}/auth/discord?room=demo", allow_redirects=False)
        back = await eve.get(start.headers["Location"], allow_redirects=False)
        callback = back.headers["Location"].replace("http://127.0.0.1:8080", base)
        before = await identities(engine)
        if attack == "wrong state":  # ...and plays it into her own session with another state
            refused = await eve.get(re.sub(r"state=[^&]+", "state=guessed", callback))
        elif attack == "no state cookie":  # ...or into the victim's browser (login CSRF)
            refused = await victim.get(callback)
        else:  # ...or the victim started one too: Eve's state is not the victim's
            await victim.get(f"{base}/auth/discord?room=demo", allow_redirects=False)
            refused = await victim.get(callback)
        assert refused.status == 403
        assert "Discord sign-in" in await refused.text()
        assert await identities(engine) == before
        assert await accounts(engine, me) in ([], [me])
        assert not fake.token_requests  # the code was never even exchanged


async def test_a_sign_in_cancelled_at_discord_changes_nothing(
    discord: tuple[TestServer, FakeDiscord], engine: AsyncEngine
) -> None:
    server, fake = discord
    base = base_of(server)
    async with browser() as nelly:
        await enter(nelly, base, "demo")
        start = await nelly.get(f"{base}/auth/discord?room=demo", allow_redirects=False)
        state = re.search(r"state=([^&]+)", start.headers["Location"])
        assert state is not None
        before = await identities(engine)
        # What Discord sends back when the person presses Cancel.
        cancel = (
            f"error=access_denied&error_description=The+resource+owner+denied&state={state[1]}"
        )
        answer = await nelly.get(f"{base}/auth/discord/callback?{cancel}")
        assert answer.status == 400 and "cancelled" in await answer.text()
        assert await identities(engine) == before and not fake.token_requests


async def test_a_code_discord_refuses_is_a_clear_error(
    discord: tuple[TestServer, FakeDiscord], engine: AsyncEngine
) -> None:
    server, _ = discord
    base = base_of(server)
    async with browser() as nelly:
        await enter(nelly, base, "demo")
        start = await nelly.get(f"{base}/auth/discord?room=demo", allow_redirects=False)
        state = re.search(r"state=([^&]+)", start.headers["Location"])
        assert state is not None
        before = await identities(engine)
        bad = await nelly.get(f"{base}/auth/discord/callback?code=made-up&state={state[1]}")
        assert bad.status == 502 and "invalid_grant" in await bad.text()
        assert await identities(engine) == before
