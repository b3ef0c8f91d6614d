"""The web chat's HTTP side: the page, a server-sent event stream per viewer, and posting.

Each browser gets an identity the server issued: the cookie holds a random secret (signed,
HttpOnly), the database its hash and a public id; the identity everyone sees is
`web:v_<public id>`, never the secret. A cookie the server did not issue is replaced by a
new one. The chat is `web:<room>`. Public replies go to the whole room; checkout links and
other private replies go only to the streams of the viewer they concern, with their buttons
(a one-message buy's Confirm). Since the page has a private lane, the personal commands
(`/card`, `/unlink`, `/link`, `/confirm`) are private here: neither they nor their answers
reach the room.
"""

import asyncio
import contextlib
import ipaddress
import logging
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from bots.pictures import show_picture
from bots.rendering import Renderer, Reply, plus_five
from bots.web.hub import HEARTBEAT, ChatHub, Viewer, overlay_room
from bots.web.page import render_page
from commerce.domain.commands import (
    AdmitWebLine,
    CastVote,
    ChatMessage,
    EnterGiveaway,
    IssueWebViewer,
    KeepRoomLines,
    PressButton,
    RecogniseWebViewer,
    ShowOpenOrders,
)
from commerce.domain.media import public_image_url
from commerce.service_layer import chat, queries
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import Throttle
from commerce.service_layer.results import (
    AuctionEnded,
    AuctionUpdated,
    AuctionView,
    AuctionWon,
    CardSaved,
    CheckoutReady,
    DropEnded,
    DropStarted,
    DropView,
    GiveawayDrawn,
    GiveawayStarted,
    GiveawayUpdated,
    GiveawayView,
    HoldExpired,
    Notice,
    OrderPaid,
    OrderRefunded,
    Outbid,
    PaymentFellBack,
    PaymentStopped,
    PollClosed,
    PollUpdated,
    PollView,
    PromotedFromWaitlist,
    ShowAnnounced,
    ShowUpdated,
    ShowView,
    UnitsLeft,
    WaitlistClosed,
)

log = logging.getLogger(__name__)
COOKIE = "livebuy_viewer"
SCRIPT = Path(__file__).parent / "static" / "chat.js"  # the page's script (no inline code)
ROOM = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_TEXT = 500
KEEP_EVERY = 1.0  # seconds between two writes of the rooms' latest public lines
KEEPER = web.AppKey("web_chat_keeper", asyncio.Task[None])
# What a button may send: Confirm under a private message, Enter on a giveaway's card, an
# option on a poll's card. The server turns it into a command of the viewer's own (the
# identity comes from the cookie, never from the button).
ACTION = re.compile(
    r"^(?:confirm:([A-Za-z0-9]{4,32})|enter:([0-9]{1,12})|vote:([0-9]{1,12}):([1-6]))$"
)


def board_event(drop: DropView, now: datetime) -> dict[str, Any]:
    """The drop's card. A live drop with an end time counts down in the page: `left` is the
    seconds to its end as of `now` (the server's clock: the browser's may be off), and the
    page ticks on its own, with no more traffic; an ended one says when it ended."""
    live = drop.status == "live"
    return {
        "type": "board",
        "code": drop.code,
        "name": drop.name,
        "price": str(drop.price),
        "quantity": drop.quantity,
        "remaining": drop.remaining,
        "waitlist": drop.waitlist,
        "status": drop.status,
        "left": (
            max(0, round((drop.ends_at - now).total_seconds()))
            if live and drop.ends_at is not None
            else None
        ),
        "ended": drop.ended.strftime("%H:%M UTC") if drop.ended is not None else "",
        **media_of(drop.image, drop.description),
    }


def media_of(image: str | None, description: str) -> dict[str, Any]:
    """A card's picture (a media folder file from this server's /media/, relative so an
    embedded room loads it from us too; an https picture from its address) and description."""
    return {"image": public_image_url(image, "") if image else "", "description": description}


def auction_event(auction: AuctionView, seconds_left: int) -> dict[str, Any]:
    """The auction card: price, leader, bids, time left, and what the bid buttons send."""
    base = auction.price or auction.start
    plus5 = plus_five(auction)
    return {
        "type": "auction",
        "code": auction.code,
        "name": auction.name,
        "price": str(base),
        "minimum": str(auction.minimum),
        "minimum_plain": str(auction.minimum.decimal()),
        "plus5": str(plus5),
        "plus5_plain": str(plus5.decimal()),
        "leader": f"@{auction.leader_name}" if auction.leader_name else "",
        "bids": auction.bids,
        "left": seconds_left,
        "status": auction.status,
        **media_of(auction.image, auction.description),
    }


def show_event(show: ShowView, renderer: Renderer) -> dict[str, Any]:
    """The show's card: status, the live lot, what comes next, sold and revenue."""
    current, upcoming = show.current, show.next
    return {
        "type": "show",
        "key": f"show:{show.id}",
        "code": show.code,
        "title": show.title,
        "status": show.status,
        "position": current.position if current else None,
        "total": len(show.lots),
        "current": renderer.lot(current) if current else "",
        "next": renderer.lot(upcoming) if upcoming else renderer.t("lot_none"),
        "sold": show.sold,
        "revenue": str(show.revenue or "0"),
        "text": renderer.show_board(show),
        # The live lot's picture (none between lots): the card shows it, as a drop's.
        **media_of(show_picture(show), current.description if current else ""),
    }


def giveaway_event(giveaway: GiveawayView, renderer: Renderer) -> dict[str, Any]:
    """The giveaway's card: item, commitment, entries, end; the seed and winner once drawn."""
    live = giveaway.status == "live"
    if live:
        reply = renderer.giveaway_board(giveaway)
        text, actions = reply.public or "", reply.actions
    else:
        text, actions = renderer.giveaway_result(giveaway), ()
    return {
        "type": "giveaway",
        "key": f"giveaway:{giveaway.id}",
        "id": giveaway.id,
        "name": giveaway.name,
        "status": giveaway.status,
        "outcome": giveaway.outcome,
        "entries": giveaway.entries,
        "commitment": giveaway.commitment,
        "until": giveaway.ends_at.strftime("%H:%M:%S UTC"),
        "seed": giveaway.seed or "",
        "winner": giveaway.winner_name,
        "link": f"/giveaways/{giveaway.id}",
        "text": text,
        "actions": [{"label": label, "action": action} for label, action in actions],
    }


def poll_event(poll: PollView, renderer: Renderer) -> dict[str, Any]:
    """The poll's card: the question and each option's live count (a button while it runs)."""
    live = poll.status == "live"
    actions = dict((action, label) for label, action in renderer.poll_board(poll).actions)
    return {
        "type": "poll",
        "key": f"poll:{poll.id}",
        "id": poll.id,
        "question": poll.question,
        "status": poll.status,
        "votes": poll.votes,
        "options": [
            {
                "number": o.number,
                "label": o.label,
                "votes": o.votes,
                "action": f"vote:{poll.id}:{o.number}" if live else "",
                "button": actions.get(f"vote:{poll.id}:{o.number}", o.label),
            }
            for o in poll.options
        ],
    }


def create_web_chat(
    hub: ChatHub,
    bus: Callable[[], MessageBus],
    locale: str = "en",
    secure: bool = False,
    per_ip: Throttle | None = None,
    client_ip: Callable[[web.Request], str] = lambda request: request.remote or "",
    sign_ins: Sequence[tuple[str, str]] = (),
) -> web.Application:
    """The chat rooms as a sub-application, to mount at /chat. `secure`: the cookie is sent
    over https only (PUBLIC_BASE_URL is https). `per_ip` limits the requests of each client
    address (`client_ip`, which knows the trusted proxies): messages, buttons and new
    identities; over it, 429 with Retry-After. `sign_ins`: the configured sign-ins, as
    (label, path), offered to anonymous viewers (webhooks.signin)."""
    renderer = Renderer(locale)
    routes = web.RouteTableDef()

    def flooding(request: web.Request) -> web.Response | None:
        """429 when this client address is over its rate, else None."""
        if per_ip is None:
            return None
        ip = client_ip(request)
        # This machine (local mode, or a proxy on it that LIVEBUY_TRUSTED_PROXIES does not
        # name yet) is not one client: limiting it would limit every viewer at once.
        if _loopback(ip) or per_ip.allows(ip):
            return None
        per_ip.refused(ip, "web")
        wait = str(per_ip.retry_after(ip))
        body = {"error": "too many requests from your address: wait a little"}
        return web.json_response(body, status=429, headers={"Retry-After": wait})

    async def viewer_of(request: web.Request) -> str | None:
        """The identity of the cookie, if this server issued it."""
        cookie = request.cookies.get(COOKIE, "")
        if not cookie:
            return None
        identity: str | None = await bus().handle(RecogniseWebViewer(cookie))
        return identity

    def room_of(request: web.Request) -> str:
        room = request.match_info["room"].lower()
        if not ROOM.match(room):
            raise web.HTTPNotFound(text="rooms are named with a-z, 0-9 and '-'")
        return room

    @routes.get("/chat.js")  # before /{room}: a room has no '.' in its name
    async def script(request: web.Request) -> web.FileResponse:
        return web.FileResponse(SCRIPT, headers={"Content-Type": "text/javascript"})

    @routes.get("/{room}")
    async def page(request: web.Request) -> web.Response:
        room = room_of(request)
        identity, cookie = await viewer_of(request), None
        if identity is None:  # a new browser, or a cookie this server never issued
            if (too_many := flooding(request)) is not None:
                raise web.HTTPTooManyRequests(
                    text="too many new visitors from your address: wait a little",
                    headers={"Retry-After": too_many.headers["Retry-After"]},
                )
            cookie, identity = await bus().handle(IssueWebViewer())
        accounts = await queries.signed_in_as(bus().reads, identity)
        html = render_page(room, identity, accounts, () if accounts else sign_ins)
        response = web.Response(text=html, content_type="text/html")
        if cookie is not None or request.cookies.get(COOKIE):
            set_viewer_cookie(response, cookie or request.cookies[COOKIE], secure)
            if request.cookies.get(COOKIE):  # perhaps one of the earlier path /chat
                response.headers.add("Set-Cookie", f"{COOKIE}=; Max-Age=0; Path=/chat")
        return response

    @routes.get("/{room}/events")
    async def events(request: web.Request) -> web.StreamResponse:
        room, identity = room_of(request), await viewer_of(request)
        if identity is None:
            raise web.HTTPForbidden(text="open the chat page first")
        stream = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        state = await room_state(room)
        await recall_orders(identity)
        await stream.prepare(request)
        async with hub.join(room, Viewer(identity, ""), state) as viewer:
            try:
                while True:
                    try:
                        async with asyncio.timeout(HEARTBEAT):  # (not wait_for: Courier.run)
                            data = await viewer.queue.get()
                    except TimeoutError:
                        # A comment line: keeps proxies from closing an idle stream, and a
                        # write to a browser that left fails here, which ends this handler.
                        await stream.write(b": ping\n\n")
                        continue
                    if data is None:
                        return stream
                    await stream.write(f"data: {data}\n\n".encode())
            except ConnectionError:  # a closed tab: normal, not an error
                log.debug("a viewer left the live stream of room %s", room)
                return stream

    async def recall_orders(identity: str) -> None:
        """A viewer this worker kept no private lines for (it restarted, or another worker
        served them) gets their open orders with their pay links, as /orders lists them,
        kept as their private lines are (shown once, not again on a reconnect): a reload
        never loses a pay link. Nothing for a viewer with no open order."""
        if hub.mine.get(identity):
            return
        orders = await bus().handle(ShowOpenOrders(identity))
        if orders.orders:
            hub.recall(identity, private_event(renderer.outcome(orders, "").private or ""))

    async def room_state(room: str) -> list[dict[str, Any]]:
        """The room's live drop, auctions and show, its giveaways and polls, as cards, from
        the database (and its latest lines, when this worker has heard nothing of the room
        since it started): a restart or a reload loses none of them."""
        reads = bus().reads
        if not hub.history.get(room):
            hub.remember(room, await queries.room_lines(reads, room))
        state = await queries.room_state(reads, f"web:{room}")
        now = reads.clock.now()
        events = [board_event(state.drop, now)] if state.drop else []
        for auction in state.auctions:
            left = max(0, int((auction.ends_at - now).total_seconds()))
            events.append(auction_event(auction, left))
        if state.show is not None:
            events.append(show_event(state.show, renderer))
        # Giveaways and polls, oldest first: the page puts each new card on top.
        cards = [(g.starts_at, giveaway_event(g, renderer)) for g in state.giveaways]
        cards += [(p.started_at, poll_event(p, renderer)) for p in state.polls]
        events += [card for _, card in sorted(cards, key=lambda card: card[0])]
        return events

    @routes.post("/{room}/messages")
    async def post(request: web.Request) -> web.Response:
        room = room_of(request)
        if (too_many := flooding(request)) is not None:
            return too_many
        identity = await viewer_of(request)
        if identity is None:
            return web.json_response({"error": "open the chat page first"}, status=403)
        form = await request.post()
        name = str(form.get("name", "")).strip()[:32]
        text = str(form.get("text", "")).strip()
        if not name or not text:
            return web.json_response({"error": "a name and a message, please"}, status=400)
        if len(text) > MAX_TEXT:
            return web.json_response({"error": f"at most {MAX_TEXT} characters"}, status=400)
        line = await bus().handle(AdmitWebLine(identity, name))
        if line.refused:
            return web.json_response({"error": line.refused}, status=400)
        hub.name(identity, name)
        # The core reads the text once: whether it is personal here, and what it says there.
        read = queries.read(bus().reads, text)
        said: dict[str, Any] = {"type": "message", "name": name, "text": text}
        if line.seller:  # the page marks it: no viewer's name can look like it
            said["seller"] = True
        await handle(room, identity, name, text, read.personal, said, read)
        return web.json_response({"ok": True})

    @routes.post("/{room}/actions")
    async def act(request: web.Request) -> web.Response:
        """A button under a private message (Confirm): the viewer's own command."""
        room = room_of(request)
        if (too_many := flooding(request)) is not None:
            return too_many
        identity = await viewer_of(request)
        if identity is None:
            return web.json_response({"error": "open the chat page first"}, status=403)
        form = await request.post()
        action = ACTION.match(str(form.get("action", "")))
        if action is None:
            return web.json_response({"error": "no such action"}, status=400)
        name = str(form.get("name", "")).strip()[:32]  # the page's name box, if filled in
        if name and (await bus().handle(AdmitWebLine(identity, name))).refused:
            name = ""  # a name it may not use: the notices say "you"
        if name:
            hub.name(identity, name)
        name = name or hub.names.get(identity, "")
        if action[1] is not None:
            await handle(room, identity, name, f"/confirm {action[1]}", private=True)
        else:
            await press(room, identity, name, action)
        return web.json_response({"ok": True})

    async def press(room: str, identity: str, name: str, action: re.Match[str]) -> None:
        """Enter or a vote on a card: the viewer's own entry or vote, confirmed privately."""
        where = f"web:{room}"
        command: EnterGiveaway | CastVote
        if action[2] is not None:
            command = EnterGiveaway(where, identity, name, giveaway_id=int(action[2]))
        else:
            command = CastVote(where, identity, int(action[4]), poll_id=int(action[3]))
        outcome = await bus().handle(PressButton(command))
        reply = renderer.outcome(outcome, f"@{name or 'you'}")
        deliver(hub, room, identity, reply, private=True)

    async def handle(
        room: str,
        identity: str,
        name: str,
        text: str,
        private: bool,
        said: dict[str, Any] | None = None,
        read: queries.Reading | None = None,
    ) -> None:
        """The core decides first: a message over its sender's rate is not shown to the
        room (only, once, "slow down" to them); otherwise the line `said`, then the reply.
        `read`: the core's reading of `text`, if it was asked already (handed over)."""
        message = ChatMessage(
            f"web:{room}:{uuid.uuid4().hex}",
            f"web:{room}",
            identity,
            text,
            name,
            private=private,
            reading=read,
        )
        outcome = await bus().handle(message)
        reply = renderer.outcome(outcome, f"@{name or 'you'}")
        if isinstance(outcome, chat.Throttled):
            deliver(hub, room, identity, reply, private=True)
            return
        if isinstance(outcome, chat.Failed) and outcome.sign_in:
            # Only they are told, with the page's sign-in buttons (LIVEBUY_WEB_CLAIMS).
            hub.to_identity(identity, {**private_event(outcome.reason), "signin": True})
            return
        if said is not None and private:  # a link code or a card is nobody else's business
            hub.to_identity(identity, {**said, "room": room})
        elif said is not None:
            hub.to_room(room, said)
        match outcome:
            # Shows, giveaways and polls reach every room they run in as notices (cards and
            # announcements): the reply here would only repeat them.
            case chat.GiveawayOpened() | chat.PollOpened() | chat.PollEnded():
                reply = Reply(private=reply.private)
            case chat.ShowChanged(show=show):
                reply = Reply(private=reply.private)
                hub.to_room(room, show_event(show, renderer))
        deliver(hub, room, identity, reply, private)
        drop = _drop_of(outcome)
        if drop is not None:
            board = board_event(drop, bus().reads.clock.now())
            hub.to_room(room, board)
            # The room's stream overlay too: a claim is no notice, its units left are news.
            hub.to_room(overlay_room(f"web:{room}"), board)

    async def keep_lines() -> None:
        lines = hub.take_unsaved()
        if lines:
            await bus().handle(KeepRoomLines(tuple(lines)))

    async def keep_lines_forever() -> None:
        """The rooms' public lines go to disk in one batch a second, off the chat's path."""
        while True:
            await asyncio.sleep(KEEP_EVERY)
            try:
                await keep_lines()
            except Exception:  # the next round writes the next lines; these are only history
                log.exception("could not keep the web chat's latest lines")

    async def start_keeping(app: web.Application) -> None:
        app[KEEPER] = asyncio.create_task(keep_lines_forever())

    async def end_streams(app: web.Application) -> None:
        hub.close()
        app[KEEPER].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[KEEPER]
        try:
            await keep_lines()  # what was said since the last round
        except Exception:
            log.exception("could not keep the web chat's latest lines")

    app = web.Application()
    app.add_routes(routes)
    app.on_startup.append(start_keeping)
    app.on_shutdown.append(end_streams)
    return app


def set_viewer_cookie(response: web.StreamResponse, cookie: str, secure: bool) -> None:
    """The viewer's cookie, for the whole site: the sign-in routes (/auth/…) read it too."""
    response.set_cookie(
        COOKIE,
        cookie,
        httponly=True,
        samesite="Lax",
        secure=secure,
        max_age=365 * 86400,
        path="/",
    )


def deliver(
    hub: ChatHub, room: str | None, identity: str | None, reply: Reply, private: bool = False
) -> None:
    """A reply's public part to the room, its private part (and buttons) to the viewer; the
    answer to a private command goes to the viewer alone, both parts."""
    if private and identity:
        text = "\n".join(p for p in (reply.public, reply.private) if p)
        if text:
            hub.to_identity(identity, private_event(text, reply.actions))
        return
    if reply.public and room:
        hub.to_room(room, {"type": "bot", "text": reply.public})
    if reply.private and identity:
        hub.to_identity(identity, private_event(reply.private, reply.actions))


def private_event(text: str, actions: tuple[tuple[str, str], ...] = ()) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "private", "text": text}
    if actions:
        event["actions"] = [{"label": label, "action": action} for label, action in actions]
    return event


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def _drop_of(outcome: chat.ChatOutcome) -> DropView | None:
    match outcome:
        case chat.Claimed(result=result):
            return result.drop
        case chat.DropOpened(drop=drop) | chat.DropClosed(drop=drop):
            return drop
    return None


class WebNotifier:
    """Delivers the core's notices that concern web chats and web viewers."""

    def __init__(
        self,
        hub: ChatHub,
        locale: str = "en",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.hub = hub
        self.renderer = Renderer(locale)
        self.now = now  # the core's clock: a drop's card counts down from it

    async def notify(self, notice: Notice) -> None:
        if isinstance(notice, ShowAnnounced | ShowUpdated | PollUpdated | PollClosed):
            self._engage(notice)
            return
        if isinstance(notice, GiveawayStarted | GiveawayUpdated | GiveawayDrawn):
            self._giveaway(notice)
            return
        buyer, rooms, drop = self._addresses(notice)
        if isinstance(notice, AuctionUpdated | AuctionEnded):  # the card, redrawn in place
            left = notice.seconds_left if isinstance(notice, AuctionUpdated) else 0
            for room in rooms:
                self.hub.to_room(room, auction_event(notice.auction, left))
            if isinstance(notice, AuctionUpdated):
                return  # the bids themselves were answered in the chat
        who = f"@{self.hub.names.get(buyer or '', 'buyer')}"
        reply = self.renderer.notice(notice, who)
        if buyer is not None and buyer.startswith("web:") and reply.private:
            self.hub.to_identity(buyer, private_event(reply.private, reply.actions))
        for room in rooms:
            if reply.public:
                self.hub.to_room(room, {"type": "bot", "text": reply.public})
            if drop is not None:
                self.hub.to_room(room, board_event(drop, self.now()))

    def _engage(self, notice: ShowAnnounced | ShowUpdated | PollUpdated | PollClosed) -> None:
        """Shows and polls: announcements as bot lines, boards as cards redrawn in place."""
        r = self.renderer
        match notice:
            case ShowAnnounced(show=show):
                for room in _web_rooms(show.channels):
                    self.hub.to_room(room, {"type": "bot", "text": r.notice(notice, "").public})
            case ShowUpdated(show=show):
                for room in _web_rooms(show.channels):
                    self.hub.to_room(room, show_event(show, r))
            case PollUpdated(poll=poll):
                for room in _web_rooms(poll.channels):
                    self.hub.to_room(room, poll_event(poll, r))
            case PollClosed(poll=poll):
                for room in _web_rooms(poll.channels):
                    self.hub.to_room(room, poll_event(poll, r))
                    self.hub.to_room(room, {"type": "bot", "text": r.poll_closed(poll)})

    def _giveaway(self, notice: GiveawayStarted | GiveawayUpdated | GiveawayDrawn) -> None:
        """The giveaway's card in each room; its start and its draw (with the seed and the
        public record to check it) as bot lines; the winner told privately."""
        r, giveaway = self.renderer, notice.giveaway
        reply = r.notice(notice, "")
        for room in _web_rooms(giveaway.channels):
            self.hub.to_room(room, giveaway_event(giveaway, r))
            if isinstance(notice, GiveawayStarted) and reply.public:
                self.hub.to_room(room, {"type": "bot", "text": reply.public})
            if isinstance(notice, GiveawayDrawn) and reply.public:
                link = f"/giveaways/{giveaway.id}"
                self.hub.to_room(room, {"type": "bot", "text": reply.public, "link": link})
        winner = notice.winner_identity if isinstance(notice, GiveawayDrawn) else None
        if winner is not None and winner.startswith("web:") and reply.private:
            self.hub.to_identity(winner, private_event(reply.private))

    def _addresses(self, notice: Notice) -> tuple[str | None, list[str], DropView | None]:
        """The buyer a notice is for, the web rooms that see it, and the drop to show."""
        match notice:
            case OrderPaid(order=order):
                return order.identity, _web_rooms([order.chat]), None
            case PromotedFromWaitlist(claim=claim):
                identity = claim.order.identity if claim.order else None
                return identity, self._showing(claim.drop), claim.drop
            case (
                HoldExpired(order=order) | CheckoutReady(order=order) | OrderRefunded(order=order)
            ):
                return order.identity, [], None
            case WaitlistClosed(identity=identity) | CardSaved(identity=identity):
                return identity, [], None
            case PaymentFellBack(result=result):
                return result.order.identity, [], None
            case PaymentStopped(order=order):
                return order.identity, [], None
            case DropEnded(drop=drop) | DropStarted(drop=drop) | UnitsLeft(drop=drop):
                return None, self._showing(drop), drop
            case AuctionUpdated(auction=auction) | AuctionEnded(auction=auction):
                return None, _web_rooms(auction.channels), None
            case Outbid(identity=identity):
                return identity, [], None
            case AuctionWon(order=order):
                return order.identity, [], None
        return None, [], None  # pragma: no cover (every notice is matched above)

    def _showing(self, drop: DropView | None) -> list[str]:
        """The web rooms the drop is live in, or whose board shows it."""
        if drop is None:
            return []
        rooms = set(_web_rooms(drop.channels))
        boards = self.hub.boards.items()  # (an overlay's room, "overlay:<chat>", is not ours)
        rooms |= {room for room, board in boards if board["code"] == drop.code and ":" not in room}
        return sorted(rooms)


def _web_rooms(chats: Any) -> list[str]:
    return [c.removeprefix("web:") for c in chats if c.startswith("web:")]
