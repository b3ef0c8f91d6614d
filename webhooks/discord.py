"""The Discord adapter in the application: started with DISCORD_BOT_TOKEN, in the same event
loop as the web server, after the core (it needs the bus and the outbox) and stopped before it.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from bots.discord.bot import DiscordService
from bots.discord.core import Core, Options
from bots.discord.endpoints import use_endpoints
from bots.discord.notifier import DiscordNotifier
from bots.discord.sender import DiscordSender
from commerce.adapters.inbound import SqlInbound
from commerce.adapters.perks import SqlPerks
from commerce.config import Settings
from commerce.service_layer.outbox import Courier
from commerce.service_layer.ports import Notifier
from webhooks.keys import BUS, ENGINE, OUTBOX, SETTINGS

DISCORD = web.AppKey("discord", DiscordService)
COURIER = web.AppKey("discord_courier", Courier)


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
        core = Core(bus, outbox, SqlInbound(engine), SqlPerks(engine), config)
        service = DiscordService(core, config)
        courier = Courier(
            outbox, DiscordSender(lambda: service.bot, config.locale), bus.deps.clock
        )
        core.wake = courier.wake
        notifier.core = core
        app[DISCORD], app[COURIER] = service, courier
        service.start()
        delivering = asyncio.create_task(courier.run())
        yield
        notifier.core = None
        delivering.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await delivering
        await service.stop()

    app.cleanup_ctx.append(discord_bot)
