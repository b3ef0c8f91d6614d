"""The stream overlay: `GET /overlay/<chat or show>?key=…`, a transparent page for OBS's
browser source (1920×1080, or 1080×1920 with `?layout=portrait`) that shows what is live in
one chat (`web:demo`, `telegram:-100…`, `twitch:123`, `youtube:…`, URL-encoded) or in a
show's chats (`show:<code>`): the auction with its picture, price, countdown and leader, a
drop's units left, the last buyers as they win, a giveaway's entries and winner, a poll's bars.

It reuses the web chat's cards (board, auction, show, giveaway, poll events) and its hub: the
overlay's stream joins the hub room `overlay:<chat>`, to which `OverlayNotifier` publishes the
core's notices for every chat of any platform (the web chat's own notifier only knows web
rooms). Notices for "every chat" (no channels) go to the room `overlay:*`, which every overlay
joins too. As in the web chat, the state comes from the database on every load and reconnect
(queries.room_state), so a restart loses nothing; EventSource reconnects on its own.

The key is an HMAC of the target under the admin token (the dashboard's secret, which also
keys its CSRF tokens): the dashboard shows it, and nobody can derive another chat's key from
their own. A wrong or missing key is 403.
"""

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bots.rendering import Renderer
from bots.web.chat import auction_event, board_event, giveaway_event, poll_event, show_event
from bots.web.hub import HEARTBEAT, ChatHub, Viewer, overlay_room
from bots.web.page import TEMPLATES
from commerce.domain.errors import NotFound
from commerce.service_layer import queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    AuctionWon,
    DropEnded,
    DropStarted,
    DropView,
    GiveawayDrawn,
    GiveawayStarted,
    GiveawayUpdated,
    Notice,
    OrderPaid,
    OrderView,
    PollClosed,
    PollUpdated,
    PromotedFromWaitlist,
    ShowAnnounced,
    ShowUpdated,
    UnitsLeft,
)
from commerce.service_layer.unit_of_work import after_commit

log = logging.getLogger(__name__)
PREFIX = "/overlay/"  # where the app mounts it (webhooks/app.py)
SCRIPT = Path(__file__).parent / "static" / "overlay.js"
EVERY_CHAT = "overlay:*"  # the hub room of notices for drops and auctions without channels
# A chat id of a platform, or a show: what the path names (aiohttp decodes %3A).
TARGET = re.compile(
    r"^(?:(?:web|telegram|discord|twitch|youtube|console):[A-Za-z0-9_.:@-]{1,128}"
    r"|show:[A-Za-z0-9_-]{1,40})$"
)


def overlay_key(secret: str, target: str) -> str:
    """The key of one overlay: 24 hex characters of an HMAC-SHA256 under the shop's secret."""
    return hmac.new(secret.encode(), f"overlay:{target}".encode(), hashlib.sha256).hexdigest()[:24]


def overlay_url(base: str, secret: str, target: str) -> str:
    """The browser source's address, as the dashboard shows it."""
    key = overlay_key(secret, target)
    return f"{base.rstrip('/')}{PREFIX}{quote(target, safe='')}?key={key}"


def create_overlay(
    hub: ChatHub, bus: Callable[[], MessageBus], secret: Callable[[], str], locale: str = "en"
) -> web.Application:
    """The overlay as a sub-application, to mount at /overlay. `secret`: the admin token."""
    renderer = Renderer(locale)
    routes = web.RouteTableDef()

    async def chats_of(request: web.Request) -> tuple[str, list[str]]:
        """The target (after its key is checked) and the chats it shows."""
        target = request.match_info["target"]
        if not TARGET.match(target):
            raise web.HTTPNotFound(
                text="an overlay shows a chat (web:room, twitch:id, …) or show:CODE"
            )
        given = request.query.get("key", "")
        if not hmac.compare_digest(given.encode(), overlay_key(secret(), target).encode()):
            raise web.HTTPForbidden(
                text="wrong or missing key: copy the overlay's address from the dashboard"
            )
        if not target.startswith("show:"):
            return target, [target]
        try:
            show = await queries.show(bus().reads, target.removeprefix("show:"))
        except NotFound:
            raise web.HTTPNotFound(text="no such show") from None
        return target, list(show.channels)

    @routes.get("/overlay.js")  # before /{target}: a target has a ':' and this has none
    async def script(request: web.Request) -> web.FileResponse:
        return web.FileResponse(SCRIPT, headers={"Content-Type": "text/javascript"})

    @routes.get("/{target}")
    async def page(request: web.Request) -> web.Response:
        target, _ = await chats_of(request)
        portrait = request.query.get("layout") == "portrait"
        html = TEMPLATES.get_template("overlay.html").render(
            target=target,
            events=f"{PREFIX}{quote(target, safe='')}/events?key={request.query['key']}",
            layout="portrait" if portrait else "landscape",
        )
        return web.Response(text=html, content_type="text/html")

    @routes.get("/{target}/events")
    async def events(request: web.Request) -> web.StreamResponse:
        target, chats = await chats_of(request)
        state = await state_of(chats, target.startswith("show:"))
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await stream.prepare(request)
        viewer = Viewer(f"overlay:{target}", "")
        async with contextlib.AsyncExitStack() as rooms:
            # One queue, several rooms: the chats' own, and the room of notices for all chats.
            for n, room in enumerate([*map(overlay_room, chats), EVERY_CHAT]):
                await rooms.enter_async_context(hub.join(room, viewer, state if n == 0 else ()))
            try:
                while True:
                    try:
                        async with asyncio.timeout(HEARTBEAT):
                            data = await viewer.queue.get()
                    except TimeoutError:
                        await stream.write(b": ping\n\n")
                        continue
                    if data is None:
                        return stream
                    await stream.write(f"data: {data}\n\n".encode())
            except ConnectionError:
                log.debug("an overlay of %s closed", target)
        return stream

    async def state_of(chats: list[str], show: bool) -> list[dict[str, Any]]:
        """What is live in the chats, from the database, as the web chat's cards."""
        reads = bus().reads
        now = reads.clock.now()
        events: list[dict[str, Any]] = []
        seen: set[str] = set()
        for chat in chats:
            state = await queries.room_state(reads, chat)
            if state.drop is not None and "board" not in seen:
                seen.add("board")
                events.append(board_event(state.drop, now))
            for auction in state.auctions:
                if f"auction:{auction.code}" not in seen:
                    seen.add(f"auction:{auction.code}")
                    left = max(0, int((auction.ends_at - now).total_seconds()))
                    events.append(auction_event(auction, left))
            if state.show is not None and f"show:{state.show.id}" not in seen:
                seen.add(f"show:{state.show.id}")
                events.append(show_event(state.show, renderer))
            cards = [(g.starts_at, giveaway_event(g, renderer)) for g in state.giveaways]
            cards += [(p.started_at, poll_event(p, renderer)) for p in state.polls]
            for _, card in sorted(cards, key=lambda card: card[0]):
                if card["key"] not in seen:
                    seen.add(card["key"])
                    events.append(card)
        return events

    app = web.Application()
    app.add_routes(routes)
    return app


class OverlayNotifier:
    """Hands the notices that change what an overlay shows to the overlay rooms of their
    chats, on every platform, as the web chat's cards (and a "sold" line per winner)."""

    def __init__(
        self,
        hub: ChatHub,
        bus: Callable[[], MessageBus],
        locale: str = "en",
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.hub, self.bus = hub, bus
        self.renderer = Renderer(locale)
        self.now = now or (lambda: bus().reads.clock.now())
        self._paid_orders: list[OrderView] = []  # paid, committed, not shown yet
        self._showing: asyncio.Task[None] | None = None

    def _to(self, chats: tuple[str, ...] | list[str], event: dict[str, Any]) -> None:
        for room in [overlay_room(chat) for chat in chats] or [EVERY_CHAT]:
            self.hub.to_room(room, event)

    async def notify(self, notice: Notice) -> None:
        r = self.renderer
        match notice:
            case AuctionUpdated(auction=auction, seconds_left=left):
                self._to(auction.channels, auction_event(auction, left))
            case AuctionEnded(auction=auction):
                self._to(auction.channels, auction_event(auction, 0))
            case AuctionWon(auction=auction, order=order):
                name = auction.leader_name or self.hub.names.get(order.identity, "")
                self._to(auction.channels, sold(name, auction.name, str(order.amount)))
            case DropStarted(drop=drop) | DropEnded(drop=drop) | UnitsLeft(drop=drop):
                # UnitsLeft: claims in any chat (coalesced in the core, a few a second).
                self._to(drop.channels, board_event(drop, self.now()))
            case PromotedFromWaitlist(claim=claim) if claim.drop is not None:
                self._to(claim.drop.channels, board_event(claim.drop, self.now()))
            case OrderPaid(order=order) if self._watched():
                self._paid_orders.append(order)
                after_commit(self._show_paid)
            case ShowAnnounced(show=show) | ShowUpdated(show=show):
                self._to(show.channels, show_event(show, r))
            case (
                GiveawayStarted(giveaway=g)
                | GiveawayUpdated(giveaway=g)
                | GiveawayDrawn(giveaway=g)
            ):
                self._to(g.channels, giveaway_event(g, r))
            case PollUpdated(poll=poll) | PollClosed(poll=poll):
                self._to(poll.channels, poll_event(poll, r))

    def _watched(self) -> bool:
        """Whether an overlay may show it: one is open here, or other workers hear of it (the
        hub relays). A paid order's lines are kept nowhere, and a live drop's board is read
        from the database by an overlay that opens later: unwatched, nothing to read for."""
        hub = self.hub
        if hub.publish != hub.receive:
            return True
        return any(room.startswith("overlay:") and viewers for room, viewers in hub.rooms.items())

    def _show_paid(self) -> None:
        """Once the payments have committed, in a task of its own: what the overlay shows is
        read outside the payment's transaction (it does not hold the webhook's unit of
        work), and the payments committed together are shown together."""
        if self._showing is None or self._showing.done():
            self._showing = asyncio.create_task(self._show_paid_orders())

    async def _show_paid_orders(self) -> None:
        while self._paid_orders:
            orders, self._paid_orders = self._paid_orders, []
            try:
                await self._paid(orders)
            except Exception:  # an overlay line is not worth a stuck task
                log.exception("overlay: paid orders not shown")

    async def _paid(self, orders: list[OrderView]) -> None:
        """Drops' paid orders: each buyer on the overlay of the chat they bought in, and each
        drop's units left (claims are answered in the chat; a payment is a notice). An
        auction's order was shown when it was won (AuctionWon)."""
        reads = self.bus().reads
        drops: dict[str, DropView | None] = {}
        for order in orders:
            code = order.drop_code.upper()
            if code not in drops:
                drops[code] = await queries.latest_drop(reads, order.drop_code)
        # Only a live drop's: an auction's or a giveaway's sale is a drop made ended (its
        # winner was listed when it was won), and a drop ends by hand or by its timer only.
        shown = [
            order for order in orders
            if (drop := drops[order.drop_code.upper()]) is not None
            and drop.code == order.drop_code.upper() and drop.status == "live"
        ]  # fmt: skip
        names = await queries.buyer_names(reads, [order.ref for order in shown])
        for order in shown:
            self._to([order.chat], sold(names.get(order.ref, ""), order.name, str(order.amount)))
        for code in dict.fromkeys(order.drop_code.upper() for order in shown):
            drop = drops[code]
            assert drop is not None
            self._to(drop.channels, board_event(drop, self.now()))


def sold(name: str, item: str, amount: str) -> dict[str, Any]:
    """A winner or buyer, shown in the overlay's list of the last ones (not a chat line: it
    is kept nowhere, and no web chat room sees it)."""
    name = name.removeprefix("@")[:32]
    return {"type": "sold", "name": name or "a buyer", "item": item, "amount": amount}
