"""The chat platforms served beside the web chat, each started only when it is configured.

A platform's module here (webhooks/telegram.py, webhooks/discord.py) offers
`install(app, add_notifier)`: it adds its routes and appends a cleanup context to
`app.cleanup_ctx`, which runs after the core's (so `app[BUS]` and `app[OUTBOX]` exist) and
stops the bot before the core closes. Its notifier turns the core's notices into outbox
messages; a `Courier` delivers them.
"""

from collections.abc import Callable

from aiohttp import web

from commerce.service_layer.ports import Notifier
from webhooks import telegram
from webhooks.keys import SETTINGS


def install(app: web.Application, add_notifier: Callable[[Notifier], None]) -> None:
    settings = app[SETTINGS]
    if settings.telegram_bot_token is not None:
        telegram.install(app, add_notifier)
    if settings.discord_bot_token is not None:
        from webhooks import discord  # discord.py is imported only when Discord is configured

        discord.install(app, add_notifier)
    if settings.youtube_off is None:
        from webhooks import youtube

        youtube.install(app, add_notifier)
    if settings.twitch_off is None:
        from webhooks import twitch

        twitch.install(app, add_notifier)
