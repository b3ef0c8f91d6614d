"""The composition root: the aiohttp application that owns the core and its background work."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.letters import PlatformLetters
from bots.web.chat import WebNotifier, create_web_chat
from bots.web.hub import ChatHub
from bots.web.overlay import OverlayNotifier, create_overlay
from bots.web.sender import WebSender
from commerce.adapters.app_settings import admin_token, duty_done
from commerce.adapters.clock import LogNotifier
from commerce.adapters.db import async_url, create_engine
from commerce.adapters.leases import SqlLeases, worker_id
from commerce.adapters.outbox import SqlOutbox
from commerce.adapters.relay import PgRelay
from commerce.adapters.throttle import MemoryThrottle
from commerce.bootstrap import bootstrap, freeze_startup_heap
from commerce.config import Settings
from commerce.domain.commands import ExpireHolds, Reconcile, TickShows
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Courier
from commerce.service_layer.ports import Clock, Notifier, PaymentGateway
from commerce.service_layer.results import Notice
from webhooks import (
    checkout_pages,
    giveaways,
    headers,
    health,
    home,
    media,
    platforms,
    signin,
    stripe,
)
from webhooks.dashboard import create_dashboard
from webhooks.devtools.emulator import create_emulator
from webhooks.duties import RENEW_EVERY
from webhooks.keys import (
    ADMIN_TOKEN,
    BUS,
    ENGINE,
    LEASES,
    OUTBOX,
    SETTINGS,
    STRIPE_WEBHOOK_SECRET,
)
from webhooks.metrics import METRICS, Metrics, TimedGateway, metrics_page
from webhooks.payments import EMULATOR_PREFIX, payment_setup
from webhooks.peers import client_ip

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024  # webhooks and forms are small; refuse anything larger early
RECENT = Reconcile(since=timedelta(hours=2))


def create_app(
    settings: Settings,
    *,
    engine: AsyncEngine | None = None,
    clock: Clock | None = None,
    notifier: Notifier | None = None,
    payments: PaymentGateway | None = None,
    webhook_secret: str | None = None,
    sweep_every: float = 1.0,
) -> web.Application:
    """The whole service. Tests may pass their own engine, clock, notifier, or a payment
    gateway with its webhook secret (then neither Stripe nor the emulator is used)."""
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[METRICS] = Metrics()
    headers.install(app)
    # With PostgreSQL, several workers may serve one shop: live events go through the
    # database, so a viewer sees what any worker did. SQLite means one process: no relay.
    relay = (
        PgRelay(settings.database_url, lambda message: hub.receive(message))
        if async_url(settings.database_url).get_backend_name() == "postgresql"
        else None
    )
    hub = ChatHub(relay.publish if relay else None)
    # Notices reach the web chat's viewers, and the caller's notifier (or the log) as well.
    web_notices = WebNotifier(hub, settings.livebuy_locale, lambda: app[BUS].clock.now())
    # The stream overlays (/overlay/<chat>) hear the notices of every platform's chats.
    overlays = OverlayNotifier(hub, lambda: app[BUS], settings.livebuy_locale)
    notices = FanOut([web_notices, overlays, notifier or LogNotifier()])
    per_ip = MemoryThrottle(rate) if (rate := settings.rate_per_ip) else None
    chat = create_web_chat(
        hub,
        lambda: app[BUS],
        settings.livebuy_locale,
        secure=settings.secure_cookies,
        per_ip=per_ip,
        client_ip=client_ip,
        sign_ins=signin.sign_ins(settings),
    )
    app.add_subapp("/chat", chat)
    app.add_subapp("/dashboard", create_dashboard())
    overlay = create_overlay(
        hub, lambda: app[BUS], lambda: app[ADMIN_TOKEN], settings.livebuy_locale
    )
    app.add_subapp("/overlay", overlay)
    setup = None if payments is not None else payment_setup(settings)
    app[STRIPE_WEBHOOK_SECRET] = setup.webhook_secret if setup else webhook_secret or ""
    if setup is not None and setup.emulated:
        base = settings.public_base_url.rstrip("/")
        emulator = create_emulator(
            public_base_url=base,
            webhook_url=f"{base}/webhooks/stripe",
            webhook_secret=setup.webhook_secret,
            api_key=lambda: setup.key(app[ENGINE]),  # asked once core has the engine
            public=settings.livebuy_emulator_public,
        )
        app.add_subapp(EMULATOR_PREFIX, emulator)

    async def core(app: web.Application) -> AsyncIterator[None]:
        app[ENGINE] = engine or create_engine(settings.database_url)
        stripe_gateway = await setup.gateway(app[ENGINE]) if setup else None
        gateway = stripe_gateway or payments
        if gateway is not None:
            gateway = TimedGateway(gateway, app[METRICS])
        app[BUS] = bootstrap(
            settings,
            app[ENGINE],
            clock=clock,
            notifier=notices,
            payments=gateway,
            letters=PlatformLetters(settings.livebuy_locale),
            units_left=True,  # boards and overlays follow claims from every chat
        )
        freeze_startup_heap()
        outbox = app[OUTBOX] = SqlOutbox(app[ENGINE])
        app[LEASES] = SqlLeases(app[ENGINE], worker_id())
        configured = settings.livebuy_admin_token
        app[ADMIN_TOKEN] = await admin_token(
            app[ENGINE],
            configured.get_secret_value() if configured else None,
            app[BUS].clock.now(),
        )
        yield
        await outbox.close()
        await app[BUS].close()
        if stripe_gateway is not None:
            await stripe_gateway.close()
        if engine is None:  # a caller's engine is the caller's to dispose
            await app[ENGINE].dispose()

    async def background(app: web.Application) -> AsyncIterator[None]:
        bus, leases, clock = app[BUS], app[LEASES], app[BUS].clock

        def duty(
            name: str, work: Callable[[], Awaitable[object]]
        ) -> Callable[[], Awaitable[None]]:
            """Work that one worker does at a time: whoever holds the lease."""

            async def run() -> None:
                if await leases.hold(name, clock.now()):
                    await work()
                    if name == "reconcile":  # when it last ran: /healthz/backlog
                        await duty_done(app[ENGINE], name, clock.now())

            return run

        tasks = [
            forever("heartbeat", lambda: leases.heartbeat(clock.now()), RENEW_EVERY),
            forever(
                "hold sweeper", duty("sweeper", lambda: bus.handle(ExpireHolds())), sweep_every
            ),
            # Show reminders and openings are the sweeper's too (one worker at a time).
            forever("shows", duty("sweeper", lambda: bus.handle(TickShows())), 5 * sweep_every),
            forever(
                "stored payment events",
                duty("reprocess", lambda: stripe.reprocess(bus)),
                10 * sweep_every,
            ),
            # Reconciliation waits a round first (at start-up the emulator is not listening
            # yet) and looks two hours back: older gaps are `livebuy reconcile --since`'s.
            forever(
                "reconciliation",
                duty("reconcile", lambda: reconcile(bus)),
                600 * sweep_every,
                True,
            ),
        ]
        # Private messages the core stored for web chat viewers (a package shipped).
        tasks.append(Courier(app[OUTBOX], WebSender(hub), clock, per_second=200).run())
        if relay is not None:
            tasks.append(relay.run())
        running = [asyncio.create_task(t) for t in tasks]
        yield
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await leases.release_all(clock.now())  # the others take over at once

    app.cleanup_ctx.extend([core, background])
    platforms.install(app, notices.notifiers.append)
    app.add_routes(health.routes)
    app.add_routes(stripe.routes)
    app.add_routes(checkout_pages.routes)
    app.add_routes(giveaways.routes)
    app.add_routes(home.routes)
    app.add_routes(media.routes)
    signin.install(app, settings)
    app.router.add_get("/metrics", metrics_page)
    return app


async def reconcile(bus: MessageBus, recent: Reconcile = RECENT) -> list[str]:
    """Repairs what lost webhooks left behind: orders asked about at Stripe, then events
    kept as dead letters (their order was unknown for too long) applied if it exists now."""
    return [*await bus.handle(recent), *await stripe.retry_dead_letters(bus)]


class FanOut:
    """One notifier that hands every notice to several (web chat, log, the chat platforms)."""

    def __init__(self, notifiers: list[Notifier]) -> None:
        self.notifiers = notifiers

    async def notify(self, notice: Notice) -> None:
        for notifier in self.notifiers:
            await notifier.notify(notice)


async def forever(
    name: str, work: Callable[[], Awaitable[object]], every: float, wait_first: bool = False
) -> None:
    """Runs a background job every `every` seconds; one failure never stops the loop."""
    if wait_first:
        await asyncio.sleep(every)
    while True:
        try:
            await work()
        except Exception:
            log.exception("%s failed; retrying in %ss", name, every)
        await asyncio.sleep(every)
