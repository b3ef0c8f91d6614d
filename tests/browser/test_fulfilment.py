"""After the sale, in a real browser beside web chat buyers: the paid package appears in
To ship, the seller ships it with a tracking code and the buyer reads "Shipped: …" with the
carrier's link in their private lane; a partial refund with restock; an unpaid order
cancelled from the dashboard, its buyer told; the packing list as a printable page."""

from playwright.async_api import Browser, Page, expect

from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_dashboard import TOKEN, shop, sign_in  # noqa: F401  (fixture)
from tests.browser.test_web_chat import ARTIFACTS, join, say
from tests.integration.helpers import add_product, start_drop

DHL = "https://www.dhl.com/global-en/home/tracking.html?tracking-id=JJD0001234"


async def pay(browser_page: Page) -> None:
    """The buyer follows their private pay link and pays on the emulator's page."""
    link = browser_page.locator("#log li.private a").first
    checkout = await browser_page.context.new_page()
    await checkout.goto(await link.get_attribute("href") or "")
    await checkout.click("text=Pay with test card 4242")
    await expect(checkout.locator("h1")).to_have_text("Thank you!", timeout=10_000)
    await checkout.close()


async def test_ship_cancel_and_refund_from_the_dashboard(
    browser: Browser,
    shop: tuple[str, MessageBus],  # noqa: F811
) -> None:
    base, bus = shop
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=5, channels=("web:live",))
    anna = await join(browser, f"{base}/chat/live", "anna")
    ben = await join(browser, f"{base}/chat/live", "ben")
    await say(anna, "#buy")
    await expect(anna.locator("#log li.private a")).to_have_count(1)
    await pay(anna)
    await expect(anna.locator("#log li.private", has_text="Payment received")).to_be_visible()
    await say(ben, "#buy")
    await expect(ben.locator("#log li.private a")).to_have_count(1)
    orders = await bus.deps.store.orders(None, None)
    paid = next(o for o in orders if o.status is OrderStatus.PAID)
    unpaid = next(o for o in orders if o.ref != paid.ref)

    seller = await sign_in(browser, base)
    seller.on("dialog", lambda dialog: dialog.accept())
    await seller.get_by_role("link", name="To ship").click()
    row = seller.locator(f"#to-ship tr[data-package='{paid.ref}']")
    await expect(row).to_contain_text("anna")
    await expect(seller.locator("#to-ship tbody tr")).to_have_count(1)  # ben has not paid
    await row.locator("input[name=tracking]").fill("JJD0001234")
    await row.locator("input[name=carrier]").fill("DHL")
    await row.get_by_role("button", name="Ship").click()
    await expect(seller.locator("#flash")).to_have_text(
        f"Shipped {paid.ref} with DHL, tracking JJD0001234."
    )
    await expect(seller.locator("#nothing-to-ship")).to_be_visible()
    # The buyer reads it in the chat they bought in, privately, with the carrier's link.
    shipped = anna.locator("#log li.private", has_text="Shipped:")
    await expect(shipped).to_contain_text(f"(order {paid.ref}). Tracking: JJD0001234 (DHL)")
    await expect(shipped).to_contain_text(DHL)
    assert await ben.locator("#log li", has_text="Shipped:").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    await seller.screenshot(path=str(ARTIFACTS / "to-ship.png"), full_page=True)

    # A packing list of the day, printable (and nothing left on it).
    await seller.goto(f"{base}/dashboard/packing?day=2000-01-01")
    await expect(seller.locator("h1")).to_have_text(
        "Packing list: paid 2000-01-01 00:00 to 2000-01-02 00:00 UTC"
    )
    await expect(seller.locator("body")).to_contain_text("Nothing to pack.")

    # Back on the dashboard: Cancel is offered for ben's unpaid order only.
    await seller.goto(f"{base}/dashboard")
    await expect(seller.locator("#live")).to_have_text("live")
    ben_row = seller.locator(f"#orders tr[data-ref='{unpaid.ref}']")
    anna_row = seller.locator(f"#orders tr[data-ref='{paid.ref}']")
    await expect(anna_row.get_by_role("button", name="Cancel")).to_have_count(0)
    await ben_row.get_by_role("button", name="Cancel").click()
    await expect(seller.locator("#flash")).to_have_text(
        f"Order {unpaid.ref} cancelled; its units went to stock."
    )
    await expect(ben_row.locator("td.status")).to_have_text("cancelled")
    await expect(ben.locator("#log li.private", has_text="The seller cancelled")).to_contain_text(
        f"order {unpaid.ref}"
    )

    # A partial refund with the units back in stock.
    await anna_row.locator("input[name=amount]").fill("5.00")
    await anna_row.locator("input[name=restock]").check()
    await anna_row.get_by_role("button", name="Refund").click()
    await expect(seller.locator("#flash")).to_have_text(
        f"Refund of 5.00 of order {paid.ref} requested, units back in stock."
    )
    await expect(anna_row.locator("td.status")).to_have_text("partially_refunded", timeout=10_000)
    await anna_row.locator("input[name=amount]").fill("99")
    await anna_row.get_by_role("button", name="Refund").click()
    await expect(seller.locator("#flash")).to_contain_text("left to refund")
