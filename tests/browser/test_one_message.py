"""One-message buying in a real browser: the first buy paid on the emulator page keeps the
card, the second is `#buy` and a click on Confirm under the private question."""

import re

from playwright.async_api import Browser, expect

from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_web_chat import ARTIFACTS, join, say, shop  # noqa: F401 (a fixture)
from tests.integration.helpers import add_product, start_drop


async def test_buy_again_with_one_message_and_a_click(
    browser: Browser,
    shop: tuple[str, MessageBus],  # noqa: F811
) -> None:
    base, bus = shop
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=3, channels=("web:demo",))
    anna = await join(browser, f"{base}/chat/demo", "anna")
    ben = await join(browser, f"{base}/chat/demo", "ben")

    await say(anna, "#buy")
    link = anna.locator("#log li.private a")
    await expect(link).to_have_count(1)
    checkout = await anna.context.new_page()
    await checkout.goto(await link.get_attribute("href") or "")
    await expect(checkout.locator("body")).to_contain_text("remembered for one-message buys")
    await checkout.click("text=Pay with test card 4242")
    await expect(checkout.locator("h1")).to_have_text("Thank you!", timeout=10_000)
    await expect(anna.locator("#log li.private").last).to_contain_text("Visa •••• 4242 is saved")

    await say(anna, "#buy")
    question = anna.locator("#log li.private", has_text="confirm?")
    await expect(question).to_contain_text("1 × TEE product for €25.00 with Visa •••• 4242")
    confirm = question.get_by_role("button", name="Confirm")
    await expect(confirm).to_be_visible()
    await expect(ben.locator("#log")).to_contain_text("@anna: 1 × TEE product is held for you")
    assert await ben.locator("#log li.private").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    await anna.screenshot(path=str(ARTIFACTS / "web-chat-confirm.png"), full_page=True)

    await confirm.click()
    await expect(confirm).to_be_disabled()
    await expect(anna.locator("#log")).to_contain_text("Charged €25.00 to Visa •••• 4242")
    await expect(ben.locator("#log li.bot").last).to_contain_text("TEE product sold to @anna")
    assert await ben.locator("#log li.bot", has_text="sold to @anna").count() == 2
    orders = await bus.deps.store.orders(None, None)
    assert [o.status for o in orders] == [OrderStatus.PAID, OrderStatus.PAID]

    # /card: privately, with the saved card and a clickable link to replace it.
    await say(anna, "/card")
    card = anna.locator("#log li.private", has_text="Your card: Visa •••• 4242")
    setup = re.compile(re.escape(f"{base}/stripe-emulator/pay/cs_"))
    await expect(card.locator("a")).to_have_attribute("href", setup)
    assert "Your card" not in await ben.locator("#log").inner_text()
