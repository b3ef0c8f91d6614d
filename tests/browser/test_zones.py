"""Shipping zones in a real browser: the seller adds zones on the dashboard's Zones page (a
bad one refused with its reason, nothing added), a buyer in the web chat pays a drop on the
emulator's page with the zone's shipping option, and the dashboard shows the order's
shipping and the paid revenue split with its package; a zone is removed; a show is
prepared with free shipping."""

from playwright.async_api import Browser, expect

from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_dashboard import shop, sign_in  # noqa: F401  (the shop fixture)
from tests.browser.test_web_chat import ARTIFACTS, join, say


async def test_zones_on_the_dashboard_and_shipping_paid_in_the_loop(
    browser: Browser,
    shop: tuple[str, MessageBus],  # noqa: F811
) -> None:
    base, bus = shop
    seller = await sign_in(browser, base)
    await seller.get_by_role("link", name="Zones").click()
    await expect(seller).to_have_url(f"{base}/dashboard/zones")
    await expect(seller.locator("#no-zones")).to_be_visible()

    form = seller.locator("#add-zone")
    for name, value in (("name", "EU"), ("countries", "DE,AT"), ("first", "4.90"),
                        ("each", "1.00"), ("cap", "12")):  # fmt: skip
        await form.locator(f"input[name={name}]").fill(value)
    await seller.get_by_role("button", name="Add zone").click()
    await expect(seller.locator("#flash")).to_have_text("Zone EU added.")
    row = seller.locator("#zones tr[data-zone='EU']")
    await expect(row).to_contain_text("AT,DE")
    await expect(row).to_contain_text("€4.90")
    await expect(row).to_contain_text("€12.00")

    # A zone naming an unknown country: refused with the reason, nothing added.
    await form.locator("input[name=name]").fill("Far")
    await form.locator("input[name=countries]").fill("XX")
    await form.locator("input[name=first]").fill("9")
    await form.locator("input[name=each]").fill("1")
    await seller.get_by_role("button", name="Add zone").click()
    await expect(seller.locator("body")).to_contain_text("unknown country code XX")
    await seller.goto(f"{base}/dashboard/zones")
    await expect(seller.locator("#zones tbody tr")).to_have_count(1)

    # A drop paid on the emulator's page: its shipping option is the zone's package.
    await seller.goto(f"{base}/dashboard")
    await seller.fill("form[action='/dashboard/products'] input[name=sku]", "CAP")
    await seller.fill("form[action='/dashboard/products'] input[name=name]", "Cap")
    await seller.fill("form[action='/dashboard/products'] input[name=price]", "20")
    await seller.get_by_role("button", name="Add product").click()
    drop_form = seller.locator("form[action='/dashboard/drops']")
    await drop_form.locator("select[name=sku]").select_option("CAP")
    await drop_form.locator("input[name=quantity]").fill("3")
    await drop_form.locator("input[name=chat]").fill("web:live")
    await seller.get_by_role("button", name="Start drop").click()
    await expect(seller.locator("#flash")).to_have_text("Drop CAP is live in web:live.")

    anna = await join(browser, f"{base}/chat/live", "anna")
    await say(anna, "#buy")
    link = anna.locator("#log li.private a")
    await expect(link).to_have_count(1)
    checkout = await anna.context.new_page()
    await checkout.goto(await link.get_attribute("href") or "")
    option = checkout.get_by_label("Shipping, EU: €4.90")
    await expect(option).to_be_checked()
    await expect(checkout.locator("tr.amount_shipping")).to_contain_text("€4.90")
    await expect(checkout.locator("table")).to_contain_text("€24.90")
    await checkout.click("text=Pay with test card 4242")
    await expect(checkout.locator("h1")).to_have_text("Thank you!", timeout=10_000)
    await expect(seller.locator("#orders td.status").first).to_have_text("paid")
    await expect(seller.locator("#orders td.shipping").first).to_have_text("€4.90")
    await expect(seller.locator("#revenue")).to_have_text(
        "Paid: items €20.00 · shipping €4.90 · tax €0.00 · total €24.90 · 1 package"
    )
    (order,) = await bus.deps.store.orders(None, None)
    assert (order.shipping_amount, order.ship_to) == (
        490,
        "Jenny Rosen, Teststraße 1, 10115 Berlin, DE",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    await seller.screenshot(path=str(ARTIFACTS / "dashboard-shipping.png"), full_page=True)

    # A show prepared with free shipping.
    await seller.goto(f"{base}/dashboard/shows")
    show = seller.locator("#create-show")
    await show.locator("input[name=title]").fill("Free friday")
    await show.locator("input[name=start]").fill("2030-12-06 20:00")
    await show.locator("input[name=chats]").fill("web:live")
    await show.locator("input[name=shipping]").fill("free")
    await seller.get_by_role("button", name="Create show").click()
    await expect(seller.locator("#flash")).to_contain_text("Show FREE-FRIDAY created")
    assert (await bus.deps.shows.show("FREE-FRIDAY")).shipping == "free"  # type: ignore[union-attr]

    # The zone removed: no zone is left.
    await seller.goto(f"{base}/dashboard/zones")
    await seller.get_by_role("button", name="remove zone EU").click()
    await expect(seller.locator("#flash")).to_have_text("Zone EU removed.")
    await expect(seller.locator("#no-zones")).to_be_visible()
