"""`livebuy demo`: a scripted show in the local web chat, so the dashboard fills with real data.

Everything goes through the running service as a person would: viewers open /chat/show (each
its own cookie, so its own identity), type messages and `#buy`, and pay on the Stripe
emulator's checkout page. A seller starts the drop with `/drop` in the chat; one buyer passes,
one lets the hold run out, and the waitlist moves up.
"""

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import ClientSession, CookieJar, web

from commerce.domain import commands as c
from commerce.domain.errors import NotFound
from commerce.domain.money import Money
from commerce.domain.orders import HOLDING, OrderStatus
from commerce.domain.products import ProductSpec
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView
from webhooks.keys import BUS, SETTINGS

log = logging.getLogger(__name__)

ROOM = "show"
SKU = "CAP"
UNITS = 4
CHATTER = ["hi all!", "that colour 😍", "how much is shipping?", "first time here", "go go go"]
# The page names its viewer by the public id the server issued (never the cookie's secret).
VIEWER = re.compile(r'data-viewer="(web:v_[0-9a-f]+)"')
# Stripe's test cards that succeed (the emulator's checkout page takes them).
CARDS: tuple[str, ...] = (
    *("4242424242424242", "5555555555554444", "4000056655665556", "2223003122003222"),
    *("5200828282828210", "6011111111111117", "3566002020360505"),
)
NAMES = ["Anna", "Ben", "Chloé", "Dev", "Emil", "Fatou", "Gus", "Hana", "Ivo", "Jun"]


@dataclass(eq=False)  # viewers are people: two are never the same
class Viewer:
    name: str
    http: ClientSession
    identity: str = ""

    async def say(self, base: str, text: str) -> None:
        form = {"name": self.name, "text": text}
        async with self.http.post(f"{base}/chat/{ROOM}/messages", data=form) as response:
            if response.status != 200:
                raise RuntimeError(f"{self.name} could not post: {await response.text()}")


@dataclass
class ShowReport:
    paid: list[str] = field(default_factory=list)
    passed: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)


async def show(
    base: str,
    bus: MessageBus,
    viewers: int = 8,
    pace: float = 1.0,
    currency: str = "eur",
    say: Callable[[str], object] = print,
) -> ShowReport:
    """Runs the show against the service at `base` (whose emulator takes the payments)."""
    report = ShowReport()
    # unsafe=True: keep cookies of an IP address such as 127.0.0.1 (one identity a viewer).
    sessions = [ClientSession(cookie_jar=CookieJar(unsafe=True)) for _ in range(viewers + 1)]
    try:
        seller, *crowd = [
            await _arrive(base, name, http)
            for name, http in zip(["Sam (seller)", *NAMES], sessions, strict=False)
        ]
        await _prepare(bus, seller.identity, currency)
        say(f"The seller starts a drop of {UNITS} caps in {base}/chat/{ROOM}")
        await seller.say(base, f"/drop {SKU} {UNITS} 15 limit 1")
        for i, viewer in enumerate(crowd):
            await viewer.say(base, CHATTER[i % len(CHATTER)])
            await viewer.say(base, ["#buy", f"/buy {SKU}", "SOLD", "#buy 1"][i % 4])
            await asyncio.sleep(pace / 2)
        say(f"{len(crowd)} viewers claimed; {UNITS} hold a cap, the rest wait")

        holders = await _holders(bus, crowd)
        passer, sleeper, *payers = holders
        await passer.say(base, "/pass")  # the first in the waitlist moves up
        report.passed.append(passer.name)
        say(f"{passer.name} passes; {sleeper.name} will let the hold run out")
        for viewer in payers + await _holders(bus, crowd, exclude={passer, sleeper, *payers}):
            await _pay(bus, viewer)
            report.paid.append(viewer.name)
            say(f"{viewer.name} pays on the emulator's checkout page")
            await asyncio.sleep(pace)
        await _until(
            lambda: _status_is(bus, sleeper, {OrderStatus.EXPIRED}), bus.reads.hold.total_seconds()
        )
        report.expired.append(sleeper.name)
        say(f"{sleeper.name}'s hold expired; the unit went to the next in line")
        done = report.paid + report.passed + report.expired
        report.waiting = [v.name for v in crowd if v.name not in done]
        return report
    finally:
        for http in sessions:
            await http.close()


async def _arrive(base: str, name: str, http: ClientSession) -> Viewer:
    async with http.get(f"{base}/chat/{ROOM}") as response:
        response.raise_for_status()
        page = await response.text()
    identity = VIEWER.search(page)
    if identity is None:
        raise RuntimeError("the chat page did not name its viewer")
    return Viewer(name, http, identity[1])


async def _prepare(bus: MessageBus, seller: str, currency: str) -> None:
    """The seller may sell; demo caps are in stock; an earlier demo's drop is over."""
    await bus.handle(c.AddSeller(seller))
    try:
        product = await queries.product(bus.reads, SKU)
        await bus.handle(c.SetStock(product.sku, max(product.stock, UNITS * 5)))
    except NotFound:
        spec = ProductSpec(SKU, "Demo cap", Money.parse("15", currency), "", ())
        await bus.handle(c.AddProduct(spec, UNITS * 5))
    with contextlib.suppress(NotFound):
        await bus.handle(c.EndDrop(SKU))


async def _order_of(bus: MessageBus, viewer: Viewer) -> OrderView | None:
    orders = await queries.orders(bus.reads, identity=viewer.identity, limit=1)
    return orders[0] if orders else None


async def _holders(
    bus: MessageBus, crowd: list[Viewer], exclude: set[Viewer] | None = None
) -> list[Viewer]:
    holding = []
    for viewer in crowd:
        order = await _order_of(bus, viewer)
        if order and order.status in HOLDING and viewer not in (exclude or set()):
            holding.append(viewer)
    return holding


async def _pay(bus: MessageBus, viewer: Viewer) -> None:
    order = await _order_of(bus, viewer)
    assert order is not None and order.checkout_url is not None
    # The pay link opens Stripe's page (here the emulator's), where the viewer pays.
    async with viewer.http.get(order.checkout_url, allow_redirects=False) as response:
        if response.status != 303:
            raise RuntimeError(f"{viewer.name} could not open the pay link: {response.status}")
        checkout = response.headers["Location"]
    # Each viewer pays with a card and an email of their own: one card (its fingerprint) or
    # one email is one buyer under the drop's per-buyer limit, whatever identity pays.
    mine = NAMES.index(viewer.name)
    form = {"card": CARDS[mine % len(CARDS)], "email": f"buyer{mine}@example.com"}
    async with viewer.http.post(checkout, data=form, allow_redirects=False) as response:
        if response.status != 303:
            raise RuntimeError(f"{viewer.name} could not pay: HTTP {response.status}")
    await _until(lambda: _status_is(bus, viewer, {OrderStatus.PAID}), 10)


async def _status_is(bus: MessageBus, viewer: Viewer, states: set[OrderStatus]) -> bool:
    order = await _order_of(bus, viewer)
    return order is not None and order.status in states


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    for _ in range(int((seconds + 10) * 10)):
        if await check():
            return
        await asyncio.sleep(0.1)
    raise TimeoutError("the show got stuck: is the service's sweeper running?")


class CannotListen(Exception):
    """The port is taken (often by `make run` itself)."""


async def serve_with_show(
    app: web.Application, host: str, port: int, viewers: int, pace: float
) -> ShowReport:
    """Serves `app` (until cancelled) and runs the show once it listens."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        try:
            await web.TCPSite(runner, host, port).start()
        except OSError as exc:
            raise CannotListen(f"cannot listen on {host}:{port} ({exc.strerror})") from None
        settings = app[SETTINGS]
        base = settings.public_base_url
        report = await show(base, app[BUS], viewers, pace, settings.livebuy_currency)
        print(
            f"Show over: {len(report.paid)} paid, {len(report.passed)} passed,"
            f" {len(report.expired)} expired, {len(report.waiting)} still waiting."
            f"\nThe dashboard has it all: {base}/dashboard  (Ctrl-C stops the service)"
        )
        await asyncio.Event().wait()
        return report  # pragma: no cover (only Ctrl-C ends the wait)
    finally:
        await runner.cleanup()
