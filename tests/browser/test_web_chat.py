"""The web chat in a real browser: #buy, the private checkout link, paying on the emulator
page, the confirmation in the chat, and a second viewer who never sees the first one's link."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.integration.helpers import add_product, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS

ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[tuple[str, MessageBus]]:
    """The whole app in local mode on a loopback port: its base URL and its bus."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base)
    app = create_app(settings, engine=engine, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        yield base, server.app[BUS]


async def join(browser: Browser, url: str, name: str) -> Page:
    page = await (await browser.new_context()).new_page()
    await page.goto(url)
    await expect(page.locator("#status")).to_have_text("live")
    await page.fill("#name", name)
    return page


async def say(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.click("form button")


async def test_buy_pay_and_see_it_in_the_chat(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, bus = shop
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=2, channels=("web:demo",))

    anna = await join(browser, f"{base}/chat/demo", "anna")
    ben = await join(browser, f"{base}/chat/demo", "ben")
    await say(anna, "omg want it #buy")

    link = anna.locator("#log li.private a")
    await expect(link).to_have_count(1)
    await expect(anna.locator("#log")).to_contain_text("@anna: 1 × TEE product is yours")
    await expect(ben.locator("#log")).to_contain_text("@anna: 1 × TEE product is yours")
    await expect(ben.locator("#board-info")).to_have_text("1 of 2 left")

    checkout = await anna.context.new_page()
    await checkout.goto(await link.get_attribute("href") or "")
    await expect(checkout.locator("body")).to_contain_text("TEST MODE")
    await checkout.click("text=Pay with test card 4242")
    await expect(checkout.locator("h1")).to_have_text("Thank you!", timeout=10_000)

    # The card kept for one-message buys is told after it (CardSaved).
    await expect(anna.locator("#log li.private", has_text="Payment received")).to_be_visible()
    await expect(ben.locator("#log")).to_contain_text("TEE product sold to @anna")
    # The link went to anna alone.
    assert "stripe-emulator" not in await ben.locator("#log").inner_text()
    assert await ben.locator("#log li.private").count() == 0

    [order] = await bus.deps.store.orders(None, None)
    assert order.status is OrderStatus.PAID
    ARTIFACTS.mkdir(exist_ok=True)
    await anna.screenshot(path=str(ARTIFACTS / "web-chat.png"), full_page=True)


async def test_the_buy_button_and_bad_input(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, bus = shop
    cleo = await join(browser, f"{base}/chat/shop", "cleo")
    await say(cleo, "#buy")
    await expect(cleo.locator("#log")).to_contain_text("No drop is live here.")
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=1, channels=("web:shop",))
    await say(cleo, "#buy TEE 0")
    await expect(cleo.locator("#log")).to_contain_text("'0' is not a quantity")
    await say(cleo, "#buy")
    await expect(cleo.locator("#board")).to_be_visible()
    dan = await join(browser, f"{base}/chat/shop", "dan")
    await expect(dan.locator("#board-info")).to_have_text("0 of 1 left")
    await dan.click("#buy")
    await expect(dan.locator("#log")).to_contain_text("number 1 on the waitlist")
