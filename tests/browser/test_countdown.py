"""A timed drop's card counts down in the browser: from the seconds left as the server's
clock saw them (a frozen test clock here, hours away from the browser's), ticking in the page
with no traffic from the server, and once the drop ends, the card says when it ended."""

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.commands import ExpireHolds
from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_first_run import SHOTS
from tests.browser.test_web_chat import join
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[tuple[str, MessageBus]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base)
    app = create_app(settings, engine=engine, clock=clock, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        yield base, server.app[BUS]


def seconds(text: str) -> int:
    found = re.fullmatch(r"ends in (\d+):(\d\d)", text)
    assert found is not None, text
    return int(found[1]) * 60 + int(found[2])


async def test_a_timed_drop_counts_down_in_the_page_and_says_when_it_ended(
    browser: Browser, shop: tuple[str, MessageBus], clock: FakeClock
) -> None:
    base, bus = shop
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=3, duration=timedelta(minutes=5))  # until 20:05 UTC

    anna = await join(browser, f"{base}/chat/demo", "anna")
    ends = anna.locator("#board-ends")
    await expect(ends).to_have_text(re.compile(r"ends in (5:00|4:5\d)"))
    # Count what the server sends from now on: the countdown must move without it.
    await anna.evaluate("window.heard = 0; events.addEventListener('message', () => heard++)")
    first = seconds(await ends.inner_text())
    # Two seconds down (a tick a second; a loaded machine may be late, so wait for it).
    await anna.wait_for_function(
        """first => {
          const m = /(\\d+):(\\d\\d)/.exec(document.getElementById("board-ends").textContent);
          return m && Number(m[1]) * 60 + Number(m[2]) <= first - 2;
        }""",
        arg=first,
        timeout=15_000,
    )
    second = seconds(await ends.inner_text())
    assert first - 15 <= second <= first - 2, (first, second)
    assert await anna.evaluate("heard") == 0
    assert await anna.locator("#board-info").inner_text() == "3 of 3 left"  # unchanged

    # Three minutes later by the shop's clock: a viewer who joins now counts from 2:00
    # (the browser's own clock says something else altogether).
    clock.advance(minutes=3)
    ben = await join(browser, f"{base}/chat/demo", "ben")
    await expect(ben.locator("#board-ends")).to_have_text(re.compile(r"ends in (2:00|1:5\d)"))
    await ben.set_viewport_size({"width": 390, "height": 844})
    overflow = await ben.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    SHOTS.mkdir(parents=True, exist_ok=True)
    await ben.screenshot(path=str(SHOTS / "drop-countdown-390.png"), full_page=True)

    # Its end passes: the sweeper ends it, and every card says when.
    clock.advance(minutes=2, seconds=1)
    await bus.handle(ExpireHolds())
    for page in (anna, ben):
        await expect(page.locator("#board-ends")).to_have_text("ended 20:05 UTC")
        await expect(page.locator("#board-info")).to_have_text("ended")
        await expect(page.locator("#buy")).to_be_disabled()
    # And on a reload, from the database.
    await anna.reload()
    await expect(anna.locator("#status")).to_have_text("live")
    await expect(anna.locator("#board-ends")).to_have_text("ended 20:05 UTC")


async def test_a_drop_without_an_end_shows_no_countdown(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, bus = shop
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=3)
    anna = await join(browser, f"{base}/chat/demo", "anna")
    await expect(anna.locator("#board-info")).to_have_text("3 of 3 left")
    await expect(anna.locator("#board-ends")).to_be_hidden()
