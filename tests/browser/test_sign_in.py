"""Sign-in in a real browser (#18 item 2): Sign in with Telegram through a fake of Telegram's
Login Widget (its script from another origin, redirect mode, a login signed with the bot's
token) and the email link in local mode through the local mailbox (/dev/mail). In
LIVEBUY_WEB_CLAIMS=signed-in mode an anonymous #buy is answered with the sign-in buttons;
once signed in, the same viewer's claim holds and the header names the account."""

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_web_buyers import join, say
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.fake_sign_ins import FakeTelegramLogin
from tests.integration.helpers import add_product, start_drop
from tests.telegram.fake_bot_api import FakeBotApi
from webhooks.app import create_app
from webhooks.keys import BUS


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[tuple[str, MessageBus]]:
    """Local mode (email links on /dev/mail) with Sign in with Telegram, whose widget script
    comes from a fake Telegram on another origin; claims need a sign-in."""
    bot_api = FakeBotApi()  # the bot itself runs too (TELEGRAM_BOT_TOKEN): at a fake Bot API
    await bot_api.start()
    login = FakeTelegramLogin(bot_api.token).app()
    async with TestServer(login, host="127.0.0.1") as telegram:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = test_settings(
            database_url,
            public_base_url=base,
            livebuy_web_claims="signed-in",
            telegram_bot_token=bot_api.token,
            telegram_api_base_url=bot_api.url,
            telegram_login_bot="shop_bot",
            telegram_login_widget_url=str(telegram.make_url("/js/telegram-widget.js")),
        )
        app = create_app(settings, engine=engine, sweep_every=3600)
        async with TestServer(app, host="127.0.0.1", port=port) as server:
            yield base, server.app[BUS]
    await bot_api.close()


async def refused_with_sign_in_buttons(page: Page) -> None:
    await say(page, "#buy")
    refusal = page.locator("#log li.private", has_text="need a sign-in")
    await expect(refusal).to_have_count(1)
    await expect(refusal.locator("a.sign-in")).to_have_count(2)  # Telegram and email
    await expect(page.locator("#board-info")).to_contain_text("5 of 5 left")


async def test_sign_in_with_telegram(browser: Browser, shop: tuple[str, MessageBus]) -> None:
    base, bus = shop
    await add_product(bus, "MUG", stock=5)
    await start_drop(bus, "MUG", quantity=5, limit=2, channels=("web:demo",))
    tina = await join(browser, f"{base}/chat/demo", "Tina")
    await refused_with_sign_in_buttons(tina)
    await tina.locator("#log li.private a.sign-in", has_text="Telegram").click()
    await expect(tina.locator("h1")).to_have_text("Sign in with Telegram")
    await tina.click("#telegram-login")  # the widget: Telegram signs the login, redirects
    await expect(tina).to_have_url(f"{base}/chat/demo")
    await expect(tina.locator("#signed-in")).to_have_text("telegram:424242")
    await expect(tina.locator("#sign-in")).to_have_count(0)
    await expect(tina.locator("#status")).to_have_text("live")
    await say(tina, "#buy")
    await expect(tina.locator("#board-info")).to_contain_text("4 of 5 left")  # it holds


async def test_sign_in_with_an_email_link(browser: Browser, shop: tuple[str, MessageBus]) -> None:
    base, bus = shop
    await add_product(bus, "MUG", stock=5)
    await start_drop(bus, "MUG", quantity=5, limit=2, channels=("web:demo",))
    anna = await join(browser, f"{base}/chat/demo", "Anna")
    await refused_with_sign_in_buttons(anna)
    await anna.locator("#sign-in a", has_text="email").click()
    await anna.fill("#email", "anna@example.com")
    await anna.click("button[type=submit]")
    await expect(anna.locator("h1")).to_have_text("Check your email")
    assert "/auth/email/" not in await anna.content()  # the link only in the mailbox
    await anna.goto(f"{base}/dev/mail")  # local mode: the mailbox on this machine
    await expect(anna.locator("article")).to_contain_text("to anna@example.com")
    link = await anna.locator("article a").first.get_attribute("href") or ""
    await anna.goto(link)
    await anna.click("#confirm")
    await expect(anna).to_have_url(f"{base}/chat/demo")
    await expect(anna.locator("#signed-in")).to_have_text("email:anna@example.com")
    await expect(anna.locator("#status")).to_have_text("live")
    await say(anna, "#buy")
    await expect(anna.locator("#board-info")).to_contain_text("4 of 5 left")
    # The same link again: refused with a page that says why.
    await anna.goto(link)
    await anna.click("#confirm")
    await expect(anna.locator("#message")).to_contain_text("used already")
