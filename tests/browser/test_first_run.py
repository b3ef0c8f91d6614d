"""A newcomer's first minutes in a real browser: the home page, the seeded demo drop's card on
the very first load of the demo room and again after a restart (cards come from the database),
the room's recent lines for whoever joins later, the pay link as a button and the way back
from the checkout to the room; at 1280 and 390 px, never scrolling sideways on a phone."""

from playwright.async_api import Browser, Page, expect

from tests.browser.conftest import Serve
from tests.browser.test_web_chat import ARTIFACTS, join, say
from tests.conftest import test_settings
from tests.integration.helpers import add_product, start_drop
from webhooks.cli.serve import seed_demo

SHOTS = ARTIFACTS / "screenshots"


async def at(browser: Browser, url: str, width: int) -> Page:
    context = await browser.new_context(
        viewport={"width": width, "height": 844 if width < 500 else 900}, is_mobile=width < 500
    )
    page = await context.new_page()
    await page.goto(url)
    return page


async def fits(page: Page, name: str, full_page: bool = True) -> None:
    """Laid out at the phone's width, no sideways scrolling; a screenshot kept for the run."""
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px too wide"
    width = page.viewport_size["width"] if page.viewport_size else 0
    # A page without <meta name="viewport"> is laid out 980 px wide on a phone and shrunk to
    # fit: nothing scrolls sideways, and nothing can be read either.
    laid_out = await page.evaluate("window.innerWidth")
    assert laid_out == width, f"{page.url} is laid out {laid_out}px wide on a {width}px screen"
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=full_page)


async def test_the_demo_card_on_the_first_load_and_after_a_restart(
    browser: Browser, serve: tuple[str, Serve], database_url: str
) -> None:
    base, running = serve
    async with running() as bus:
        assert await seed_demo(bus, test_settings(database_url))  # what `livebuy serve` does
        anna = await join(browser, f"{base}/chat/demo", "anna")
        await expect(anna.locator("#board")).to_be_visible()
        await expect(anna.locator("#board-title")).to_have_text("Demo tee · €25.00")
        await expect(anna.locator("#board-info")).to_have_text("20 of 20 left")
        await anna.click("#buy")
        pay = anna.locator("#log li.private a.pay")
        await expect(pay).to_have_text("Pay now")
        assert "/pay/" in (await pay.get_attribute("href") or "")
        await say(anna, "love it")
        # Someone joining later sees what was said, and the card as it is now.
        ben = await join(browser, f"{base}/chat/demo", "ben")
        await expect(ben.locator("#log")).to_contain_text("anna: love it")
        await expect(ben.locator("#log")).to_contain_text("@anna: 1 × Demo tee is yours")
        assert await ben.locator("#log li.private").count() == 0
        await expect(ben.locator("#board-info")).to_have_text("19 of 20 left")
        SHOTS.mkdir(parents=True, exist_ok=True)
        await anna.screenshot(path=str(SHOTS / "web-chat-buyer-1280.png"))  # her Pay button
        for width in (1280, 390, 320):
            page = await join(browser, f"{base}/chat/demo", "cleo")
            await page.set_viewport_size({"width": width, "height": 844})
            await fits(page, "web-chat")

    async with running():  # a restart: nothing in memory, the card comes from the database
        page = await join(browser, f"{base}/chat/demo", "dan")
        await expect(page.locator("#log")).to_contain_text("anna: love it")  # kept on disk
        await expect(page.locator("#board-title")).to_have_text("Demo tee · €25.00")
        await expect(page.locator("#board-info")).to_have_text("19 of 20 left")
        await expect(page.locator("#buy")).to_be_enabled()


async def test_the_home_page(browser: Browser, serve: tuple[str, Serve]) -> None:
    base, running = serve
    async with running() as bus:
        page = await at(browser, f"{base}/", 1280)
        await expect(page.locator("h1")).to_have_text("livebuy")
        await expect(page.locator("body")).to_contain_text("Nothing is live in the web chat")
        await expect(page.get_by_role("link", name="Dashboard")).to_have_attribute(
            "href", "/dashboard"
        )
        await add_product(bus, "MUG", stock=5)
        await start_drop(bus, "MUG", channels=("web:shop",))
        await page.reload()
        await expect(page.get_by_role("link", name="#shop")).to_have_attribute(
            "href", "/chat/shop"
        )
        for width in (1280, 390, 320):
            await page.set_viewport_size({"width": width, "height": 844})
            await fits(page, "home")

        await page.get_by_role("link", name="Docs").click()
        await expect(page.locator("body")).to_contain_text("livebuy")
        await page.go_back()
        await page.get_by_role("link", name="Try a purchase").click()
        await expect(page).to_have_url(f"{base}/chat/demo")
        await expect(page.locator("#status")).to_have_text("live")


async def test_the_checkout_pages_lead_back_to_the_room(
    browser: Browser, serve: tuple[str, Serve]
) -> None:
    base, running = serve
    async with running() as bus:
        await add_product(bus, "MUG", stock=5)
        await start_drop(bus, "MUG", channels=("web:shop",))
        anna = await join(browser, f"{base}/chat/shop", "anna")
        await say(anna, "#buy")
        pay = anna.locator("#log li.private a.pay")
        href = await pay.get_attribute("href") or ""
        [order] = await bus.deps.store.orders(None, None)

        cancelled = await at(browser, f"{base}/checkout/cancelled?order={order.ref}", 390)
        await expect(cancelled.locator("h1")).to_have_text("Checkout cancelled")
        await fits(cancelled, "checkout-cancelled")
        await cancelled.get_by_role("link", name="Back to #shop").click()
        await expect(cancelled).to_have_url(f"{base}/chat/shop")

        checkout = await at(browser, href, 390)
        await fits(checkout, "checkout")
        await checkout.click("text=Pay with test card 4242")
        await expect(checkout.locator("h1")).to_have_text("Thank you!", timeout=10_000)
        await fits(checkout, "checkout-done")
        await checkout.get_by_role("link", name="Back to #shop").click()
        await expect(checkout).to_have_url(f"{base}/chat/shop")


async def test_the_sign_in_and_link_pages_fit_a_phone(
    browser: Browser, serve: tuple[str, Serve]
) -> None:
    base, running = serve
    async with running():
        for path, name in (("/dashboard/login", "login"), ("/pay/NOSUCH?t=x", "pay-unknown")):
            page = await at(browser, f"{base}{path}", 320)
            await expect(page.locator("h1")).to_be_visible()
            await fits(page, name)
