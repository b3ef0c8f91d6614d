"""The auction card in a real browser: bid buttons, the card redrawn for everyone, the end."""

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_web_chat import ARTIFACTS, free_port, join, say
from tests.conftest import test_settings
from tests.integration.helpers import add_product
from webhooks.app import create_app
from webhooks.keys import BUS


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[tuple[str, MessageBus]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(test_settings(database_url, public_base_url=base), engine=engine)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        yield base, server.app[BUS]


async def test_bidding_with_the_buttons(browser: Browser, shop: tuple[str, MessageBus]) -> None:
    base, bus = shop
    anna = await join(browser, f"{base}/chat/show", "anna")
    ben = await join(browser, f"{base}/chat/show", "ben")
    await add_product(bus, "CARD", stock=1)
    await bus.handle(
        c.StartAuction("CARD", Decimal(1), timedelta(minutes=5), channels=("web:show",))
    )
    await expect(anna.locator("#auction")).to_be_visible()
    await expect(anna.locator("#bid")).to_have_text("Bid €1.00")
    await anna.click("#bid")
    await expect(ben.locator("#auction-info")).to_contain_text("@anna leads, 1 bids")
    await expect(ben.locator("#auction-title")).to_have_text("CARD product · €1.00")
    await expect(ben.locator("#bid5")).to_have_text("Bid €6.00")
    await ben.click("#bid5")
    await expect(anna.locator("#auction-info")).to_contain_text("@ben leads, 2 bids")
    await expect(anna.locator("#log li.private")).to_contain_text("You were outbid on CARD")
    await say(anna, "#bid 9")
    await expect(ben.locator("#auction-title")).to_have_text("CARD product · €9.00")
    await expect(anna.locator("#auction-info")).to_contain_text("s left")
    ARTIFACTS.mkdir(exist_ok=True)
    await ben.screenshot(path=str(ARTIFACTS / "web-chat-auction.png"), full_page=True)
