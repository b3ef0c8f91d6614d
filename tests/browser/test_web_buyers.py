"""Who is a buyer in the web chat, in a real browser (#18 items 1, 3 and 5): the page names
the viewer by their public id; a name like the shop's is refused on screen; a seller's lines
carry a badge; in first-paid mode a claim holds nothing but gives a pay link; My orders lists
it with its pay link; a reload shows the viewer's private lines again, to them alone."""

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.integration.helpers import add_product, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[tuple[str, MessageBus]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base, livebuy_web_claims="first-paid")
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
    await page.click("form#send button")


async def test_a_web_buyer_in_a_browser(browser: Browser, shop: tuple[str, MessageBus]) -> None:
    base, bus = shop
    await add_product(bus, "MUG", stock=5)
    await start_drop(bus, "MUG", quantity=5, limit=2, channels=("web:demo",))
    sam = await join(browser, f"{base}/chat/demo", "Sam")
    anna = await join(browser, f"{base}/chat/demo", "Anna")
    sam_id = await sam.locator("body").get_attribute("data-viewer") or ""
    assert sam_id.startswith("web:v_")
    await expect(sam.locator("#you")).to_have_text(f"you are {sam_id}")
    cookies = await anna.context.cookies()
    [viewer] = [k for k in cookies if k["name"] == "livebuy_viewer"]
    assert viewer["httpOnly"] and viewer["sameSite"] == "Lax"
    assert viewer["value"].partition(".")[0] not in await anna.content()  # never on the page

    await bus.handle(c.AddSeller(sam_id))
    await say(sam, "welcome everyone")
    await expect(anna.locator("#log li.seller .badge")).to_have_text("seller")
    await anna.fill("#name", "L1ve Buy")
    await say(anna, "pay here: http://evil.example")
    await expect(anna.locator("#log")).to_contain_text("is the shop's name")
    await anna.fill("#name", "sam")
    await say(anna, "I am the seller")
    await expect(anna.locator("#log")).to_contain_text("is a seller's name")
    assert "evil.example" not in await sam.locator("#log").inner_text()

    await anna.fill("#name", "Anna")
    await say(anna, "#buy")
    await expect(anna.locator("#log li.private a")).to_have_count(1)  # her pay link
    await expect(anna.locator("#board-info")).to_contain_text("5 of 5 left")  # held nothing
    await anna.click("#my-orders")
    orders = anna.locator("#log li.private", has_text="Your orders")
    await expect(orders).to_contain_text("Pay:")
    await expect(orders.locator("a")).to_have_count(1)
    await anna.reload()
    await expect(anna.locator("#status")).to_have_text("live")
    await expect(anna.locator("#log li.private", has_text="Your orders")).to_have_count(1)
    await expect(anna.locator("#log li.private a")).to_have_count(2)  # the link, the listing's
    assert await sam.locator("#log li.private").count() == 0
