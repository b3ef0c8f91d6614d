"""`livebuy bench chat --via console`: the same claims as the web chat's, in one process and
without HTTP: each typed as chat text in the console adapter's message shape and handed to
the bus as a chat adapter does (the bus bootstrapped as `livebuy run` does), its outcome
rendered, and its private answer (with the pay link) put into the outbox table; a `Courier`
delivers the outbox to a sender for the "console" platform that notes when each private
answer went out. The time from a message to its private answer therefore includes the
outbox's round trip: put, taken, sent, marked sent.

Every winner's pay link is then opened as the pay page does (the order's Checkout Session,
made on the Stripe emulator in a process of its own), and the calls the shop made to Stripe
for the drop are counted.
"""

import asyncio
import contextlib
import os
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

from aiohttp import ClientSession

from bench.chat import KEY, ROOM, Answers, EmulatorCommand, _ms, emulator_process, seed
from bench.flash_drop import scratch_database
from bench.webhook import _free_port
from bots import console
from bots.letters import PlatformLetters
from bots.rendering import Renderer
from commerce.adapters.db import create_engine
from commerce.adapters.outbox import SqlOutbox
from commerce.adapters.stripe_gateway import StripePaymentGateway
from commerce.bootstrap import bootstrap, freeze_startup_heap
from commerce.config import Settings
from commerce.domain.commands import OpenPayment
from commerce.domain.identity import Identity
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.outbox import Courier, Outbox, Outgoing
from commerce.service_layer.ports import Clock
from commerce.service_layer.results import PageKind, PaymentPage

PLATFORM = "console"
# A console has no platform limit: the courier's pause after each message is a token one
# (its per-chat order, leases and pacing are kept as they are).
COURIER_PER_SECOND = 10_000


class ConsoleBuyers(Answers):
    """Buyers typing in the console's chat; their private answers come from the courier."""

    OPENED = PageKind.PAY.value

    def __init__(self, count: int, bus: MessageBus, outbox: Outbox, clock: Clock) -> None:
        super().__init__(count)
        self.bus, self.outbox, self.clock = bus, outbox, clock
        self.renderer = Renderer()
        self.wake: Callable[[], None] = lambda: None  # the courier's, once it runs

    async def say(self, viewer: str, text: str) -> None:
        """As a chat adapter does: the message to the bus, its outcome rendered, the private
        answer into the outbox (one transaction, as a chat adapter's put)."""
        self.asked(viewer)
        message = console.message(f"{PLATFORM}:{ROOM}", viewer, text)
        outcome = await self.bus.handle(message)
        kind = type(outcome).__name__
        self.statuses[kind] = self.statuses.get(kind, 0) + 1
        reply = self.renderer.outcome(outcome, f"@{message.display_name}")
        if reply.private:
            private = Identity.parse(message.identity).user_id
            await self.outbox.put([Outgoing(PLATFORM, private, reply.private)], self.clock.now())
            self.wake()

    async def open(self, link: str) -> str:
        """What the pay page does with the link: the order's Checkout Session (made now)."""
        url = urllib.parse.urlsplit(link)
        token = urllib.parse.parse_qs(url.query).get("t", [""])[0]
        page: PaymentPage = await self.bus.handle(OpenPayment(url.path.rsplit("/")[-1], token))
        if page.kind is PageKind.PAY and page.url is None:
            return "pay without a url"
        return page.kind.value


class RecordingSender:
    """The "console" platform: a private answer is delivered when the courier hands it here."""

    platform = PLATFORM

    def __init__(self, buyers: Answers, room: str) -> None:
        self.buyers, self.room, self.sent = buyers, room, 0

    async def send(self, message: Outgoing) -> str:
        if message.chat != self.room:  # the buyer's private chat
            self.buyers.heard(message.chat, message.text)
        self.sent += 1
        return str(self.sent)

    async def edit(
        self, message: Outgoing, message_ref: str, shown_image: str | None = None
    ) -> None:
        return None

    def interval(self, chat: str) -> float:
        return 0.0


async def console_chat(
    emulator: EmulatorCommand, claims: int, buyers: int, within: float, db: str, admin_url: str
) -> dict[str, Any]:
    async with scratch_database(db, admin_url) as url:
        await seed(url, claims, f"{PLATFORM}:{ROOM}")
        # Nothing is paid here, so no webhook comes: the emulator is told of a closed port.
        hooks = f"http://127.0.0.1:{_free_port()}/webhooks/stripe"
        async with emulator_process(emulator, hooks) as stripe_base:
            public = f"http://127.0.0.1:{_free_port()}"
            settings = Settings(
                _env_file=None,
                database_url=url,
                public_base_url=public,
                livebuy_rate_per_buyer="off",  # a bench buyer stands for many people
                livebuy_web_claims="hold",
            )
            engine = create_engine(url)
            gateway = StripePaymentGateway(KEY, f"{stripe_base}/stripe-emulator", public)
            # As `livebuy run` makes its bus (webhooks.app), with its outbox beside it.
            bus = bootstrap(
                settings,
                engine,
                payments=gateway,
                letters=PlatformLetters(settings.livebuy_locale),
                units_left=True,
            )
            freeze_startup_heap()
            outbox = SqlOutbox(engine)
            crowd = ConsoleBuyers(buyers, bus, outbox, bus.clock)
            sender = RecordingSender(crowd, ROOM)
            courier = Courier(outbox, sender, bus.clock, per_second=COURIER_PER_SECOND)
            crowd.wake = courier.wake
            delivering = asyncio.create_task(courier.run())
            try:
                cpu = time.process_time()
                seconds = await crowd.claim_all(claims, within)
                cpu = time.process_time() - cpu
                courier.stop()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(30):
                        await delivering
                checkouts = await crowd.open_links()
                counts = await outbox.counts(PLATFORM)
            finally:
                delivering.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await delivering
                await bus.close()
                await gateway.close()
                await engine.dispose()
            async with ClientSession() as http, http.get(f"{stripe_base}/calls") as r:
                calls: dict[str, int] = await r.json()
    answered_all = crowd.answered == claims and crowd.statuses == {"Claimed": claims}
    opened_all = checkouts["statuses"] == {crowd.OPENED: claims}
    delivered_once = counts.sent == claims and counts.pending == counts.undeliverable == 0
    return {
        "benchmark": "chat",
        "via": "console",
        "db": db,
        "claims": claims,
        "buyers": buyers,
        "arrival_seconds": within,
        "claims_per_second": claims / seconds,
        "seconds": seconds,
        # From the first message until the last one's answer was in the outbox: when much
        # shorter than `seconds`, the courier's delivery is what the answers waited for.
        "put_seconds": crowd.said,
        "p50_ms": _ms(crowd.latencies, 50),
        "p99_ms": _ms(crowd.latencies, 99),
        "answered": crowd.answered,
        "outbox": {"sent": counts.sent, "pending": counts.pending},
        # All of it in this one process: bus, database driver, outbox, courier, buyers.
        "cpu_ms_per_claim": cpu / claims * 1000,
        "load_average": os.getloadavg()[0],
        "message_statuses": crowd.statuses,
        "checkouts": checkouts,
        "stripe_calls": calls,
        "stripe_calls_per_drop": sum(calls.values()),
        "correct": answered_all and opened_all and delivered_once,
    }
