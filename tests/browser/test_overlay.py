"""The stream overlay (#20 item 4) in a real browser, as OBS's browser source shows it: an
auction in a Twitch chat (a chat the web chat knows nothing of) drawn with its price, leader
and countdown, redrawn live after a bid, with no scroll bars at 1920×1080 and 1080×1920; the
winner listed once it closes; the same state after a server restart; its key in the dashboard,
and a wrong or missing key refused."""

import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.web.overlay import overlay_key
from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_dashboard import TOKEN, sign_in
from tests.browser.test_first_run import fits
from tests.browser.test_web_chat import join, say
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS

DOCS = Path(__file__).parents[2] / "docs"
CHAT = "twitch:123456"
Serve = Callable[[], AbstractAsyncContextManager[MessageBus]]


@pytest.fixture
def shop(database_url: str, engine: AsyncEngine, clock: FakeClock) -> tuple[str, Serve]:
    """The whole app on one port and database, started as often as a test restarts it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base, livebuy_admin_token=TOKEN)

    @asynccontextmanager
    async def running() -> AsyncIterator[MessageBus]:
        app = create_app(settings, engine=engine, clock=clock, sweep_every=3600)
        async with TestServer(app, host="127.0.0.1", port=port) as server:
            yield server.app[BUS]

    return base, running


def address(base: str, target: str = CHAT, layout: str = "") -> str:
    extra = f"&layout={layout}" if layout else ""
    return f"{base}/overlay/{quote(target, safe='')}?key={overlay_key(TOKEN, target)}{extra}"


def seconds(text: str) -> int:
    found = re.fullmatch(r"(\d+):(\d\d) left", text)
    assert found is not None, text
    return int(found[1]) * 60 + int(found[2])


async def no_scroll_bars(page: Page) -> None:
    sizes = await page.evaluate(
        """() => [document.documentElement.scrollWidth - window.innerWidth,
                  document.documentElement.scrollHeight - window.innerHeight,
                  getComputedStyle(document.body).backgroundColor]"""
    )
    assert sizes[0] <= 0 and sizes[1] <= 0, f"{page.url} overflows by {sizes[:2]}"
    assert sizes[2] == "rgba(0, 0, 0, 0)"  # transparent over the stream


async def bid(bus: MessageBus, n: int, who: str, amount: int) -> None:
    await bus.handle(
        c.PlaceBid(f"{CHAT}:m{n}", CHAT, f"twitch:{who}", Decimal(amount), display_name=who)
    )


async def test_the_overlay_follows_an_auction_in_a_twitch_chat_and_survives_a_restart(
    browser: Browser, shop: tuple[str, Serve], clock: FakeClock
) -> None:
    base, running = shop
    async with running() as bus:
        await add_product(bus, "CARD", stock=1)
        await bus.handle(
            c.StartAuction("CARD", Decimal(1), timedelta(minutes=5), channels=(CHAT,))
        )
        context = await browser.new_context(viewport={"width": 1920, "height": 1080})
        page = await context.new_page()
        await page.goto(address(base))
        await expect(page.locator("#auction-price")).to_have_text("€1.00")
        await expect(page.locator("#auction-leader")).to_have_text("no bids yet")
        left = page.locator("#auction-left")
        await expect(left).to_have_text(re.compile(r"(5:00|4:5\d) left"))
        await no_scroll_bars(page)

        # Two minutes on by the shop's clock, a bid in the Twitch chat: the card is redrawn
        # from the notice, with the server's time left (3:00, not the browser's 5:00 less).
        clock.advance(minutes=2)
        await bid(bus, 1, "anna", 5)
        await expect(page.locator("#auction-price")).to_have_text("€5.00")
        await expect(page.locator("#auction-leader")).to_have_text("@anna leads")
        await expect(page.locator("#auction-bids")).to_have_text("1 bid")
        await expect(left).to_have_text(re.compile(r"(3:00|2:5\d) left"))
        first = seconds(await left.inner_text())
        await page.wait_for_function(  # and it ticks in the page
            """first => {
              const left = document.getElementById("auction-left").textContent;
              const m = /(\\d+):(\\d\\d)/.exec(left);
              return m && Number(m[1]) * 60 + Number(m[2]) < first;
            }""",
            arg=first,
            timeout=15_000,
        )
        await bid(bus, 2, "ben", 9)
        await expect(page.locator("#auction-price")).to_have_text("€9.00")
        await expect(page.locator("#auction-leader")).to_have_text("@ben leads")
        DOCS.mkdir(exist_ok=True)
        await page.screenshot(path=str(DOCS / "overlay.png"), omit_background=True)

        portrait = await (
            await browser.new_context(viewport={"width": 1080, "height": 1920})
        ).new_page()
        await portrait.goto(address(base, layout="portrait"))
        await expect(portrait.locator("#auction-price")).to_have_text("€9.00")
        await expect(portrait.locator("body")).to_have_class("portrait")
        await no_scroll_bars(portrait)

    # The server restarts: a reload draws the auction from the database.
    async with running() as bus:
        await page.reload()
        await expect(page.locator("#auction-price")).to_have_text("€9.00")
        await expect(page.locator("#auction-leader")).to_have_text("@ben leads")
        await expect(left).to_have_text(re.compile(r"(3:00|2:5\d) left"))
        # The portrait one was not reloaded: its EventSource reconnects by itself and hears
        # the next bid.
        await bid(bus, 3, "anna", 15)
        await expect(portrait.locator("#auction-price")).to_have_text("€15.00", timeout=20_000)
        await expect(page.locator("#auction-price")).to_have_text("€15.00")

        # Its time is up: the card says so and the winner is listed.
        clock.advance(minutes=4)
        await bus.handle(c.CloseDueAuctions())
        await expect(left).to_have_text("ended")
        await expect(page.locator("#sold li")).to_have_count(1)
        await expect(page.locator("#sold li").first).to_contain_text("@anna · CARD")
        # Her payment lists her no second time.
        won = await queries.orders(bus.reads, identity="twitch:anna")
        await bus.handle(c.SettlePayment(won[0].ref, "pi_anna", "evt_anna"))
        paid = await queries.orders(bus.reads, identity="twitch:anna")
        assert paid[0].status == OrderStatus.PAID
        await bus.handle(c.StartPoll("Next lot?", ("Pins", "Tees"), (CHAT,)))
        await expect(page.locator("#poll-question")).to_have_text("Next lot?")  # heard after
        await expect(page.locator("#sold li")).to_have_count(1)
        await no_scroll_bars(page)


async def test_a_drop_a_poll_and_a_giveaway_in_a_show_overlay(
    browser: Browser, shop: tuple[str, Serve], clock: FakeClock
) -> None:
    """A show's overlay shows what runs in its chats: a drop's units left as buyers pay, with
    their names, a poll's bars, a giveaway's entries and winner."""
    base, running = shop
    async with running() as bus:
        await add_product(bus, "TEE", stock=5)
        await add_product(bus, "PIN", stock=1)
        starts = clock.now() + timedelta(hours=1)
        await bus.handle(c.CreateShow("Sunday", starts, (CHAT, "web:demo"), code="SUNDAY"))
        await start_drop(bus, quantity=3, channels=(CHAT,))
        page = await (
            await browser.new_context(viewport={"width": 1920, "height": 1080})
        ).new_page()
        await page.goto(address(base, "show:SUNDAY"))
        await expect(page.locator("#board-units")).to_have_text("3 of 3 left")
        # A buyer in the Twitch chat pays: the units left and their name, by name.
        claim = await buy(bus, "twitch:clara", CHAT)
        assert claim.order is not None
        await bus.handle(c.SettlePayment(claim.order.ref, "pi_clara", "evt_clara"))
        await expect(page.locator("#board-units")).to_have_text("2 of 3 left")
        await expect(page.locator("#sold li")).to_have_text(["🎉 @clara · TEE product · €25.00"])
        poll = await bus.handle(c.StartPoll("Next lot?", ("Pins", "Tees"), (CHAT,)))
        await bus.handle(c.CastVote(CHAT, "twitch:clara", 2, poll_id=poll.id))
        await expect(page.locator("#poll-question")).to_have_text("Next lot?")
        await expect(page.locator(".option")).to_have_text(["1. Pins · 0", "2. Tees · 1"])
        widths = await page.eval_on_selector_all(".bar", "bars => bars.map(b => b.style.width)")
        assert widths == ["0%", "100%"]
        giveaway = await bus.handle(c.StartGiveaway("PIN", timedelta(minutes=1), ("web:demo",)))
        await bus.handle(c.EnterGiveaway("web:demo", "web:v_1", "anna", giveaway.id))
        await expect(page.locator("#giveaway-info")).to_contain_text("1 entry")
        clock.advance(minutes=2)
        await bus.handle(c.DrawDueGiveaways())
        await expect(page.locator("#giveaway-info")).to_have_text("Winner: @anna (1 entries)")
        await no_scroll_bars(page)


async def test_a_claim_in_the_web_chat_is_on_its_overlay_at_once(
    browser: Browser, shop: tuple[str, Serve]
) -> None:
    """A claim is answered in its chat, not as a notice: the web chat tells the overlay."""
    base, running = shop
    async with running() as bus:
        await add_product(bus, "TEE", stock=5)
        await start_drop(bus, quantity=3, channels=("web:demo",))
        overlay = await (await browser.new_context()).new_page()
        await overlay.goto(address(base, "web:demo"))
        await expect(overlay.locator("#board-units")).to_have_text("3 of 3 left")
        anna = await join(browser, f"{base}/chat/demo", "anna")
        await say(anna, "#buy")
        await expect(anna.locator("#board-info")).to_have_text("2 of 3 left")
        await expect(overlay.locator("#board-units")).to_have_text("2 of 3 left")


async def test_the_dashboard_shows_each_overlay_address(
    browser: Browser, shop: tuple[str, Serve]
) -> None:
    base, running = shop
    async with running() as bus:
        await add_product(bus, "TEE", stock=5)
        await start_drop(bus, quantity=3, channels=(CHAT,))
        dashboard = await sign_in(browser, base)
        await dashboard.click("text=Overlays")
        await expect(dashboard).to_have_url(f"{base}/dashboard/overlays")
        shown = dashboard.locator(f'li[data-target="{CHAT}"] input')
        await expect(shown).to_have_value(address(base))
        await dashboard.fill("input[name=chat]", "youtube:Cg0KC2xpdmU")
        await dashboard.get_by_role("button", name="Show its overlay address").click()
        other = dashboard.locator('li[data-target="youtube:Cg0KC2xpdmU"] input')
        await expect(other).to_have_value(address(base, "youtube:Cg0KC2xpdmU"))
        await dashboard.set_viewport_size({"width": 390, "height": 844})
        await fits(dashboard, "dashboard-overlays")
        # And the address it shows opens the overlay.
        overlay = await (await browser.new_context()).new_page()
        await overlay.goto(await shown.input_value())
        await expect(overlay.locator("#board-units")).to_have_text("3 of 3 left")


async def test_a_wrong_or_missing_key_is_refused(shop: tuple[str, Serve]) -> None:
    base, running = shop
    async with running(), ClientSession() as http:
        right = address(base)
        async with http.get(right) as response:
            assert response.status == 200
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        other = overlay_key(TOKEN, "twitch:999")  # another chat's key opens only that chat
        target = quote(CHAT, safe="")
        for url in (
            f"{base}/overlay/{target}",
            f"{base}/overlay/{target}?key=",
            f"{base}/overlay/{target}?key={other}",
            f"{base}/overlay/{target}/events?key={other}",
            f"{base}/overlay/{target}?key={overlay_key('another-shop-token', CHAT)}",
        ):
            async with http.get(url) as response:
                assert response.status == 403, url
                assert "dashboard" in await response.text()
        async with http.get(f"{base}/overlay/not-a-chat?key=x") as response:
            assert response.status == 404
