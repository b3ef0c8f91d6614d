"""A buyer's open orders survive a restart (#19 item 6): the page a viewer opens on a worker
that kept no private lines for them (it restarted) lists their open orders with a Pay now
button, read from the database; nobody else sees them, and a viewer with no order sees
nothing."""

from playwright.async_api import Browser, expect

from tests.browser.conftest import Serve
from tests.browser.test_first_run import fits
from tests.browser.test_web_chat import join, say
from tests.integration.helpers import add_product, start_drop


async def test_a_buyers_pay_button_after_a_restart(
    browser: Browser, serve: tuple[str, Serve]
) -> None:
    base, running = serve
    async with running() as bus:
        await add_product(bus, "MUG", stock=5)
        await start_drop(bus, "MUG", quantity=5, channels=("web:demo",))
        anna = await join(browser, f"{base}/chat/demo", "anna")
        await say(anna, "#buy")
        await expect(anna.locator("#log li.private a.pay")).to_have_text("Pay now")
        [order] = await bus.deps.store.orders(None, None)

    async with running():  # a restart: the server kept her private lines in memory only
        await anna.reload()
        await expect(anna.locator("#status")).to_have_text("live")
        mine = anna.locator("#log li.private", has_text="Your orders")
        await expect(mine).to_contain_text(order.ref)
        await expect(mine.locator("a.pay")).to_have_text("Pay now")
        assert f"/pay/{order.ref}" in (await mine.locator("a.pay").get_attribute("href") or "")
        await anna.reload()  # shown once, as her kept lines are (not again on each load)
        await expect(anna.locator("#status")).to_have_text("live")
        await expect(mine.locator("a.pay")).to_have_text("Pay now")
        await expect(anna.locator("#log li.private")).to_have_count(1)
        await anna.set_viewport_size({"width": 390, "height": 844})
        await fits(anna, "web-chat-orders-after-restart")
        ben = await join(browser, f"{base}/chat/demo", "ben")  # no order: nothing private
        await expect(ben.locator("#board-info")).to_have_text("4 of 5 left")
        assert await ben.locator("#log li.private").count() == 0
        # Once paid, it is no longer waiting for her: no Pay button on the next restart.
        checkout = await anna.context.new_page()
        await checkout.goto(await mine.locator("a.pay").get_attribute("href") or "")
        await checkout.click("text=Pay with test card 4242")
        await expect(checkout.locator("h1")).to_have_text("Thank you!", timeout=10_000)

    async with running():
        await anna.reload()
        await expect(anna.locator("#status")).to_have_text("live")
        mine = anna.locator("#log li.private", has_text="Your orders")
        await expect(mine).to_contain_text(order.ref)
        await expect(mine.locator("a.pay")).to_have_count(0)
