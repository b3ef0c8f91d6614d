"""The pages work under their Content-Security-Policy in a real browser: the dashboard and the
web chat run without a single CSP violation, and a page of another site may frame the chat
room but not the dashboard."""

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, ConsoleMessage, Page, expect
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.messagebus import MessageBus
from tests.browser.test_dashboard import TOKEN
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from webhooks.app import create_app
from webhooks.keys import BUS

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[tuple[str, MessageBus]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base, livebuy_admin_token=TOKEN)
    app = create_app(settings, engine=engine, sweep_every=3600)
    async with TestServer(app, host="127.0.0.1", port=port) as server:
        yield base, server.app[BUS]


def violations(page: Page) -> list[str]:
    seen: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.append(message.text)

    page.on("console", note)
    return seen


async def test_dashboard_and_chat_run_under_their_policy(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, _ = shop
    page = await (await browser.new_context()).new_page()
    broken = violations(page)
    await page.goto(f"{base}/dashboard/login")
    await page.fill("input[name=token]", TOKEN)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#live")).to_have_text("live")  # its script ran
    await page.goto(f"{base}/chat/csp")
    await expect(page.locator("#status")).to_have_text("live")
    assert broken == []


async def test_only_the_chat_room_may_be_framed(
    browser: Browser, shop: tuple[str, MessageBus]
) -> None:
    base, _ = shop

    async def shop_page(request: web.Request) -> web.Response:  # another site (origin)
        html = f'<iframe id="chat" src="{base}/chat/embedded"></iframe>'
        html += f'<iframe id="dash" src="{base}/dashboard/login"></iframe>'
        return web.Response(text=html, content_type="text/html")

    other = web.Application()
    other.router.add_get("/", shop_page)
    async with TestServer(other, host="localhost", port=free_port()) as server:
        page = await (await browser.new_context()).new_page()
        await page.goto(f"http://localhost:{server.port}/")
        chat = page.frame_locator("#chat")
        await expect(chat.locator("h1")).to_have_text("#embedded")  # the room is shown
        dashboard = page.frame_locator("#dash")
        await page.wait_for_timeout(500)
        assert await dashboard.locator("input[name=token]").count() == 0
