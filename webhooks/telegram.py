"""Telegram in the same process as the web server (installed when TELEGRAM_BOT_TOKEN is set).

Long polling by default; webhook mode when PUBLIC_BASE_URL is https and
TELEGRAM_WEBHOOK_SECRET is set: Telegram then POSTs updates to /webhooks/telegram with the
secret in `X-Telegram-Bot-Api-Secret-Token`. Either way an update is stored in the chat inbox
before Telegram learns it arrived (polling: before the next getUpdates offset confirms it;
webhook: before the 200), and every worker's `InboxRunner` processes the stored updates, one
chat's in order (commerce.service_layer.inbox). A `Courier` delivers the outbox's messages.
"""

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiohttp import web
from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from bots.telegram.adapter import TelegramAdapter
from bots.telegram.commands import register_commands
from bots.telegram.sender import TelegramSender, retry_seconds
from commerce.adapters.chat_inbox import SqlChatInbox
from commerce.adapters.inbound import SqlContacts
from commerce.adapters.media import MediaFolder
from commerce.config import Settings
from commerce.service_layer.inbox import InboxRunner
from commerce.service_layer.outbox import Courier
from commerce.service_layer.ports import Notifier
from commerce.service_layer.results import Notice
from webhooks.duties import while_holding
from webhooks.keys import BUS, ENGINE, LEASES, OUTBOX, SETTINGS
from webhooks.metrics import METRICS

log = logging.getLogger(__name__)
PATH = "/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
UPDATES = ["message", "channel_post", "callback_query", "pre_checkout_query"]
POLL_LEASE = "telegram-poller"
POLL_TIMEOUT = 10  # seconds a getUpdates waits for news


@dataclass
class TelegramOptions:
    """Knobs for tests and operators: the courier's overall pace and start-up retries."""

    per_second: float = 25.0
    retry_start_every: float = 5.0


@dataclass
class TelegramRuntime:
    adapter: TelegramAdapter | None = None
    application: Application | None = None  # type: ignore[type-arg]
    courier: Courier | None = None
    runner: InboxRunner | None = None  # processes the stored updates (every worker)
    polling: bool = False  # this worker holds the poller's lease and polls
    conflicts: int = 0  # getUpdates refused with 409: another process polls this bot
    webhook: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)


TELEGRAM = web.AppKey("telegram", TelegramRuntime)
TELEGRAM_OPTIONS = web.AppKey("telegram_options", TelegramOptions)


def webhook_mode(settings: Settings) -> bool:
    return settings.public_base_url.startswith("https://") and bool(
        settings.telegram_webhook_secret and settings.telegram_webhook_secret.get_secret_value()
    )


class _Relay:
    """The notifier handed to the core at install time; the adapter exists only later."""

    def __init__(self, runtime: TelegramRuntime) -> None:
        self.runtime = runtime

    async def notify(self, notice: Notice) -> None:
        if self.runtime.adapter is not None:
            await self.runtime.adapter.notify(notice)


def install(app: web.Application, add_notifier: Callable[[Notifier], None]) -> None:
    settings: Settings = app[SETTINGS]
    if settings.telegram_bot_token is None:
        return
    runtime = TelegramRuntime(webhook=webhook_mode(settings))
    app[TELEGRAM] = runtime
    add_notifier(_Relay(runtime))
    if runtime.webhook:
        app.router.add_post(PATH, receive)
    app.cleanup_ctx.append(_run)


async def _run(app: web.Application) -> AsyncIterator[None]:
    runtime = app[TELEGRAM]
    task = asyncio.create_task(_serve(app, runtime))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _serve(app: web.Application, runtime: TelegramRuntime) -> None:
    """Builds and starts the bot, runs its courier, and stops both when cancelled."""
    settings = app[SETTINGS]
    options = app.get(TELEGRAM_OPTIONS) or TelegramOptions()
    api = settings.telegram_api_base_url.rstrip("/")
    bus, outbox = app[BUS], app[OUTBOX]
    contacts, inbox = SqlContacts(app[ENGINE]), SqlChatInbox(app[ENGINE], app[LEASES].holder)
    # The adapter takes the core's notices into the outbox even while the Bot API cannot be
    # reached yet; the courier delivers them once it can.
    adapter = TelegramAdapter(
        None,
        lambda: app[BUS],
        outbox,
        contacts,
        inbox,
        bus.clock,
        locale=settings.livebuy_locale,
    )
    runtime.adapter = adapter
    try:
        application = await _initialized(settings, api, options)
        if application is not None:
            await _run_bot(app, runtime, adapter, application, options)
    finally:
        runtime.ready.clear()
        runtime.adapter = None
        await adapter.close()


async def _initialized(
    settings: Settings, api: str, options: TelegramOptions
) -> Application | None:  # type: ignore[type-arg]
    """An Application past getMe, once the Bot API answers; None if it refuses the token."""
    while True:
        application = _build(settings, api)
        try:
            await application.initialize()  # getMe
            return application
        except InvalidToken:
            log.error("TELEGRAM_BOT_TOKEN was refused by the Bot API: Telegram stays off")
            await application.bot.request.shutdown()
            return None
        except TelegramError as exc:
            log.warning("Bot API unreachable at %s (%s); retrying", api, exc)
            await application.bot.request.shutdown()
            await asyncio.sleep(options.retry_start_every)


async def _run_bot(
    app: web.Application,
    runtime: TelegramRuntime,
    adapter: TelegramAdapter,
    application: Application,  # type: ignore[type-arg]
    options: TelegramOptions,
) -> None:
    settings, bot, clock = app[SETTINGS], application.bot, app[BUS].clock
    contacts = adapter.contacts

    async def blocked(chat: str) -> None:
        await contacts.stopped("telegram", f"telegram:{chat}")

    provider = settings.telegram_payment_provider_token  # Telegram Payments: invoices
    token = provider.get_secret_value() if provider else None
    # Pictures of the media folder are uploaded (Telegram may not reach this server).
    sender = TelegramSender(bot, blocked, token, MediaFolder(settings.media_dir).path)
    courier = Courier(app[OUTBOX], sender, clock, per_second=options.per_second)
    adapter.bot, adapter.wake = bot, courier.wake
    app[METRICS].couriers.append(courier)  # its 429 count goes to /metrics
    adapter.started(bot.username, bool(bot.can_read_all_group_messages))
    runner = InboxRunner(adapter.inbox, "telegram", adapter.process, clock, joins=adapter.joins)
    delivering = asyncio.create_task(courier.run())
    processing = asyncio.create_task(runner.run())
    polling: asyncio.Task[None] | None = None
    try:
        while True:
            try:
                await _receive_updates(application, runtime, settings)
                break
            except TelegramError as exc:
                log.warning("could not start receiving Telegram updates (%s); retrying", exc)
                await asyncio.sleep(options.retry_start_every)
        if not runtime.webhook:
            polling = asyncio.create_task(_polling_duty(app, runtime, adapter, bot))
        runtime.application, runtime.courier, runtime.runner = application, courier, runner
        runtime.ready.set()
        mode = "webhook" if runtime.webhook else "long polling"
        log.info("Telegram bot @%s is up (%s)", bot.username, mode)
        try:
            await register_commands(bot)
        except TelegramError as exc:  # the menu is a convenience; the bot works without it
            log.warning("setMyCommands failed: %s", exc)
        await asyncio.Event().wait()
    finally:
        runtime.ready.clear()
        if polling is not None:
            polling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await polling
        await runner.stop()  # updates under way finish; then the tasks end
        await _stop(application)
        for task in (processing, delivering):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _build(settings: Settings, api: str) -> Application:  # type: ignore[type-arg]
    token = settings.telegram_bot_token
    assert token is not None
    return (
        Application.builder()
        .token(token.get_secret_value())
        .base_url(f"{api}/bot")
        .base_file_url(f"{api}/file/bot")
        .updater(None)  # updates come through the chat inbox (_poll, receive)
        .get_updates_connection_pool_size(2)  # a long poll and the one that ends it
        .build()
    )


async def _receive_updates(
    application: Application,  # type: ignore[type-arg]
    runtime: TelegramRuntime,
    settings: Settings,
) -> None:
    """Webhook mode: tells Telegram where to POST (every worker accepts updates). Long
    polling is `_polling_duty`'s."""
    if runtime.webhook:
        secret = settings.telegram_webhook_secret
        assert secret is not None
        await application.bot.set_webhook(
            f"{settings.public_base_url}{PATH}",
            secret_token=secret.get_secret_value(),
            allowed_updates=UPDATES,
        )


async def _polling_duty(
    app: web.Application, runtime: TelegramRuntime, adapter: TelegramAdapter, bot: Bot
) -> None:
    """Telegram serves one getUpdates poller per bot: one worker at a time holds the lease
    and polls (which also removes a webhook set before); when it stops or dies, another
    takes over. Every worker processes the stored updates and sends from the outbox."""
    poller: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal poller
        await bot.delete_webhook()
        poller = asyncio.create_task(_poll(adapter, bot, runtime))
        runtime.polling = True

    async def stop() -> None:
        runtime.polling = False
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller

    await while_holding(app, POLL_LEASE, start, stop, "Telegram polling", retried=(TelegramError,))


async def _poll(adapter: TelegramAdapter, bot: Bot, runtime: TelegramRuntime) -> None:
    """The getUpdates loop: a batch is stored before the next request's offset confirms it
    to Telegram, so a crash in between makes Telegram deliver it again (stored once)."""
    offset: int | None = None
    pause = 0.0
    while True:
        try:
            updates = await bot.get_updates(
                offset=offset, timeout=POLL_TIMEOUT, allowed_updates=UPDATES
            )
            pause = 0.0
        except RetryAfter as exc:
            await asyncio.sleep(retry_seconds(exc))
            continue
        except Conflict as exc:
            # Telegram serves one poller per bot: another deployment (another database, so
            # no shared lease) polls it, or a webhook is set. Said loudly; polled again
            # with backoff, so this worker takes over once the other stops.
            runtime.conflicts += 1
            pause = min(max(pause * 2, 0.5), 30.0)
            log.error(
                "Telegram: another process is receiving this bot's updates (%s); only one may"
                " poll. Stop the other instance; retrying in %.1f s",
                exc,
                pause,
            )
            await asyncio.sleep(pause)
            continue
        except TelegramError as exc:  # a network hiccup, a 5xx: again, a little later
            pause = min(max(pause * 2, 0.5), 30.0)
            log.warning("getUpdates failed (%s); retrying in %.1f s", exc, pause)
            await asyncio.sleep(pause)
            continue
        if not updates:
            continue
        await adapter.intake(list(updates))
        offset = updates[-1].update_id + 1
        if runtime.runner is not None:
            runtime.runner.wake()


async def _stop(application: Application) -> None:  # type: ignore[type-arg]
    try:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
    except Exception:
        log.exception("stopping the Telegram bot failed")


async def receive(request: web.Request) -> web.Response:
    """POST /webhooks/telegram: the secret checked in constant time, the update stored
    (Telegram gets its 200 only then), the inbox runner woken."""
    app = request.app
    secret = app[SETTINGS].telegram_webhook_secret
    expected = secret.get_secret_value().encode() if secret else b""
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not expected or not hmac.compare_digest(given, expected):
        raise web.HTTPForbidden(text="wrong secret")
    runtime = app[TELEGRAM]
    application, adapter = runtime.application, runtime.adapter
    if application is None or adapter is None or not runtime.ready.is_set():
        raise web.HTTPServiceUnavailable(text="the bot is starting")  # Telegram retries
    try:
        data = json.loads(await request.read())
        update = Update.de_json(data, application.bot)
    except (ValueError, TypeError, KeyError) as exc:
        raise web.HTTPBadRequest(text="not an update") from exc
    if update is None:
        raise web.HTTPBadRequest(text="not an update")
    await adapter.intake([update])
    if runtime.runner is not None:
        runtime.runner.wake()
    return web.Response(text="ok")
