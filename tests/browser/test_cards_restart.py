"""A web chat room's giveaway and poll cards survive a restart, as its drop card does: they
are read from the database on every page load, with their Enter and vote buttons working,
and a drawn giveaway's result stays on its card."""

from datetime import timedelta

from playwright.async_api import Browser, expect

from commerce.domain import commands as c
from tests.browser.conftest import Serve
from tests.browser.test_first_run import fits
from tests.browser.test_web_chat import join
from tests.integration.helpers import add_product


async def test_giveaway_and_poll_cards_after_a_restart(
    browser: Browser, serve: tuple[str, Serve]
) -> None:
    base, running = serve
    async with running() as bus:
        await add_product(bus, "PIN", stock=3)
        giveaway = await bus.handle(
            c.StartGiveaway("PIN", timedelta(minutes=30), channels=("web:demo",))
        )
        await bus.handle(c.StartPoll("Next drop?", ("mugs", "caps"), ("web:demo",)))
        anna = await join(browser, f"{base}/chat/demo", "anna")
        await expect(anna.locator("#cards article.giveaway")).to_have_count(1)

    async with running():  # a restart: nothing in memory, the cards come from the database
        ben = await join(browser, f"{base}/chat/demo", "ben")
        card = ben.locator(f"#card-giveaway-{giveaway.id}")
        await expect(card.locator("h2")).to_have_text("🎁 PIN product")
        await expect(card.locator("p").first).to_contain_text("0 entered")
        poll = ben.locator("#cards article.poll")
        await expect(poll.locator("h2")).to_have_text("📊 Next drop?")
        await expect(poll.locator("p.option")).to_have_text(["#1 mugs: 0", "#2 caps: 0"])
        # The newest card on top, as when they were started.
        await expect(ben.locator("#cards article").first).to_have_class("poll")
        # Their buttons work as before the restart.
        await card.locator("button").click()
        await expect(card.locator("p").first).to_contain_text("1 entered")
        await poll.locator("button", has_text="caps").click()
        await expect(poll.locator("p.option")).to_have_text(["#1 mugs: 0", "#2 caps: 1"])
        await ben.set_viewport_size({"width": 390, "height": 844})
        await fits(ben, "web-chat-cards")

    async with running() as bus:  # a poll closed while nobody looked: its result, on top
        await bus.handle(c.EndPoll("web:demo"))
        cleo = await join(browser, f"{base}/chat/demo", "cleo")
        await expect(cleo.locator("#cards article.poll")).to_have_class("poll ended")
        await expect(cleo.locator("#cards article.poll h2")).to_have_text("📊 Next drop? (closed)")
        await expect(cleo.locator("#cards article.poll p.option")).to_have_text(
            ["#1 mugs: 0", "#2 caps: 1"]
        )
        await expect(cleo.locator(f"#card-giveaway-{giveaway.id} button")).to_have_count(1)
