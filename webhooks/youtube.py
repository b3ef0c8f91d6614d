"""The YouTube Live adapter in the application: started when its settings are complete
(`Settings.youtube_off` is None), in the same event loop as the web server, after the core and
stopped before it. One worker at a time reads the live chat, decides the stored messages and
sends the outbox's lines: the holder of the "youtube-chat" lease.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from aiohttp import web

from bots.youtube.api import Credentials, YouTubeApi
from bots.youtube.core import Core, Options
from bots.youtube.notifier import YouTubeNotifier
from bots.youtube.poller import Poller
from bots.youtube.sender import YouTubeSender
from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.adapters.outbox import SqlOutbox
from commerce.adapters.page_tokens import SqlPageTokens
from commerce.config import Settings
from commerce.service_layer.inbox import InboxRunner
from commerce.service_layer.outbox import Courier
from commerce.service_layer.ports import Notifier
from webhooks.duties import while_holding
from webhooks.keys import BUS, ENGINE, LEASES, SETTINGS
from webhooks.metrics import METRICS

log = logging.getLogger(__name__)
LEASE = "youtube-chat"
# A board (a drop's units left, an auction's price) is a new chat line each time on YouTube,
# and each line costs quota: the updates in between are merged into one line this often.
BOARD_EVERY = timedelta(seconds=15)


class YouTube:
    """What the running adapter is made of (tests reach in through YOUTUBE)."""

    def __init__(
        self, api: YouTubeApi, core: Core, poller: Poller, courier: Courier, outbox: SqlOutbox
    ) -> None:
        self.api, self.core, self.poller, self.courier, self.outbox = (
            api,
            core,
            poller,
            courier,
            outbox,
        )


YOUTUBE = web.AppKey("youtube", YouTube)


def options(settings: Settings) -> Options:
    return Options(
        live_chat_id=settings.youtube_live_chat_id.strip(),
        broadcast_id=settings.youtube_broadcast_id.strip(),
        locale=settings.livebuy_locale,
        min_poll=settings.youtube_min_poll_seconds,
    )


def credentials(settings: Settings) -> Credentials:
    assert settings.youtube_client_secret is not None
    assert settings.youtube_refresh_token is not None
    return Credentials(
        client_id=settings.youtube_client_id.strip(),
        client_secret=settings.youtube_client_secret.get_secret_value(),
        refresh_token=settings.youtube_refresh_token.get_secret_value(),
    )


async def chat_duty(app: web.Application, youtube: YouTube, runner: InboxRunner) -> None:
    """One worker at a time reads the chat (two would spend the quota twice), decides the
    stored messages (those a dead holder left too) and sends the lines; when it stops or
    dies, another takes over from the stored page token."""
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        tasks.extend(
            asyncio.create_task(work)
            for work in (youtube.poller.run(), runner.run(), youtube.courier.run())
        )

    async def stop() -> None:
        await end(tasks[0])  # no more reading
        await runner.stop()  # messages under way finish
        # A line YouTube took is marked sent before the courier ends: a courier cancelled in
        # between would have the next worker post it again.
        youtube.courier.stop()
        await asyncio.wait(tasks[2:], timeout=5.0)
        for task in tasks:
            await end(task)
        tasks.clear()

    await while_holding(app, LEASE, start, stop, "YouTube live chat")


async def end(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def install(app: web.Application, add_notifier: Callable[[Notifier], None]) -> None:
    settings = app[SETTINGS]
    if settings.youtube_off is not None:
        return
    notifier = YouTubeNotifier()
    add_notifier(notifier)

    async def youtube_chat(app: web.Application) -> AsyncIterator[None]:
        bus, engine = app[BUS], app[ENGINE]
        config = options(settings)
        api = YouTubeApi(
            credentials(settings), settings.youtube_api_base_url, settings.youtube_oauth_token_url
        )
        outbox = SqlOutbox(engine, board_every=BOARD_EVERY)
        inbox = SqlChatInbox(engine, app[LEASES].holder)
        core = Core(bus, outbox, inbox, config)
        poller = Poller(api, core, SqlPageTokens(engine), config)
        courier = Courier(outbox, YouTubeSender(api), bus.clock, per_second=5)
        runner = InboxRunner(inbox, "youtube", core.process, bus.clock, joins=core.joins)
        core.wake, core.wake_inbox = courier.wake, runner.wake
        app[METRICS].couriers.append(courier)
        notifier.core = core  # every worker puts into the outbox; the lease holder sends
        app[YOUTUBE] = YouTube(api, core, poller, courier, outbox)
        duty = asyncio.create_task(chat_duty(app, app[YOUTUBE], runner))
        yield
        notifier.core = None
        duty.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await duty
        await outbox.close()
        await api.close()

    app.cleanup_ctx.append(youtube_chat)
