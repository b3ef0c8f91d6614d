"""A show in a real browser: its card, a giveaway's Enter button and a poll's vote buttons,
with the counts redrawn on every viewer's page and the confirmations only on the presser's."""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.shows import LotMode, LotSpec
from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_web_chat import ARTIFACTS, free_port, join
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


async def test_enter_and_vote_with_the_buttons(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, bus = shop
    anna = await join(browser, f"{base}/chat/show", "anna")
    ben = await join(browser, f"{base}/chat/show", "ben")
    await add_product(bus, "PIN", stock=2)
    lots = (LotSpec("PIN", LotMode.GIVEAWAY, duration=timedelta(minutes=5)),)
    now = bus.deps.clock.now()
    show = await bus.handle(
        c.CreateShow("Pins", now + timedelta(minutes=1), ("web:show",), lots=lots)
    )
    await bus.handle(c.NextLot(show=show.code))

    show_card = anna.locator(f"#card-show-{show.id}")
    await expect(show_card).to_contain_text("Pins · live")
    await expect(show_card).to_contain_text("Lot 1/1: PIN product, giveaway")
    giveaway = ben.locator("#cards article.giveaway")
    await expect(giveaway).to_contain_text("0 entered")
    await anna.locator("#cards article.giveaway button", has_text="Enter").click()
    await expect(giveaway).to_contain_text("1 entered")
    await expect(anna.locator("#log li.private")).to_contain_text("entry 1 for PIN product")
    await expect(ben.locator("#log li.private")).to_have_count(0)

    await bus.handle(c.StartPoll("Next?", ("cards", "pins"), ("web:show",), show_id=show.id))
    poll = ben.locator("#cards article.poll")
    await expect(poll.locator("button")).to_have_text(["1 · cards", "2 · pins"])
    await ben.locator("#cards article.poll button", has_text="2 · pins").click()
    await anna.locator("#cards article.poll button", has_text="2 · pins").click()
    await expect(anna.locator("#cards article.poll p.option")).to_have_text(
        ["#1 cards: 0", "#2 pins: 2"]
    )
    await expect(ben.locator("#log li.private").last).to_contain_text("Your vote for pins")
    ARTIFACTS.mkdir(exist_ok=True)
    await anna.screenshot(path=str(ARTIFACTS / "web-chat-show.png"), full_page=True)
    await expect(anna.locator("#cards article")).to_have_count(3)
