"""Reads the channels' chats through the EventSub WebSocket (channel.chat.message).

The flow Twitch documents: connect to TWITCH_EVENTSUB_WS_URL; the first message is
`session_welcome` with the session's id and `keepalive_timeout_seconds`; within ten seconds
the bot subscribes each channel (Helix POST /eventsub/subscriptions, transport websocket with
that session id). Then come `notification`s (a chat message in payload.event),
`session_keepalive`s when nothing else was sent, and `session_reconnect` with a reconnect_url
when Twitch moves the session: the new connection is opened (its welcome received) while the
old one is still read, then the old one is closed; the subscriptions move along and are not
made again. No message at all for longer than the keepalive timeout means the connection is
dead: a fresh one is made and the channels subscribed again.

Every chat message is stored in the chat inbox under its message id before anything else, so
a notification Twitch delivers twice (it does: "at least once") is decided once, and a
message a dead worker stored is decided by the next. `seq` numbers a channel's messages in
the order they arrived (microseconds, strictly increasing), which is the order they are
decided in.
"""

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

import aiohttp

from bots.twitch.api import Helix, TokenRefused, TwitchError
from bots.twitch.core import Core

log = logging.getLogger(__name__)
FIRST_BACKOFF = 1.0
QUIET = 0.5  # seconds: an old connection read this long after its successor was welcomed
MAX_BACKOFF = 60.0


class SessionLost(Exception):
    """The connection closed, or stayed silent past its keepalive timeout."""


class EventSub:
    def __init__(
        self, helix: Helix, core: Core, url: str, channels: tuple[str, ...], margin: float = 3.0
    ) -> None:
        self.helix, self.core, self.url = helix, core, url
        self.channels = channels  # TWITCH_CHANNELS: logins or ids
        self.margin = margin  # seconds of silence allowed past keepalive_timeout_seconds
        self.broadcasters: dict[str, str] = {}  # broadcaster id -> what TWITCH_CHANNELS says
        self.session_id: str | None = None
        self.sessions = 0  # welcomes received (tests)
        self.subscribed: set[str] = set()  # broadcaster ids of the current session
        self.last_seq = 0
        self.backoff = FIRST_BACKOFF
        self.closing = False
        self.sockets: set[aiohttp.ClientWebSocketResponse] = set()

    async def close(self) -> None:
        """Ends the connection between two messages (a message being stored is stored):
        `run` then returns instead of connecting again."""
        self.closing = True
        for ws in list(self.sockets):
            await ws.close()

    async def run(self) -> None:
        while not self.closing:
            try:
                await self._connected()
            except asyncio.CancelledError:
                raise
            except SessionLost:
                if self.closing:
                    return
                log.warning("Twitch EventSub: the connection was lost; connecting again")
            except TokenRefused as exc:
                log.error(
                    "Twitch refused TWITCH_BOT_REFRESH_TOKEN (%s %s); check the client and"
                    " the token (README, Twitch)",
                    exc.status,
                    exc.message,
                )
            except (TwitchError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.warning("Twitch EventSub: %s; connecting again", exc or type(exc).__name__)
            except Exception:
                # The database away, a message of an unexpected shape, a bug: ending here
                # would leave the chat unread until a restart.
                log.exception("Twitch EventSub: unexpected failure; connecting again")
            self.session_id = None
            self.subscribed.clear()
            await asyncio.sleep(self.backoff)
            self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    async def _connected(self) -> None:
        """One session, followed through its reconnects, until it is lost."""
        if not self.broadcasters:
            self.broadcasters = await self._resolve()
        ws = await self._connect(self.url)
        try:
            keepalive = await self._welcome(ws)
            for broadcaster in self.broadcasters:
                await self._subscribe(broadcaster)
            self.backoff = FIRST_BACKOFF
            while True:
                reconnect_url = await self._read(ws, keepalive)
                # Twitch moves the session: the new connection first, reading the old one
                # meanwhile (a message may still come there), then the old one goes.
                welcomed = asyncio.Event()
                draining = asyncio.create_task(self._drain(ws, keepalive, welcomed))
                try:
                    new = await self._connect(reconnect_url)
                    keepalive = await self._welcome(new)
                finally:
                    welcomed.set()
                    with contextlib.suppress(Exception):
                        await draining
                    self.sockets.discard(ws)
                ws = new
                log.info("Twitch EventSub: session moved (reconnect)")
        finally:
            await ws.close()
            self.sockets.discard(ws)

    async def _connect(self, url: str) -> aiohttp.ClientWebSocketResponse:
        ws = await self.helix._session().ws_connect(url, heartbeat=None)
        self.sockets.add(ws)
        if self.closing:
            await ws.close()
        return ws

    async def _resolve(self) -> dict[str, str]:
        """TWITCH_CHANNELS as broadcaster ids: numbers are ids, logins are looked up."""
        logins = [c for c in self.channels if not c.isdigit()]
        found = await self.helix.user_ids(logins) if logins else {}
        out: dict[str, str] = {}
        for channel in self.channels:
            broadcaster = channel if channel.isdigit() else found.get(channel)
            if broadcaster is None:
                log.error("Twitch: no channel %r (TWITCH_CHANNELS); it is left out", channel)
                continue
            out[broadcaster] = channel
        return out

    async def _welcome(self, ws: aiohttp.ClientWebSocketResponse) -> float:
        message = await self._next(ws, 10.0 + self.margin)
        if message["metadata"].get("message_type") != "session_welcome":
            raise SessionLost(f"expected session_welcome, got {message['metadata']}")
        session = message["payload"]["session"]
        self.session_id = str(session["id"])
        self.sessions += 1
        return float(session.get("keepalive_timeout_seconds") or 10)

    async def _subscribe(self, broadcaster: str) -> None:
        assert self.session_id is not None
        try:
            await self.helix.subscribe_chat(broadcaster, self.session_id)
        except TokenRefused:
            raise
        except TwitchError as exc:
            if exc.transient or exc.status == 429:
                raise
            # 403: the bot lacks user:read:chat or user:bot, or the broadcaster has not
            # granted channel:bot and the bot is no moderator there.
            log.error(
                "Twitch: cannot read the chat of %s (%s); check the bot's scopes (README, Twitch)",
                self.broadcasters.get(broadcaster, broadcaster),
                exc,
            )
            return
        self.subscribed.add(broadcaster)
        log.info("Twitch: reading the chat of %s", self.broadcasters.get(broadcaster, broadcaster))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, keepalive: float) -> str:
        """Handles the session's messages; returns the reconnect_url when Twitch moves it."""
        while True:
            message = await self._next(ws, keepalive + self.margin)
            kind = message["metadata"].get("message_type")
            if kind == "notification":
                await self._notification(message)
            elif kind == "session_reconnect":
                return str(message["payload"]["session"]["reconnect_url"])
            elif kind == "revocation":
                subscription = message["payload"].get("subscription") or {}
                log.error(
                    "Twitch revoked the chat subscription of %s (%s)",
                    (subscription.get("condition") or {}).get("broadcaster_user_id"),
                    subscription.get("status"),
                )
            # session_keepalive: the connection is alive; nothing else to do

    async def _drain(
        self, ws: aiohttp.ClientWebSocketResponse, keepalive: float, welcomed: asyncio.Event
    ) -> None:
        """The old connection's last notifications: Twitch sends there until the new
        connection is welcomed. Then what is already on its way is read (until the
        connection is quiet for QUIET seconds), and it is closed: closing first would drop
        the frames still in its buffer."""
        try:
            while True:
                within = QUIET if welcomed.is_set() else keepalive + self.margin
                try:
                    message = await self._next(ws, within)
                except SessionLost:
                    if not welcomed.is_set() and not ws.closed and not self.closing:
                        await welcomed.wait()  # silent but open: the new one may still come
                        continue
                    return
                if message["metadata"].get("message_type") == "notification":
                    await self._notification(message)
        finally:
            await ws.close()

    async def _next(self, ws: aiohttp.ClientWebSocketResponse, within: float) -> dict[str, Any]:
        try:
            async with asyncio.timeout(within):
                frame = await ws.receive()
        except TimeoutError as exc:
            raise SessionLost(f"no message for {within:.0f}s (keepalive timeout)") from exc
        if frame.type != aiohttp.WSMsgType.TEXT:
            raise SessionLost(f"the connection closed ({frame.type.name} {ws.close_code})")
        data = json.loads(frame.data)
        if not isinstance(data, dict) or not isinstance(data.get("metadata"), dict):
            raise SessionLost("a message that is not EventSub's")
        return data

    async def _notification(self, message: dict[str, Any]) -> None:
        if message["metadata"].get("subscription_type") != "channel.chat.message":
            return
        event = message["payload"].get("event") or {}
        broadcaster = str(event.get("broadcaster_user_id") or "")
        message_id = str(event.get("message_id") or "")
        if not broadcaster or not message_id:
            return
        if event.get("chatter_user_id") == self.core.options.bot_user_id:
            return  # the bot's own line, sent back by the subscription: nothing to decide
        self.last_seq = max(self.last_seq + 1, time.time_ns() // 1000)
        await self.core.receive([(message_id, broadcaster, self.last_seq, json.dumps(event))])
