"""The seller dashboard in a real browser, beside a buyer in the web chat: sign-in (a wrong
token refused), a drop started from the dashboard, the order appearing live as the viewer
claims and pays, a refund, and a screenshot of the dashboard after the flow."""

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.commands import CreateShow, SettlePayment
from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_web_chat import ARTIFACTS, free_port, join, say
from tests.conftest import test_settings
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS

TOKEN = "browser-admin-token-0123456789"
SHOTS = ARTIFACTS / "screenshots"


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[tuple[str, MessageBus]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base, livebuy_admin_token=TOKEN)
    app = create_app(settings, engine=engine, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        yield base, server.app[BUS]


async def sign_in(browser: Browser, base: str) -> Page:
    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    await page.goto(f"{base}/dashboard")
    await expect(page).to_have_url(f"{base}/dashboard/login")
    await page.fill("input[name=token]", "not-the-token")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator(".error")).to_contain_text("not the admin token")
    await page.fill("input[name=token]", TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live")).to_have_text("live")
    return page


async def test_a_show_seen_from_the_dashboard(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, bus = shop
    seller = await sign_in(browser, base)

    await seller.fill("form[action='/dashboard/products'] input[name=sku]", "HOODIE")
    await seller.fill("form[action='/dashboard/products'] input[name=name]", "Show hoodie")
    await seller.fill("form[action='/dashboard/products'] input[name=price]", "49")
    await seller.get_by_role("button", name="Add product").click()
    await expect(seller.locator("#flash")).to_have_text("Added HOODIE.")
    await expect(seller.locator("#products")).to_contain_text("Show hoodie")

    drop_form = seller.locator("form[action='/dashboard/drops']")
    await drop_form.locator("select[name=sku]").select_option("HOODIE")
    await drop_form.locator("input[name=quantity]").fill("3")
    await drop_form.locator("input[name=chat]").fill("web:live")
    await seller.get_by_role("button", name="Start drop").click()
    await expect(seller.locator("#flash")).to_have_text("Drop HOODIE is live in web:live.")
    await expect(seller.locator("#drops")).to_contain_text("3/3")

    anna = await join(browser, f"{base}/chat/live", "anna")
    ben = await join(browser, f"{base}/chat/live", "ben")
    await say(anna, "#buy")
    link = anna.locator("#log li.private a")
    await expect(link).to_have_count(1)
    # The order appears on the dashboard without a reload.
    await expect(seller.locator("#orders tbody tr")).to_have_count(1)
    await expect(seller.locator("#orders")).to_contain_text("checkout_open")
    await expect(seller.locator("#orders td.buyer")).to_have_text("annaweb")  # name, label
    assert (await seller.locator("#orders td.buyer").get_attribute("title") or "").startswith(
        "web:"
    )  # the id on hover

    checkout = await anna.context.new_page()
    await checkout.goto(await link.get_attribute("href") or "")
    await checkout.click("text=Pay with test card 4242")
    await expect(checkout.locator("h1")).to_have_text("Thank you!", timeout=10_000)
    # The card kept for one-message buys is told after it (CardSaved).
    await expect(anna.locator("#log li.private", has_text="Payment received")).to_be_visible()
    await expect(seller.locator("#orders td.status").first).to_have_text("paid")
    await expect(seller.locator("#funnel")).to_contain_text("web")
    total = seller.locator("#sales-total")
    await expect(total).to_have_text("1 paid order in the last 30 minutes")
    assert await ben.locator("#log li.private").count() == 0  # anna's link is hers alone

    await say(ben, "#buy")
    await expect(seller.locator("#orders tbody tr")).to_have_count(2)
    await expect(seller.locator("#drops")).to_contain_text("1/3")
    ARTIFACTS.mkdir(exist_ok=True)
    await seller.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    seller.on("dialog", lambda dialog: dialog.accept())
    await seller.locator("#orders button", has_text="Refund").click()
    await expect(seller.locator("#flash")).to_contain_text("Refund of order")
    # The emulator confirms the refund by webhook; the row turns refunded by itself.
    await expect(seller.locator("#orders")).to_contain_text("refunded", timeout=10_000)
    statuses = sorted(o.status.value for o in await bus.deps.store.orders(None, None))
    assert statuses == ["checkout_open", "refunded"]


async def test_the_dashboard_fits_a_phone(browser: Browser, shop: tuple[str, MessageBus]) -> None:
    base, _ = shop
    context = await browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = await context.new_page()
    await page.goto(f"{base}/dashboard/login")
    await page.fill("input[name=token]", TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live")).to_have_text("live")
    # Wide tables scroll inside their card; the page itself never scrolls sideways.
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    await page.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)


async def test_the_sellers_money_and_buyers(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, bus = shop
    seller = await sign_in(browser, base)
    # Before any sale every part says what will appear there.
    await expect(seller.locator("#money-today .value")).to_have_text("€0.00")
    await expect(seller.locator("#money-show .detail")).to_contain_text("once one runs")
    await expect(seller.locator("#no-sales")).to_be_visible()
    await expect(seller.locator("#no-funnel")).to_be_visible()
    await expect(seller.locator("#no-drops")).to_be_visible()

    await add_product(bus, "MUG", stock=10)  # €25.00
    await start_drop(bus, "MUG", quantity=5, channels=())  # every chat
    for who, quantity in (("web:Q1w2E3r4", 2), ("telegram:4242", 1)):
        won = await buy(bus, who, quantity=quantity)
        assert won.order is not None
        await bus.handle(SettlePayment(won.order.ref, f"pi_{won.order.ref}", "evt_" + who))
    await expect(seller.locator("#money-today .value")).to_have_text("€75.00")
    await expect(seller.locator("#money-today .detail")).to_have_text(
        "2 orders · 3 items sold · average €37.50"
    )
    await expect(seller.locator("#money-all .value")).to_have_text("€75.00")
    await expect(seller.locator("#drops td.chats")).to_have_text("all chats")
    buyer = seller.locator("#orders td.buyer").first  # newest first: the Telegram buyer
    await expect(buyer).to_have_text("4242telegram")
    await expect(buyer).to_have_attribute("title", "telegram:4242")
    await expect(seller.locator("#orders .platform").last).to_have_text("web")
    await expect(seller.locator("#chart text", has_text="paid orders/min")).to_have_count(1)
    await expect(seller.locator("#sales-total")).to_have_text(
        "2 paid orders in the last 30 minutes"
    )
    await expect(seller.locator("#no-sales")).to_be_hidden()
    SHOTS.mkdir(parents=True, exist_ok=True)
    await seller.screenshot(path=str(SHOTS / "dashboard-1280.png"), full_page=True)
    await seller.set_viewport_size({"width": 390, "height": 844})
    overflow = await seller.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    await seller.screenshot(path=str(SHOTS / "dashboard-390.png"), full_page=True)


async def test_every_dashboard_page_fits_a_phone_with_tables_as_cards(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, bus = shop
    await add_product(bus, "MUG", stock=10)
    await start_drop(bus, "MUG", quantity=5, channels=("telegram:-1001234567890", "web:demo"))
    won = await buy(bus, "telegram:4242", quantity=2)
    assert won.order is not None
    await bus.handle(SettlePayment(won.order.ref, f"pi_{won.order.ref}", "evt_phone"))
    show = await bus.handle(CreateShow("Sunday cards", bus.clock.now(), ("web:demo",)))
    seller = await sign_in(browser, base)
    await seller.set_viewport_size({"width": 390, "height": 844})
    # The orders table is a list of cards: no header row, each value under its column's name.
    await expect(seller.locator("#orders thead")).to_be_hidden()
    status = seller.locator("#orders td[data-label=Status]")
    await expect(status).to_have_text("paid")
    assert await status.evaluate("td => getComputedStyle(td, '::before').content") == '"Status"'
    pages = ("", "/shows", f"/shows/{show.code}", "/shipping", "/zones")
    for width, path in [(w, p) for w in (390, 320) for p in pages]:
        await seller.set_viewport_size({"width": width, "height": 844})
        await seller.goto(f"{base}/dashboard{path}")
        await expect(seller.locator("h1")).to_have_text("livebuy · seller dashboard")
        overflow = await seller.evaluate(
            "document.documentElement.scrollWidth - window.innerWidth"
        )
        assert overflow <= 0, f"/dashboard{path} is {overflow}px too wide at {width} px"
        name = "dashboard" + path.replace("/", "-").lower()
        await seller.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
