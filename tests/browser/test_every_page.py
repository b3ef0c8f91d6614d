"""Every page of the app fits a phone (#19, "no horizontal overflow at 390 px on every
page"): the app's routes are listed, each page is named with the test that checks it at
390 px, and the pages no other browser test visits are checked here at 1280 and 390 px, with
a screenshot of each in .artifacts/screenshots. A route added later fails the first test
until it is placed."""

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_dashboard import TOKEN, sign_in
from tests.browser.test_first_run import at, fits
from tests.browser.test_web_chat import join
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.fakes import FakeClock
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS

HERE = "test_every_page.py::test_the_other_pages_fit_a_phone"
FIRST_RUN = "test_first_run.py"
DASHBOARD = "test_dashboard.py::test_every_dashboard_page_fits_a_phone_with_tables_as_cards"
SIGN_IN_PAGE = "webhooks.signin.page(), checked here through /auth/email"
# Every page a browser opens, and where it is checked at 390 px wide.
PAGES = {
    "/": f"{FIRST_RUN}::test_the_home_page",
    "/chat/{room}": f"{FIRST_RUN}::test_the_demo_card_on_the_first_load_and_after_a_restart",
    "/checkout/done": f"{FIRST_RUN}::test_the_checkout_pages_lead_back_to_the_room",
    "/checkout/cancelled": f"{FIRST_RUN}::test_the_checkout_pages_lead_back_to_the_room",
    "/stripe-emulator/pay/{id}": f"{FIRST_RUN}::test_the_checkout_pages_lead_back_to_the_room",
    "/dashboard": DASHBOARD,
    "/dashboard/": DASHBOARD,
    "/dashboard/shows": DASHBOARD,
    "/dashboard/shows/{code}": DASHBOARD,
    "/dashboard/shipping": DASHBOARD,
    "/dashboard/zones": DASHBOARD,
    "/dashboard/overlays": "test_overlay.py::test_the_dashboard_shows_each_overlay_address",
    # OBS's browser source, 1920×1080 or 1080×1920: no phone opens it.
    "/overlay/{target}": "test_overlay.py::test_the_overlay_follows_an_auction_in_a_twitch_chat"
    "_and_survives_a_restart",
    "/dashboard/login": HERE,
    "/dashboard/packing": HERE,
    "/docs": HERE,
    "/giveaways/{id}": HERE,  # a page for browsers, JSON for programs
    "/pay/{ref}": HERE,  # an unknown link's page (a known one goes on to the checkout)
    # A Twitch or YouTube buyer's public link: the unknown link's page is checked here; a
    # known one is the same sign-in page with the item, or goes on to the checkout.
    "/p/{ref}": HERE,
    "/auth/email": HERE,
    "/auth/email/{token}": HERE,
    "/dev/mail": HERE,
    # Telegram's widget comes from telegram.org (not fetched in tests); the page is the same.
    "/auth/telegram/login": SIGN_IN_PAGE,
    "/auth/telegram": SIGN_IN_PAGE,  # a refusal, or a redirect back to the chat
    "/auth/discord/callback": SIGN_IN_PAGE,  # a refusal, or a redirect back to the chat
    "/auth/twitch": SIGN_IN_PAGE,  # a redirect to Twitch, or a refusal
    "/auth/twitch/callback": SIGN_IN_PAGE,  # a refusal, or a redirect back to the /p/ link
    "/auth/google": SIGN_IN_PAGE,  # a redirect to Google, or a refusal
    "/auth/google/callback": SIGN_IN_PAGE,  # a refusal, or a redirect back to the /p/ link
}
# What a browser gets but is no page: scripts, streams, data, probes, redirects, files.
NOT_PAGES = {
    "/chat/chat.js",
    "/chat/{room}/events",
    "/overlay/overlay.js",
    "/overlay/{target}/events",
    "/dashboard/events",
    "/dashboard/state",
    "/dashboard/orders.csv",
    "/dashboard/static",
    "/healthz",
    "/healthz/backlog",
    "/readyz",
    "/metrics",
    "/media/{name}",
    "/auth/discord",  # a redirect to Discord
}


def test_every_page_of_the_app_is_checked_on_a_phone() -> None:
    every_sign_in = test_settings(
        "sqlite+aiosqlite:///:memory:",
        telegram_bot_token="1:x",
        telegram_login_bot="shopbot",
        discord_client_id="1",
        discord_client_secret="s",
        twitch_client_id="t",
        twitch_client_secret="s",
        youtube_client_id="y",
        youtube_client_secret="s",
    )
    app = create_app(every_sign_in)
    gets = {r.resource.canonical for r in app.router.routes() if r.method == "GET"}
    # The emulator's API answers Stripe's client, in JSON; its one page is listed above.
    gets = {g for g in gets if not g.startswith("/stripe-emulator/") or g in PAGES}
    gets -= {"/stripe-emulator/_test/deliveries"}
    assert gets - PAGES.keys() - NOT_PAGES == set(), "a new page: check it fits a phone"
    assert PAGES.keys() - gets == set() and NOT_PAGES - gets == set()


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[tuple[str, MessageBus]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base, livebuy_admin_token=TOKEN)
    app = create_app(settings, engine=engine, clock=clock, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        yield base, server.app[BUS]


async def both_widths(page: Page, name: str, full_page: bool = True) -> None:
    for width in (1280, 390):
        await page.set_viewport_size({"width": width, "height": 844 if width < 500 else 900})
        await fits(page, name, full_page)


async def test_the_other_pages_fit_a_phone(
    browser: Browser, shop: tuple[str, MessageBus], clock: FakeClock
) -> None:
    base, bus = shop
    docs = await at(browser, f"{base}/docs", 390)  # the README
    await expect(docs.locator("body")).to_contain_text("Try a purchase in a minute")
    await both_widths(docs, "docs", full_page=False)  # (the README is long)
    for path in ("/pay/NOSUCH99?t=x", "/p/NOSUCH99?t=x", "/dashboard/login"):
        page = await at(browser, f"{base}{path}", 390)
        await expect(page.locator("h1")).to_be_visible()
        await both_widths(page, path.strip("/").split("?")[0].replace("/", "-"))

    # A drawn giveaway's public record, as the card's "check the draw" opens it: entrants'
    # names, the 64-character seed and its hash (JSON for programs, as before).
    await add_product(bus, "PIN", stock=3)
    giveaway = await bus.handle(c.StartGiveaway("PIN", timedelta(minutes=1), ("web:demo",)))
    for n, name in enumerate(("anna", "a-rather-long-name-without-any-spaces", "ben")):
        await bus.handle(c.EnterGiveaway("web:demo", f"web:v_{n}", name, giveaway.id))
    clock.advance(minutes=2)
    await bus.handle(c.DrawDueGiveaways())
    record = await at(browser, f"{base}/giveaways/{giveaway.id}", 390)
    await expect(record.locator("h1")).to_have_text("🎁 PIN product")
    await expect(record.locator("body")).to_contain_text(re.compile(r"Drawn: entry #[123] won"))
    await expect(record.locator("li.won")).to_have_count(1)
    await both_widths(record, "giveaway-record")
    await record.get_by_role("link", name="This record as JSON").click()
    await expect(record.locator("body")).to_contain_text('"seed": "')

    # The packing list of the day, with a package on it.
    await add_product(bus, "MUG", stock=5)
    await start_drop(bus, "MUG", quantity=5, channels=("web:demo",))
    won = await buy(bus, "web:anna", quantity=2)
    assert won.order is not None
    await bus.handle(c.SettlePayment(won.order.ref, f"pi_{won.order.ref}", "evt_packing"))
    seller = await sign_in(browser, base)
    await seller.goto(f"{base}/dashboard/packing?day={clock.now():%Y-%m-%d}")
    await expect(seller.locator("body")).to_contain_text(won.order.ref)
    await both_widths(seller, "dashboard-packing")

    # Sign-in by email, from the chat: the form, the answer, the local mailbox with its long
    # link, and the link's own page.
    viewer = await join(browser, f"{base}/chat/demo", "anna")
    await viewer.goto(f"{base}/auth/email")
    await both_widths(viewer, "sign-in-email")
    await viewer.fill("#email", "anna.with.a.long.address@example.com")
    await viewer.get_by_role("button", name="Send me a link").click()
    await expect(viewer.locator("h1")).to_have_text("Check your email")
    await both_widths(viewer, "sign-in-email-sent")
    await viewer.goto(f"{base}/dev/mail")
    link = viewer.locator("pre a").first
    await expect(link).to_contain_text("/auth/email/")
    await both_widths(viewer, "dev-mail")
    await viewer.goto(await link.get_attribute("href") or "")
    await expect(viewer.locator("#confirm")).to_be_visible()
    await both_widths(viewer, "sign-in-email-link")
