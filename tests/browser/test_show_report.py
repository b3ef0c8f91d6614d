"""The show report in a real browser: after a scripted show, the seller follows "Shows" from
the dashboard to the show's page and sees the sales chart with its peak, the funnel and the
per-lot results (a screenshot is kept with the other browser artifacts)."""

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_dashboard import TOKEN, sign_in
from tests.browser.test_web_chat import ARTIFACTS, free_port
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.test_show_report import CODE, run_show
from webhooks.app import create_app
from webhooks.keys import BUS


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[tuple[str, MessageBus, FakePaymentGateway]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base, livebuy_admin_token=TOKEN)
    gateway = FakePaymentGateway()
    app = create_app(settings, engine=engine, clock=clock, payments=gateway,
                     sweep_every=3600)  # fmt: skip
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        yield base, server.app[BUS], gateway


async def test_the_show_report_page_draws_its_charts(
    browser: Browser, shop: tuple[str, MessageBus, FakePaymentGateway], clock: FakeClock
) -> None:
    base, bus, gateway = shop
    await run_show(bus, clock, gateway)
    page = await sign_in(browser, base)
    await page.get_by_role("link", name="Shows").click()
    await expect(page).to_have_url(f"{base}/dashboard/shows")
    await page.get_by_role("link", name=CODE).click()
    chart = page.locator("#sales-chart")
    await expect(chart).to_be_visible()
    await expect(chart.locator("rect.bar.peak")).to_have_count(1)
    box = await chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 50
    await expect(page.locator("#funnel .hbar")).to_have_count(3)
    await expect(page.locator("#lots")).to_contain_text("3 of 3 sold")
    await expect(page.locator("#peaks tr.peak")).to_have_count(1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / "show-report.png"), full_page=True)
