"""The Discord adapter in the application: started with DISCORD_BOT_TOKEN, in the same event
loop as the web server, after the core (it needs the bus and the outbox) and stopped before it.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bots.discord.bot import DiscordService
from bots.discord.core import Core, Options
from bots.discord.endpoints import use_endpoints
from bots.discord.notifier import DiscordNotifier
from bots.discord.sender import DiscordSender
from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.adapters.perks import SqlPerks
from commerce.config import Settings
from commerce.service_layer.inbox import InboxRunner
from commerce.service_layer.outbox import Courier
from commerce.service_layer.ports import Notifier
from webhooks.duties import while_holding
from webhooks.keys import BUS, ENGINE, LEASES, OUTBOX, SETTINGS
from webhooks.metrics import METRICS

log = logging.getLogger(__name__)
DISCORD = web.AppKey("discord", DiscordService)
COURIER = web.AppKey("discord_courier", Courier)
LEASE = "discord-gateway"


def options(settings: Settings) -> Options:
    assert settings.discord_bot_token is not None
    guilds = (g.strip() for g in settings.discord_guild_ids.split(","))
    return Options(
        token=settings.discord_bot_token.get_secret_value(),
        guild_ids=tuple(int(g) for g in guilds if g),
        seller_role=settings.discord_seller_role.strip(),
        message_content=settings.discord_message_content,
        locale=settings.livebuy_locale,
    )


async def gateway_duty(
    app: web.Application, service: DiscordService, courier: Courier, runner: InboxRunner
) -> None:
    """One worker at a time holds the Discord gateway (a bot token allows one session per
    shard), processes the stored interactions and messages (those a dead holder left too)
    and delivers the outbox; when it stops or dies, another takes over."""
    tasks: list[asyncio.Task[None]] = []

    async def start() -> None:
        service.start()
        tasks.extend((asyncio.create_task(courier.run()), asyncio.create_task(runner.run())))

    async def stop() -> None:
        await runner.stop()  # updates under way finish; then the tasks end
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        tasks.clear()
        await service.stop()

    await while_holding(app, LEASE, start, stop, "Discord gateway")


def install(app: web.Application, add_notifier: Callable[[Notifier], None]) -> None:
    settings = app[SETTINGS]
    if settings.discord_bot_token is None:
        return
    notifier = DiscordNotifier()
    add_notifier(notifier)

    async def discord_bot(app: web.Application) -> AsyncIterator[None]:
        use_endpoints(settings.discord_api_base_url, settings.discord_gateway_url)
        bus, outbox = app[BUS], app[OUTBOX]
        engine = app[ENGINE]
        config = options(settings)
        inbox = SqlChatInbox(engine, app[LEASES].holder)
        core = Core(bus, outbox, inbox, SqlPerks(engine), config)
        service = DiscordService(core, config)
        sender = DiscordSender(lambda: service.bot, config.locale, settings.public_base_url)
        courier = Courier(outbox, sender, bus.clock)
        runner = InboxRunner(inbox, "discord", core.process, bus.clock, joins=core.joins)
        core.wake, core.wake_inbox = courier.wake, runner.wake
        app[METRICS].couriers.append(courier)  # its 429 count goes to /metrics
        notifier.core = core  # every worker puts into the outbox; the gateway's holder sends
        app[DISCORD], app[COURIER] = service, courier
        duty = asyncio.create_task(gateway_duty(app, service, courier, runner))
        yield
        notifier.core = None
        duty.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await duty

    app.cleanup_ctx.append(discord_bot)
