"""The Twitch adapter in the application: started when its settings are complete
(`Settings.twitch_off` is None), in the same event loop as the web server, after the core and
stopped before it. One worker at a time holds the EventSub connection, decides the stored chat
messages and sends the outbox's lines: the holder of the "twitch-eventsub" lease (two
connections would read every message twice, and two couriers could break the per-channel
message limit together).
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

from aiohttp import web

from bots.twitch.api import Credentials, Helix
from bots.twitch.core import Core, Options
from bots.twitch.eventsub import EventSub
from bots.twitch.notifier import TwitchNotifier
from bots.twitch.sender import TwitchSender
from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.adapters.outbox import SqlOutbox
from commerce.config import Settings
from commerce.service_layer.inbox import InboxRunner
from commerce.service_layer.outbox import Courier
from commerce.service_layer.ports import Notifier
from webhooks.duties import while_holding
from webhooks.keys import BUS, ENGINE, LEASES, SETTINGS
from webhooks.metrics import METRICS

log = logging.getLogger(__name__)
LEASE = "twitch-eventsub"
# A board (a drop's units left, an auction's price) is a new chat line each time on Twitch,
# and a channel takes 20 lines per 30 s: the updates in between are merged into one line
# this often, leaving most of the budget to the buyers' answers.
BOARD_EVERY = timedelta(seconds=10)


class Twitch:
    """What the running adapter is made of (tests reach in through TWITCH)."""

    def __init__(
        self,
        helix: Helix,
        core: Core,
        eventsub: EventSub,
        sender: TwitchSender,
        courier: Courier,
        outbox: SqlOutbox,
    ) -> None:
        self.helix, self.core, self.eventsub = helix, core, eventsub
        self.sender, self.courier, self.outbox = sender, courier, outbox


TWITCH = web.AppKey("twitch", Twitch)


def credentials(settings: Settings) -> Credentials:
    assert settings.twitch_client_secret is not None
    assert settings.twitch_bot_refresh_token is not None
    return Credentials(
        client_id=settings.twitch_client_id.strip(),
        client_secret=settings.twitch_client_secret.get_secret_value(),
        refresh_token=settings.twitch_bot_refresh_token.get_secret_value(),
        bot_user_id=settings.twitch_bot_user_id.strip(),
    )


async def eventsub_duty(app: web.Application, twitch: Twitch, runner: InboxRunner) -> None:
    """One worker at a time holds the EventSub connection, decides the stored messages
    (those a dead holder left too) and sends the lines; when it stops or dies, another
    takes over with a new connection."""
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        twitch.eventsub.closing = False
        tasks.extend(
            asyncio.create_task(work)
            for work in (twitch.eventsub.run(), twitch.courier.run(), runner.run())
        )

    async def stop() -> None:
        # The connection ends between two messages (a cancelled store could leave SQLite's
        # write lock to a connection being thrown away), then the stored messages finish.
        await twitch.eventsub.close()
        if tasks:
            await asyncio.wait(tasks[:1], timeout=5)
        await runner.stop()  # messages under way finish; then the tasks end
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        tasks.clear()

    await while_holding(app, LEASE, start, stop, "Twitch EventSub")


def install(app: web.Application, add_notifier: Callable[[Notifier], None]) -> None:
    settings = app[SETTINGS]
    if settings.twitch_off is not None:
        return
    notifier = TwitchNotifier()
    add_notifier(notifier)

    async def twitch_chat(app: web.Application) -> AsyncIterator[None]:
        bus, engine = app[BUS], app[ENGINE]
        helix = Helix(
            credentials(settings), settings.twitch_api_base_url, settings.twitch_oauth_base_url
        )
        config = Options(
            bot_user_id=settings.twitch_bot_user_id.strip(), locale=settings.livebuy_locale
        )
        outbox = SqlOutbox(engine, board_every=BOARD_EVERY)
        inbox = SqlChatInbox(engine, app[LEASES].holder)
        core = Core(bus, outbox, inbox, config)
        eventsub = EventSub(
            helix, core, settings.twitch_eventsub_ws_url, settings.twitch_channel_list
        )
        sender = TwitchSender(helix, settings.twitch_messages_per_30s)
        courier = Courier(outbox, sender, bus.clock, per_second=50)
        runner = InboxRunner(inbox, "twitch", core.process, bus.clock, joins=core.joins)
        core.wake, core.wake_inbox = courier.wake, runner.wake
        app[METRICS].couriers.append(courier)
        notifier.core = core  # every worker puts into the outbox; the lease holder sends
        app[TWITCH] = Twitch(helix, core, eventsub, sender, courier, outbox)
        duty = asyncio.create_task(eventsub_duty(app, app[TWITCH], runner))
        yield
        notifier.core = None
        duty.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await duty
        await outbox.close()
        await helix.close()

    app.cleanup_ctx.append(twitch_chat)
