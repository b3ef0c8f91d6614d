"""The bot: discord.py's `commands.Bot` with livebuy's cogs, started by `DiscordService`."""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import aiohttp
import discord
from discord.ext import commands

from bots.discord.answer import ConfirmButton, decide, pressed
from bots.discord.cogs.buying import BuyButton, Buying
from bots.discord.cogs.cards import Cards
from bots.discord.cogs.selling import Selling
from bots.discord.cogs.shows import EnterButton, Shows, VoteButton
from bots.discord.cogs.text import TextBuying, said
from bots.discord.core import Core, Options
from commerce.service_layer.inbox import InboxItem

log = logging.getLogger(__name__)


class LivebuyBot(commands.Bot):
    def __init__(self, core: Core, options: Options, message_content: bool) -> None:
        intents = discord.Intents.default()  # guilds, guild messages, DMs; no privileged ones
        intents.message_content = message_content
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            max_ratelimit_timeout=options.max_ratelimit_timeout,
        )
        self.livebuy_core, self.options = core, options
        self.message_content = message_content

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        if not self.is_closed():  # an event after the close would run after the worker
            super().dispatch(event, *args, **kwargs)

    def _schedule_event(
        self,
        coro: Callable[..., Coroutine[Any, Any, Any]],
        event_name: str,
        *args: Any,
        **kwargs: Any,
    ) -> asyncio.Task[Any]:
        # discord.py runs each event (on_message, on_ready, ...) in a task it forgets; they are
        # kept with the core's so that stopping ends them: one started just before a shutdown
        # otherwise outlives its worker, or is never run and warns when the loop closes.
        task = super()._schedule_event(coro, event_name, *args, **kwargs)
        self.livebuy_core.handlers.add(task)
        task.add_done_callback(self.livebuy_core.handlers.discard)
        return task

    async def setup_hook(self) -> None:
        await self.add_cog(Buying(self.livebuy_core))
        await self.add_cog(Selling(self.livebuy_core))
        await self.add_cog(Cards(self.livebuy_core))
        await self.add_cog(Shows(self.livebuy_core))
        if self.message_content:
            await self.add_cog(TextBuying(self.livebuy_core))
        self.add_dynamic_items(BuyButton, ConfirmButton, EnterButton, VoteButton)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """To the guilds in DISCORD_GUILD_IDS (available at once), else globally (Discord
        may take a while to show them everywhere)."""
        if not self.options.guild_ids:
            synced = await self.tree.sync()
            log.info("Discord: %d slash commands synced globally", len(synced))
            return
        for guild_id in self.options.guild_ids:
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("Discord: %d slash commands synced to guild %s", len(synced), guild_id)

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: text is only read by the `#buy` cog."""

    async def on_ready(self) -> None:
        log.info("Discord: connected as %s in %d servers", self.user, len(self.guilds))

    async def add_role(self, guild_id: int, user_id: int, role_id: int, reason: str) -> None:
        await self.http.add_role(guild_id, user_id, role_id, reason=reason)

    async def remove_role(self, guild_id: int, user_id: int, role_id: int, reason: str) -> None:
        await self.http.remove_role(guild_id, user_id, role_id, reason=reason)


class DiscordService:
    """Runs the bot in the application's event loop: logs in, connects and reconnects;
    without the message-content intent in the developer portal it carries on without it."""

    def __init__(self, core: Core, options: Options) -> None:
        self.core, self.options = core, options
        self.bot: LivebuyBot | None = None
        self.task: asyncio.Task[None] | None = None
        self.message_content = options.message_content
        self.retry_every = 5.0
        core.replay = self.replay

    async def replay(self, item: InboxItem, payload: dict[str, Any]) -> None:
        """A stored update whose worker died before processing it: decided now, and an
        interaction answered through its token (valid 15 minutes), as its worker would have."""
        update_id = int(item.update_id)
        if payload["kind"] == "text":
            await said(self.core, update_id, payload)
            return
        if self.bot is None:  # pragma: no cover (the runner runs while the bot does)
            raise RuntimeError("the Discord bot is not running")
        followup = discord.Webhook.partial(
            int(payload["application"]), str(payload["token"]), client=self.bot
        )
        followup.type = discord.WebhookType.application  # an interaction's: ephemeral works
        if payload["kind"] == "words":

            async def send(text: str, view: discord.ui.View | None) -> None:
                if view is None:
                    await followup.send(text, ephemeral=True)
                else:
                    await followup.send(text, ephemeral=True, view=view)

            await decide(self.core, update_id, payload, send)
        else:
            await pressed(self.core, update_id, payload, followup.send)

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        if not self.message_content:
            log.warning(
                "Discord: DISCORD_MESSAGE_CONTENT is off, so #buy typed as text is not read;"
                " buyers use /buy and the Buy button."
            )
        while True:
            self.bot = LivebuyBot(self.core, self.options, self.message_content)
            try:
                await self.bot.login(self.options.token)
                self.core.roles = self.bot
                await self.bot.connect()
                return
            except discord.PrivilegedIntentsRequired:
                log.error(
                    "Discord: the message content intent is not enabled for this bot in the"
                    " developer portal (Bot > Privileged Gateway Intents). Carrying on without"
                    " it: #buy typed as text is not read; /buy and the Buy button work."
                )
                self.message_content = False
                await self.bot.close()
            except discord.LoginFailure:
                log.error("Discord: the bot token was refused; the Discord adapter is off")
                return
            except (OSError, aiohttp.ClientError, discord.HTTPException, TimeoutError):
                log.exception("Discord: cannot connect; trying again in %ss", self.retry_every)
                await self.bot.close()
                await asyncio.sleep(self.retry_every)

    async def stop(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        # discord.py does not end its own event tasks, nor the interaction tasks of its command
        # tree (an update they stored is replayed by the next worker).
        handlers = set(self.core.handlers)
        for handler in handlers:
            handler.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
