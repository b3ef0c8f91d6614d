"""A fake Twitch on loopback (EventSub WebSocket, Helix and the OAuth token endpoint),
speaking the documented wire format, for driving the real adapter.

- POST /oauth2/token (form: client_id, client_secret, grant_type=refresh_token, refresh_token)
  answers {"access_token", "refresh_token", "expires_in", "scope", "token_type": "bearer"}, or
  400 {"status": 400, "message": "Invalid refresh token"}.
- GET /oauth2/authorize (response_type=code, client_id, redirect_uri, scope, state): the
  person `authorizing` presses Authorize: a redirect to redirect_uri?code=…&scope=…&state=…;
  POST /oauth2/token with grant_type=authorization_code (client_id, client_secret, code,
  redirect_uri; a code works once, for its redirect_uri) answers that person's user token.
- Helix (/helix/...) wants "Authorization: Bearer <access token>" and the Client-Id; else 401
  {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"}.
  - GET /helix/users?login=a&login=b: {"data": [{"id", "login", "display_name", ...}]};
    without login or id, the user the (user) access token stands for.
  - POST /helix/eventsub/subscriptions: {type: channel.chat.message, version: "1",
    condition: {broadcaster_user_id, user_id}, transport: {method: websocket, session_id}};
    202 with the subscription; 400 for a session that is not connected, 409 for a repeat.
  - POST /helix/chat/messages: {broadcaster_id, sender_id, message} (500 characters at most):
    200 {"data": [{"message_id", "is_sent", "drop_reason"}]}; a message identical to the bot's
    previous one in that channel within 30 s is not sent (drop_reason.code msg_duplicate); more
    than `per_window` messages in `window` seconds in a channel is a 429 (and recorded in
    `violations`: a correct bot never causes one). A sent message comes back to the
    subscribed sessions as the bot's own channel.chat.message, as on Twitch.
- GET /ws: the EventSub WebSocket. session_welcome first (payload.session: id, status
  connected, keepalive_timeout_seconds, reconnect_url null, connected_at), then notifications,
  a session_keepalive after `keepalive` seconds without a message, and on `reconnect()` a
  session_reconnect whose reconnect_url (/ws?reconnect=<session id>) carries the session's
  subscriptions over. Envelope: {metadata: {message_id, message_type, message_timestamp[,
  subscription_type, subscription_version]}, payload: {session} or {subscription, event}}.
"""

import asyncio
import contextlib
import itertools
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

CLIENT_ID = "livebuytestclientid0000000000"
CLIENT_SECRET = "livebuy-test-client-secret"
REFRESH_TOKEN = "livebuy-test-refresh-token"
BOT_ID = "900000001"
BOT_LOGIN = "livebuy_bot"
CHANNEL_ID = "141981764"
CHANNEL_LOGIN = "annas_cards"
MAX_TEXT = 500
DUPLICATE_WINDOW = 30.0


def now() -> str:
    """RFC3339 with nanoseconds, as EventSub's timestamps are."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


@dataclass(frozen=True)
class Viewer:
    id: str
    login: str

    @property
    def name(self) -> str:
        return f"@{self.login}"


@dataclass
class Session:
    id: str
    ws: web.WebSocketResponse
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)  # broadcaster -> sub
    silent: bool = False  # sends nothing (a dead connection, as the client sees it)
    welcomed: bool = False


@dataclass
class Sent:
    broadcaster: str
    text: str
    at: float  # monotonic


class FakeTwitch:
    def __init__(self, keepalive: int = 10, per_window: int = 20, window: float = 3.0) -> None:
        # Twitch counts 20 lines per 30 s; the tests count per 3 s (the sender is paced by
        # the same numbers, see conftest.py) so that a chat's answers do not take minutes.
        self.keepalive, self.per_window, self.window = keepalive, per_window, window
        self.runner: web.AppRunner | None = None
        self.base = ""
        self.refresh_tokens = {REFRESH_TOKEN}
        self.refresh_tokens_sent: list[str] = []  # in the order the renewals asked
        self.rotate = False  # True: a refresh token works once (the new one replaces it)
        self.access_tokens: set[str] = set()
        self.token_grants = 0
        self.token_refusals = 0
        self.users = {CHANNEL_LOGIN: CHANNEL_ID, BOT_LOGIN: BOT_ID}
        self.sessions: list[Session] = []
        self.subscription_requests: list[dict[str, Any]] = []
        self.sent: list[Sent] = []
        self.dropped: list[tuple[str, str]] = []  # (text, drop code)
        self.violations: list[str] = []  # rate-limit breaches (429s)
        self.recent: dict[str, deque[float]] = {}
        self.numbers = itertools.count(1)
        self.unauthorized = 0  # 401s answered
        self.authorizing: Viewer | None = None  # who presses Authorize on /oauth2/authorize
        self.codes: dict[str, tuple[str, Viewer]] = {}  # code -> (redirect_uri, person)
        self.user_tokens: dict[str, Viewer] = {}  # a signed-in person's access tokens
        self.code_grants: list[dict[str, str]] = []  # authorization_code token requests
        self._keepalives: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/oauth2/authorize", self._authorize)
        app.router.add_post("/oauth2/token", self._token)
        app.router.add_get("/helix/users", self._users)
        app.router.add_post("/helix/eventsub/subscriptions", self._subscribe)
        app.router.add_post("/helix/chat/messages", self._chat_message)
        app.router.add_get("/ws", self._ws)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"127.0.0.1:{port}"

    async def stop(self) -> None:
        for task in self._keepalives:
            task.cancel()
        for session in self.sessions:
            with contextlib.suppress(Exception):
                await session.ws.close()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    @property
    def api_url(self) -> str:
        return f"http://{self.base}/helix"

    @property
    def oauth_url(self) -> str:
        return f"http://{self.base}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.base}/ws"

    # -- what a test does ----------------------------------------------------------------
    def viewer(self, login: str) -> Viewer:
        user = Viewer(str(700000000 + next(self.numbers)), login)
        self.users[login] = user.id
        return user

    @property
    def broadcaster(self) -> Viewer:
        return Viewer(CHANNEL_ID, CHANNEL_LOGIN)

    def live(self) -> list[Session]:
        """Sessions subscribed to the channel whose connection is open."""
        return [s for s in self.sessions if CHANNEL_ID in s.subscriptions and not s.ws.closed]

    async def say(
        self,
        who: Viewer,
        text: str,
        badges: tuple[str, ...] = (),
        message_id: str | None = None,
        broadcaster: str = CHANNEL_ID,
    ) -> str:
        """A chat message from `who` (badges: set ids such as "moderator"), notified to the
        session subscribed to the channel; returns its message id."""
        message_id = message_id or str(uuid.uuid4())
        event = chat_event(broadcaster, who, text, message_id, badges)
        for session in self.sessions:
            if broadcaster in session.subscriptions and not session.ws.closed:
                await self.notify(session, event)
        return message_id

    async def notify(self, session: Session, event: dict[str, Any]) -> None:
        """Delivers one notification (again, if the test wants a redelivery)."""
        subscription = session.subscriptions[event["broadcaster_user_id"]]
        message = envelope(
            "notification",
            {"subscription": subscription, "event": event},
            subscription_type="channel.chat.message",
        )
        await session.ws.send_json(message)

    async def reconnect(self) -> Session:
        """Twitch moves the session: session_reconnect with a reconnect_url."""
        (session,) = [s for s in self.sessions if not s.ws.closed and s.subscriptions]
        url = f"{self.ws_url}?reconnect={session.id}"
        payload = self._session_payload(session.id, status="reconnecting", reconnect_url=url)
        await session.ws.send_json(envelope("session_reconnect", payload))
        return session

    def go_silent(self) -> None:
        """The open sessions send nothing any more (not even keepalives)."""
        for session in self.sessions:
            session.silent = True

    def revoke_access_tokens(self) -> None:
        """Every access token handed out stops working (Helix answers 401)."""
        self.access_tokens.clear()

    def lines(self, broadcaster: str = CHANNEL_ID) -> list[str]:
        return [s.text for s in self.sent if s.broadcaster == broadcaster]

    def lines_for(self, viewer: Viewer) -> list[str]:
        return [t for t in self.lines() if t.startswith(f"{viewer.name}:")]

    def most_in_a_window(self, broadcaster: str = CHANNEL_ID) -> int:
        """The most messages sent in the channel within any `window` seconds."""
        times = [s.at for s in self.sent if s.broadcaster == broadcaster]
        most = 0
        for i, start in enumerate(times):
            most = max(most, sum(1 for t in times[i:] if t - start < self.window))
        return most

    # -- the token endpoint ----------------------------------------------------------------
    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return self._bad("invalid client or response type")
        if self.authorizing is None or "redirect_uri" not in q:
            return self._bad("nobody to sign in")
        code = uuid.uuid4().hex[:30]
        self.codes[code] = (q["redirect_uri"], self.authorizing)
        query = urlencode({"code": code, "scope": q.get("scope", ""), "state": q.get("state", "")})
        raise web.HTTPFound(f"{q['redirect_uri']}?{query}")

    async def _code_grant(self, form: dict[str, str]) -> web.Response:
        self.code_grants.append(form)
        given = self.codes.pop(form.get("code", ""), None)  # a code works once
        if (
            form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or given is None
            or given[0] != form.get("redirect_uri")
        ):
            return self._bad("Invalid authorization code")
        access = f"user-{uuid.uuid4().hex}"
        self.user_tokens[access] = given[1]
        return web.json_response(
            {
                "access_token": access,
                "expires_in": 14124,
                "refresh_token": f"refresh-{uuid.uuid4().hex}",
                "scope": ["openid"],
                "token_type": "bearer",
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return self._bad("the body must be form-encoded")
        form = await request.post()
        if form.get("grant_type") == "authorization_code":
            return await self._code_grant({k: str(v) for k, v in form.items()})
        self.refresh_tokens_sent.append(str(form.get("refresh_token")))
        ok = (
            form.get("client_id") == CLIENT_ID
            and form.get("client_secret") == CLIENT_SECRET
            and form.get("grant_type") == "refresh_token"
            and form.get("refresh_token") in self.refresh_tokens
        )
        if not ok:
            self.token_refusals += 1
            refused = {"status": 400, "message": "Invalid refresh token"}
            return web.json_response(refused, status=400)
        self.token_grants += 1
        access = f"access-{uuid.uuid4().hex}"
        refresh = f"refresh-{uuid.uuid4().hex}"  # Twitch may hand out a new one
        self.access_tokens.add(access)
        if self.rotate:
            self.refresh_tokens.discard(str(form["refresh_token"]))
        self.refresh_tokens.add(refresh)
        return web.json_response(
            {
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": 14400,
                "scope": ["user:bot", "user:read:chat", "user:write:chat"],
                "token_type": "bearer",
            }
        )

    def _authorized(self, request: web.Request) -> web.Response | None:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer in self.access_tokens and request.headers.get("Client-Id") == CLIENT_ID:
            return None
        self.unauthorized += 1
        return web.json_response(
            {"error": "Unauthorized", "status": 401, "message": "Invalid OAuth token"},
            status=401,
        )

    @staticmethod
    def _bad(message: str, status: int = 400) -> web.Response:
        reasons = {400: "Bad Request", 409: "Conflict", 429: "Too Many Requests"}
        return web.json_response(
            {"error": reasons[status], "status": status, "message": message}, status=status
        )

    # -- Helix -------------------------------------------------------------------------
    async def _users(self, request: web.Request) -> web.Response:
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        person = self.user_tokens.get(bearer)
        if request.headers.get("Client-Id") != CLIENT_ID:
            person = None
        asks_self = not request.query.getall("login", []) and not request.query.getall("id", [])
        if person is not None and asks_self:  # the user the token stands for
            return web.json_response({"data": [user_object(person.id, person.login)]})
        if person is None and (refused := self._authorized(request)) is not None:
            return refused
        logins = request.query.getall("login", [])
        data = [
            {
                "id": self.users[login],
                "login": login,
                "display_name": login,
                "type": "",
                "broadcaster_type": "",
                "description": "",
                "profile_image_url": "",
                "offline_image_url": "",
                "created_at": "2020-01-01T00:00:00Z",
            }
            for login in logins
            if login in self.users
        ]
        return web.json_response({"data": data})

    async def _subscribe(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        body = await request.json()
        self.subscription_requests.append(body)
        condition, transport = body.get("condition") or {}, body.get("transport") or {}
        if body.get("type") != "channel.chat.message" or body.get("version") != "1":
            return self._bad("unsupported subscription type or version")
        if condition.get("user_id") != BOT_ID or not condition.get("broadcaster_user_id"):
            return self._bad("condition must name the broadcaster and the reading user")
        if transport.get("method") != "websocket":
            return self._bad("transport method must be websocket")
        matches = [
            s
            for s in self.sessions
            if s.id == transport.get("session_id") and s.welcomed and not s.ws.closed
        ]
        if not matches:
            return self._bad("websocket transport session does not exist or has disconnected")
        session = matches[-1]
        broadcaster = condition["broadcaster_user_id"]
        if broadcaster in session.subscriptions:
            return self._bad("subscription already exists", 409)
        subscription = {
            "id": str(uuid.uuid4()),
            "status": "enabled",
            "type": "channel.chat.message",
            "version": "1",
            "condition": {"broadcaster_user_id": broadcaster, "user_id": BOT_ID},
            "created_at": now(),
            "transport": {"method": "websocket", "session_id": session.id, "connected_at": now()},
            "cost": 0,
        }
        session.subscriptions[broadcaster] = subscription
        return web.json_response(
            {"data": [subscription], "total": 1, "total_cost": 0, "max_total_cost": 10},
            status=202,
        )

    async def _chat_message(self, request: web.Request) -> web.Response:
        if (refused := self._authorized(request)) is not None:
            return refused
        body = await request.json()
        broadcaster, text = str(body.get("broadcaster_id") or ""), body.get("message")
        if body.get("sender_id") != BOT_ID or not broadcaster or not isinstance(text, str):
            return self._bad("broadcaster_id, sender_id (the token's user) and message needed")
        if not text or len(text) > MAX_TEXT:
            return self._bad("the message must be 1 to 500 characters")
        at = time.monotonic()
        recent = self.recent.setdefault(broadcaster, deque())
        while recent and at - recent[0] >= self.window:
            recent.popleft()
        if len(recent) >= self.per_window:
            self.violations.append(text)
            return self._bad("too many messages", 429)
        previous = [s for s in self.sent if s.broadcaster == broadcaster][-1:]
        if previous and previous[0].text == text and at - previous[0].at < DUPLICATE_WINDOW:
            self.dropped.append((text, "msg_duplicate"))
            drop = {
                "code": "msg_duplicate",
                "message": "Your message is identical to the one you sent within the last 30"
                " seconds.",
            }
            return web.json_response(
                {"data": [{"message_id": "", "is_sent": False, "drop_reason": drop}]}
            )
        recent.append(at)
        self.sent.append(Sent(broadcaster, text, at))
        message_id = str(uuid.uuid4())
        bot = Viewer(BOT_ID, BOT_LOGIN)
        for session in self.sessions:  # the bot's line comes back, as Twitch sends it
            if broadcaster in session.subscriptions and not session.ws.closed:
                await self.notify(session, chat_event(broadcaster, bot, text, message_id, ()))
        return web.json_response(
            {"data": [{"message_id": message_id, "is_sent": True, "drop_reason": None}]}
        )

    # -- EventSub WebSocket --------------------------------------------------------------
    def _session_payload(
        self, session_id: str, status: str = "connected", reconnect_url: str | None = None
    ) -> dict[str, Any]:
        return {
            "session": {
                "id": session_id,
                "status": status,
                "keepalive_timeout_seconds": None if reconnect_url else self.keepalive,
                "reconnect_url": reconnect_url,
                "connected_at": now(),
            }
        }

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        moved_from = request.query.get("reconnect")
        old = [s for s in self.sessions if s.id == moved_from]
        session = Session(moved_from or f"AgoQ{uuid.uuid4().hex}", ws)
        if old:  # the subscriptions follow the session to its new connection
            session.subscriptions = old[-1].subscriptions
        self.sessions.append(session)
        await ws.send_json(envelope("session_welcome", self._session_payload(session.id)))
        session.welcomed = True
        if old:
            old[-1].subscriptions = {}  # nothing more goes to the old connection
        keepalive = asyncio.create_task(self._keep_alive(session))
        self._keepalives.append(keepalive)
        try:
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:  # clients must not send anything
                    await ws.close(code=4001, message=b"client sent inbound traffic")
        finally:
            keepalive.cancel()
        return ws

    async def _keep_alive(self, session: Session) -> None:
        while not session.ws.closed:
            await asyncio.sleep(self.keepalive * 0.8)
            if not session.silent and not session.ws.closed:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await session.ws.send_json(envelope("session_keepalive", {}))


def user_object(user_id: str, login: str) -> dict[str, str]:
    """A Helix user, as GET /users answers it."""
    return {
        "id": user_id,
        "login": login,
        "display_name": login,
        "type": "",
        "broadcaster_type": "",
        "description": "",
        "profile_image_url": "",
        "offline_image_url": "",
        "created_at": "2020-01-01T00:00:00Z",
    }


def envelope(kind: str, payload: dict[str, Any], subscription_type: str = "") -> dict[str, Any]:
    metadata = {"message_id": str(uuid.uuid4()), "message_type": kind, "message_timestamp": now()}
    if subscription_type:
        metadata |= {"subscription_type": subscription_type, "subscription_version": "1"}
    return {"metadata": metadata, "payload": payload}


def chat_event(
    broadcaster: str, who: Viewer, text: str, message_id: str, badges: tuple[str, ...]
) -> dict[str, Any]:
    """A channel.chat.message event, as Twitch documents it."""
    login = CHANNEL_LOGIN if broadcaster == CHANNEL_ID else f"channel{broadcaster}"
    if who.id == broadcaster:  # the broadcaster's messages carry their badge
        badges = ("broadcaster", *badges)
    return {
        "broadcaster_user_id": broadcaster,
        "broadcaster_user_login": login,
        "broadcaster_user_name": login,
        "chatter_user_id": who.id,
        "chatter_user_login": who.login,
        "chatter_user_name": who.login.title(),
        "message_id": message_id,
        "message": {
            "text": text,
            "fragments": [
                {"type": "text", "text": text, "cheermote": None, "emote": None, "mention": None}
            ],
        },
        "color": "#00FF7F",
        "badges": [{"set_id": b, "id": "1", "info": ""} for b in badges],
        "message_type": "text",
        "cheer": None,
        "reply": None,
        "channel_points_custom_reward_id": None,
    }
