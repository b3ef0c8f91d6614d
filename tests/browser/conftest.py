"""A real headless Chromium (Debian's, installed by `make test`) driven by Playwright."""

import os
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Browser, async_playwright
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.messagebus import MessageBus
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from webhooks.app import create_app
from webhooks.keys import BUS

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = os.path.exists(CHROMIUM)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("no Chromium at /usr/bin/chromium: `make test` installs Debian's chromium")
        pytest.skip("no Chromium installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


Serve = Callable[[], AbstractAsyncContextManager[MessageBus]]


@pytest.fixture
def serve(database_url: str, engine: AsyncEngine) -> tuple[str, Serve]:
    """Starts the whole app on one port and database, as often as a test restarts it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = test_settings(database_url, public_base_url=base)

    @asynccontextmanager
    async def running() -> AsyncIterator[MessageBus]:
        app = create_app(settings, engine=engine, sweep_every=3600)
        async with TestServer(app, host="127.0.0.1", port=port) as server:
            yield server.app[BUS]

    return base, running
