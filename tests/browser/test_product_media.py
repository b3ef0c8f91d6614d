"""A drop of a product with a picture and a description in the web chat, in a real browser:
the card shows the picture (loaded from this server's /media/) and the description, on the
first load (the card comes from the database) and at 390 px without sideways scrolling."""

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.media import MediaFolder
from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.products import ProductSpec
from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.integration.helpers import start_drop
from tests.pictures import png
from webhooks.app import create_app
from webhooks.keys import BUS

SHOTS = Path(__file__).resolve().parents[2] / ".artifacts" / "screenshots"
ABOUT = "Heavy organic cotton, screen-printed by hand in Lyon; runs a size large."


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[tuple[str, MessageBus, str]]:
    """The app in local mode, its media folder holding the tee's picture."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    media = tmp_path / "media"
    name, _ = MediaFolder(media).save(png(64, 48, (20, 120, 220)))
    settings = test_settings(database_url, public_base_url=base, livebuy_media_dir=str(media))
    app = create_app(settings, engine=engine, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        yield base, server.app[BUS], name


async def test_a_drop_card_shows_the_picture_and_description(
    browser: Browser, shop: tuple[str, MessageBus, str]
) -> None:
    base, bus, name = shop
    spec = ProductSpec(
        "TEE", "Logo tee", Money(2500, "eur"), "", (), image=name, description=ABOUT
    )
    await bus.handle(c.AddProduct(spec, 10))
    await start_drop(bus, quantity=3, channels=("web:demo",))

    for width in (1280, 390):
        context = await browser.new_context(
            viewport={"width": width, "height": 844}, is_mobile=width < 500
        )
        page = await context.new_page()
        await page.goto(f"{base}/chat/demo")
        await expect(page.locator("#status")).to_have_text("live")
        await expect(page.locator("#board-title")).to_have_text("Logo tee · €25.00")
        await expect(page.locator("#board-about")).to_have_text(ABOUT)
        image = page.locator("#board-image")
        await expect(image).to_be_visible()
        assert await image.get_attribute("src") == f"/media/{name}"
        assert await image.get_attribute("alt") == "Logo tee"
        # Loaded (decoded), not a broken image: the media route served it.
        # A function, not an expression: Playwright polls an expression with eval, which the
        # page's Content-Security-Policy refuses once the first look comes too early.
        await page.wait_for_function(
            "() => document.getElementById('board-image').complete"
            " && document.getElementById('board-image').naturalWidth === 64"
        )
        box = await image.bounding_box()
        assert box is not None and box["width"] <= 100  # a thumbnail beside the text
        overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{overflow}px of sideways scrolling at {width}px"
        SHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SHOTS / f"web-chat-media-{width}.png"), full_page=True)
        await context.close()


async def test_an_auction_card_shows_the_lots_picture_and_description(
    browser: Browser, shop: tuple[str, MessageBus, str]
) -> None:
    base, bus, name = shop
    spec = ProductSpec(
        "CARD", "Holo card", Money(100, "eur"), "", (), image=name, description="Graded 9."
    )
    await bus.handle(c.AddProduct(spec, 1))
    await bus.handle(
        c.StartAuction("CARD", Decimal(1), timedelta(minutes=5), channels=("web:lots",))
    )
    page = await (await browser.new_context(viewport={"width": 390, "height": 844})).new_page()
    await page.goto(f"{base}/chat/lots")
    await expect(page.locator("#auction-title")).to_have_text("Holo card · €1.00")
    await expect(page.locator("#auction-about")).to_have_text("Graded 9.")
    await page.wait_for_function(
        "() => document.getElementById('auction-image').naturalWidth === 64"
    )
    assert await page.locator("#auction-image").get_attribute("src") == f"/media/{name}"
    overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0


async def test_a_product_without_picture_keeps_a_plain_card(
    browser: Browser, shop: tuple[str, MessageBus, str]
) -> None:
    base, bus, _ = shop
    await bus.handle(c.AddProduct(ProductSpec("MUG", "Mug", Money(900, "eur"), "", ()), 5))
    await start_drop(bus, sku="MUG", quantity=2, channels=("web:demo",))
    page = await (await browser.new_context()).new_page()
    await page.goto(f"{base}/chat/demo")
    await expect(page.locator("#board-title")).to_have_text("Mug · €25.00")
    await expect(page.locator("#board-image")).to_be_hidden()
    await expect(page.locator("#board-about")).to_be_hidden()
    await expect(page.locator("#buy")).to_be_enabled()


async def test_the_dashboard_form_uploads_a_picture_the_card_then_shows(
    browser: Browser, database_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    """The seller picks a file in the dashboard's product form (sent as multipart by the
    page's script); the drop card in the web chat shows that picture and the description."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = "media-browser-admin-0123456789"
    settings = test_settings(
        database_url,
        public_base_url=base,
        livebuy_admin_token=token,
        livebuy_media_dir=str(tmp_path / "media"),
    )
    picture = tmp_path / "cap.png"
    picture.write_bytes(png(40, 40, (10, 200, 90)))
    app = create_app(settings, engine=engine, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        seller = await (await browser.new_context()).new_page()
        await seller.goto(f"{base}/dashboard/login")
        await seller.fill("input[name=token]", token)
        await seller.get_by_role("button", name="Sign in").click()
        await expect(seller.locator("#live")).to_have_text("live")
        add = seller.locator("form[action='/dashboard/products']")
        await add.locator("input[name=sku]").fill("CAP")
        await add.locator("input[name=name]").fill("Green cap")
        await add.locator("input[name=price]").fill("15")
        await add.locator("input[name=image_file]").set_input_files(str(picture))
        await add.locator("textarea[name=description]").fill("One size, adjustable.")
        await seller.get_by_role("button", name="Add product").click()
        await expect(seller.locator("#flash")).to_have_text("Added CAP.")

        await start_drop(server.app[BUS], sku="CAP", quantity=2, channels=("web:caps",))
        viewer = await (await browser.new_context()).new_page()
        await viewer.goto(f"{base}/chat/caps")
        await expect(viewer.locator("#board-about")).to_have_text("One size, adjustable.")
        await viewer.wait_for_function(
            "() => document.getElementById('board-image').naturalWidth === 40"
        )
