"""A browser tab closing a live stream (the web chat's, the dashboard's) is normal: it is
logged once at debug, without a traceback, and never as an error."""

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, CookieJar, web
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.fakes import FakeClock
from webhooks.app import create_app

TOKEN = "a-dashboard-token-long-enough-for-anyone"


@pytest.fixture
async def server(database_url: str, engine: AsyncEngine, clock: FakeClock) -> AsyncIterator[str]:
    settings = test_settings(database_url, livebuy_admin_token=TOKEN)
    app = create_app(settings, engine=engine, clock=clock, sweep_every=3600)
    # Served as `livebuy run` serves (web.run_app's runner): aiohttp's TestServer cancels a
    # handler whose client left, which production does not do.
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def left(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and "left the live" in r.message]


async def until_logged(caplog: pytest.LogCaptureFixture, logger: str) -> None:
    """Until the server noticed the client left (or logged an error about it)."""
    for _ in range(200):
        if left(caplog, logger) or any(r.levelno >= logging.ERROR for r in caplog.records):
            return
        await asyncio.sleep(0.025)


def assert_quiet(caplog: pytest.LogCaptureFixture, logger: str) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [(r.name, r.getMessage(), r.exc_info) for r in errors]
    [record] = left(caplog, logger)  # once
    assert record.levelno == logging.DEBUG and record.exc_info is None


async def test_a_viewer_closing_the_chat_stream_is_not_an_error(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "bots.web.chat")
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        assert (await http.get(f"{server}/chat/demo")).status == 200
        stream = await http.get(f"{server}/chat/demo/events")
        assert stream.status == 200
        stream.close()  # the tab is closed
        await asyncio.sleep(0.2)  # the server has seen the connection go
        # The next event for the room is written to a stream nobody reads any more.
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as other:
            await other.get(f"{server}/chat/demo")
            said = await other.post(
                f"{server}/chat/demo/messages", data={"name": "ann", "text": "hello room"}
            )
            assert said.status == 200
        await until_logged(caplog, "bots.web.chat")
        await asyncio.sleep(0.1)  # anything logged after the handler ended
    assert_quiet(caplog, "bots.web.chat")


async def test_a_seller_closing_the_dashboard_stream_is_not_an_error(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, "webhooks.dashboard")
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        signed = await http.post(f"{server}/dashboard/login", data={"token": TOKEN})
        assert signed.status == 200
        stream = await http.get(f"{server}/dashboard/events")
        assert stream.status == 200
        assert (await stream.content.readline()).startswith(b"data: ")
        stream.close()  # the tab is closed; the stream writes again within a second
        await until_logged(caplog, "webhooks.dashboard")
        await asyncio.sleep(0.1)
    assert_quiet(caplog, "webhooks.dashboard")
