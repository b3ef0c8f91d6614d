"""A real headless Chromium (Debian's, installed by `make test`) driven by Playwright.

Starting Playwright's driver and Chromium took ~2 s a test, so each test process starts them
once, and every test gets the same Chromium with nothing open in it: the contexts (the
browser's profiles: cookies, storage, pages) a test opened are closed after it. Playwright
lives in one event loop, so the browser tests and their async fixtures run in the test
process's session loop (see `pytest_fixture_setup` below) instead of a loop per test.
"""

import inspect
import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
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


HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents and inspect.iscoroutinefunction(getattr(item, "obj", None)):
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Iterator[None]:
    """A browser test's async fixtures (its app, its engine) run in the test's loop, the
    session's, unless they name a loop themselves."""
    func = fixturedef.func
    ours = (
        fixturedef.scope == "function"
        and (inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func))
        and getattr(func, "_loop_scope", None) is None
    )
    if ours:
        func._loop_scope = "session"  # type: ignore[attr-defined]  # read by pytest-asyncio
    try:
        yield
    finally:
        if ours:
            del func._loop_scope  # type: ignore[attr-defined]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """One Chromium for all the browser tests of this test process."""
    if not HAVE_CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("no Chromium at /usr/bin/chromium: `make test` installs Debian's chromium")
        pytest.skip("no Chromium installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def browser(chromium: Browser) -> AsyncIterator[Browser]:
    """The Chromium, with nothing open: what the test opens is closed after it."""
    assert not chromium.contexts
    yield chromium
    for context in chromium.contexts:
        await context.close()


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
