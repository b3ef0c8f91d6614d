"""A fake Discord for the real discord.py: REST v10 JSON and a websocket gateway on loopback.

It models one guild with one text channel, a few members and roles, and records every REST
call. Tests drive it: `dispatch` sends gateway events (MESSAGE_CREATE, INTERACTION_CREATE),
`slash`/`click` build interactions, `rate_limit_next` answers the next matching request with a
429 the way Discord does (JSON body with retry_after, `Via` and X-RateLimit-* headers), and
`drop_connection` closes the websocket so the bot resumes (events dispatched meanwhile are
replayed on RESUME, as Discord does).

Not modelled: sharding, zlib/zstd transport compression (only text frames are sent), member
chunking, permission overwrites, message history, voice, attachments, and the 3-second and
15-minute interaction token deadlines.
"""

import asyncio
import contextlib
import copy
import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = "900000000000000001"
BOT_ID = "900000000000000002"
GUILD_ID = "900000000000000010"
CHANNEL_ID = "900000000000000020"
OWNER_ID = "900000000000000030"
SELLER_ROLE_ID = "900000000000000040"
PERK_ROLE_ID = "900000000000000041"
MESSAGE_CONTENT = 1 << 15
MANAGE_GUILD = 1 << 5
EPHEMERAL = 1 << 6


class RoleRef(str):
    """A role as a slash command option (type 8), resolved in the interaction's data."""


@dataclass
class Call:
    method: str
    path: str
    body: Any
    status: int


@dataclass
class Member:
    id: str
    name: str
    roles: list[str] = field(default_factory=list)
    permissions: int = 0


class FakeDiscord:
    def __init__(self, *, message_content_allowed: bool = True) -> None:
        self.message_content_allowed = message_content_allowed
        self.calls: list[Call] = []
        self.members: dict[str, Member] = {
            OWNER_ID: Member(OWNER_ID, "owner", permissions=MANAGE_GUILD),
        }
        self.roles = {SELLER_ROLE_ID: "Seller", PERK_ROLE_ID: "VIP"}
        self.messages: dict[str, dict[str, Any]] = {}  # every message posted, by id
        self.dm_channels: dict[str, str] = {}  # DM channel id -> user id
        self.closed_dms: set[str] = set()  # users whose DMs are closed to the bot
        self.failures: list[tuple[str, str, int]] = []  # fail_next: (method, path, status)
        self.rate_limits: list[tuple[str, str, float]] = []  # (method, path prefix, seconds)
        self.identified: list[dict[str, Any]] = []
        self.resumed = 0
        self.sessions = itertools.count(1)
        self.ids = itertools.count(1)
        self.seq = 0
        self.events: list[dict[str, Any]] = []  # every dispatched event, for RESUME
        # A component interaction deferred as an update (type 6): its token's "@original"
        # is the message the component is on.
        self.updates: dict[str, str] = {}  # token -> message id
        self.held: dict[str, asyncio.Event] = {}  # commands acknowledged only once set
        self.waiting = 0  # acknowledgements that waited on `held`
        self.ws: web.WebSocketResponse | None = None
        self.ready = asyncio.Event()
        self.runner: web.AppRunner | None = None
        self.port = 0

    # ---- lifecycle ---------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/gateway", self.gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self.rest)
        self.runner = web.AppRunner(app, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        for gate in self.held.values():
            gate.set()
        if self.ws is not None:
            await self.ws.close()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    # ---- test helpers ------------------------------------------------------------------------

    def snowflake(self) -> str:
        return str(910000000000000000 + next(self.ids))

    def add_member(self, name: str, roles: tuple[str, ...] = (), permissions: int = 0) -> str:
        member = Member(self.snowflake(), name, list(roles), permissions)
        self.members[member.id] = member
        return member.id

    def user(self, user_id: str) -> dict[str, Any]:
        if user_id == BOT_ID:
            return {
                "id": BOT_ID,
                "username": "livebuy",
                "discriminator": "0",
                "global_name": None,
                "avatar": None,
                "bot": True,
            }
        member = self.members[user_id]
        return {
            "id": member.id,
            "username": member.name,
            "discriminator": "0",
            "global_name": member.name.title(),
            "avatar": None,
        }

    def member(self, user_id: str) -> dict[str, Any]:
        member = self.members[user_id]
        return {
            "user": self.user(user_id),
            "roles": list(member.roles),
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": str(member.permissions),
        }

    def hold(self, command: str) -> asyncio.Event:
        """Acknowledgements (interaction callbacks) of `command` wait until the event is set."""
        gate = self.held[command] = asyncio.Event()
        return gate

    def rate_limit_next(self, method: str, path_prefix: str, seconds: float = 0.3) -> None:
        self.rate_limits.append((method, path_prefix, seconds))

    def fail_next(self, method: str, path_prefix: str, status: int, times: int = 1) -> None:
        """The next `times` requests matching answer `status` (401 a bad token, 403 a missing
        permission, 404 an unknown channel or webhook) with Discord's error body."""
        self.failures += [(method, path_prefix, status)] * times

    def calls_to(self, method: str, path_prefix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]

    def channel_messages(self, channel_id: str = CHANNEL_ID) -> list[dict[str, Any]]:
        return [m for m in self.messages.values() if m["channel_id"] == channel_id]

    def dms_to(self, user_id: str) -> list[dict[str, Any]]:
        channels = {c for c, u in self.dm_channels.items() if u == user_id}
        return [m for m in self.messages.values() if m["channel_id"] in channels]

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Sends a gateway event now, or (disconnected) on the next RESUME."""
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        self.events.append(payload)
        if self.ws is not None and not self.ws.closed:
            await self.ws.send_str(json.dumps(payload))

    async def drop_connection(self, code: int = 4000) -> None:
        """Closes the gateway like a Discord-side hiccup: the client is expected to RESUME."""
        ws, self.ws = self.ws, None
        self.ready.clear()
        if ws is not None:
            await ws.close(code=code, message=b"fake hiccup")

    async def post_message(self, user_id: str, content: str, direct: bool = False) -> str:
        """A member types in the channel, or in a DM with the bot (MESSAGE_CREATE); returns
        the message id."""
        if direct:
            channel_id = next((c for c, u in self.dm_channels.items() if u == user_id), None)
            channel_id = channel_id or self.snowflake()
            self.dm_channels[channel_id] = user_id
            message = self._message(channel_id, content, author=user_id)
        else:
            message = self._message(CHANNEL_ID, content, author=user_id)
            message["guild_id"] = GUILD_ID
            message["member"] = {k: v for k, v in self.member(user_id).items() if k != "user"}
        await self.dispatch("MESSAGE_CREATE", message)
        return str(message["id"])

    def interaction(
        self, user_id: str, kind: int, data: dict[str, Any], message: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        interaction_id = self.snowflake()
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": APP_ID,
            "type": kind,
            "data": data,
            "guild_id": GUILD_ID,
            "channel_id": CHANNEL_ID,
            "channel": {"id": CHANNEL_ID, "type": 0, "guild_id": GUILD_ID, "name": "drops"},
            "member": self.member(user_id),
            "token": f"token-{interaction_id}",
            "version": 1,
            "app_permissions": str((1 << 53) - 1),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": GUILD_ID},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if message is not None:
            payload["message"] = message
        return payload

    async def slash(self, user_id: str, name: str, **options: Any) -> str:
        """A member runs a slash command; returns the interaction token."""
        types = {bool: 5, int: 4, str: 3, RoleRef: 8}
        data: dict[str, Any] = {
            "id": self.snowflake(),
            "name": name,
            "type": 1,
            "guild_id": GUILD_ID,
            "options": [
                {"name": k, "type": types[type(v)], "value": v} for k, v in options.items()
            ],
        }
        roles = {v: self._role(v) for v in options.values() if isinstance(v, RoleRef)}
        if roles:
            data["resolved"] = {"roles": roles}
        interaction = self.interaction(user_id, 2, data)
        await self.dispatch("INTERACTION_CREATE", interaction)
        return str(interaction["token"])

    async def autocomplete(self, user_id: str, name: str, option: str, typed: str) -> str:
        data = {
            "id": self.snowflake(),
            "name": name,
            "type": 1,
            "guild_id": GUILD_ID,
            "options": [{"name": option, "type": 3, "value": typed, "focused": True}],
        }
        interaction = self.interaction(user_id, 4, data)
        await self.dispatch("INTERACTION_CREATE", interaction)
        return str(interaction["token"])

    async def click(self, user_id: str, message_id: str, custom_id: str) -> str:
        """A member presses a button on a message; returns the interaction token."""
        data = {"custom_id": custom_id, "component_type": 2}
        # The message as it is now (a later edit does not change a press already made).
        interaction = self.interaction(user_id, 3, data, copy.deepcopy(self.messages[message_id]))
        await self.dispatch("INTERACTION_CREATE", interaction)
        return str(interaction["token"])

    def responses(self, token: str) -> list[dict[str, Any]]:
        """The interaction's callback and follow-ups, in order."""
        out = []
        for call in self.calls:
            parts = call.path.split("/")
            if call.path.startswith("/interactions/") and parts[3] == token:
                out.append(call.body)
            if call.path.startswith("/webhooks/") and len(parts) > 3 and parts[3] == token:
                out.append(call.body)
        return out

    # ---- REST --------------------------------------------------------------------------------

    async def rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body: Any = None
        if request.can_read_body:
            text = await request.text()
            if request.content_type == "application/json" and text:
                body = json.loads(text)
            elif text:
                body = text
        response = (
            self._failed(request.method, path)
            or self._rate_limited(request.method, path)
            or await self._route(request, path, body)
        )
        self.calls.append(Call(request.method, path, body, response.status))
        return response

    def _failed(self, method: str, path: str) -> web.Response | None:
        for failure in self.failures:
            if failure[0] == method and path.startswith(failure[1]):
                self.failures.remove(failure)
                status = failure[2]
                message = {401: "401: Unauthorized", 403: "Missing Permissions"}.get(
                    status, "Unknown Webhook"
                )
                code = {401: 0, 403: 50013}.get(status, 10015)
                return _json({"message": message, "code": code}, status=status)
        return None

    def _rate_limited(self, method: str, path: str) -> web.Response | None:
        for limit in self.rate_limits:
            if limit[0] == method and path.startswith(limit[1]):
                self.rate_limits.remove(limit)
                seconds = limit[2]
                headers = {
                    "Via": "1.1 google",
                    "Retry-After": str(seconds),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": str(seconds),
                    "X-RateLimit-Bucket": "fakebucket",
                    "X-RateLimit-Scope": "user",
                }
                data = {"message": "You are being rate limited.", "retry_after": seconds}
                return _json({**data, "global": False}, status=429, headers=headers)
        return None

    async def _route(self, request: web.Request, path: str, body: Any) -> web.Response:
        parts = path.strip("/").split("/")
        method = request.method
        match method, parts:
            case "GET", ["gateway", "bot"]:
                limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
                return _json({"url": self.gateway_url, "shards": 1, "session_start_limit": limit})
            case "GET", ["gateway"]:
                return _json({"url": self.gateway_url})
            case "GET", ["users", "@me"]:
                return _json(self.user(BOT_ID))
            case "GET", ["oauth2", "applications", "@me"]:
                return _json(self._application())
            case "GET", ["applications", "@me"]:
                return _json(self._application())
            case "PUT", ["applications", _, "commands"] | [
                "applications",
                _,
                "guilds",
                _,
                "commands",
            ]:
                return _json([self._command(c) for c in body or []])
            case "GET", ["applications", _, "commands"] | [
                "applications",
                _,
                "guilds",
                _,
                "commands",
            ]:
                return _json([])
            case "POST", ["users", "@me", "channels"]:
                recipient = str(body["recipient_id"])
                channel_id = (
                    next((c for c, u in self.dm_channels.items() if u == recipient), None)
                    or self.snowflake()
                )
                self.dm_channels[channel_id] = recipient
                return _json({"id": channel_id, "type": 1, "recipients": [self.user(recipient)]})
            case "POST", ["channels", channel_id, "messages"]:
                if (invalid := _invalid_embeds(body)) is not None:
                    return invalid
                recipient = self.dm_channels.get(channel_id)
                if recipient in self.closed_dms:
                    error = {"message": "Cannot send messages to this user", "code": 50007}
                    return _json(error, status=403)
                if recipient is None and channel_id != CHANNEL_ID:
                    return _json({"message": "Unknown Channel", "code": 10003}, 404)
                message = self._message(channel_id, body.get("content") or "", body=body)
                if recipient is None:
                    message["guild_id"] = GUILD_ID
                return _json(message)
            case "PATCH", ["channels", channel_id, "messages", message_id]:
                message = self.messages.get(message_id)
                if message is None or message["channel_id"] != channel_id:
                    return _json({"message": "Unknown Message", "code": 10008}, 404)
                if (invalid := _invalid_embeds(body)) is not None:
                    return invalid
                for key, cleared in (("content", ""), ("embeds", []), ("components", [])):
                    if key in body:  # null clears it: Discord then shows "" or []
                        message[key] = cleared if body[key] is None else body[key]
                message["edited_timestamp"] = _now()
                message["edits"] = message.get("edits", 0) + 1
                return _json(message)
            case "POST", ["interactions", interaction_id, token, "callback"]:
                asked = next(
                    e["d"] for e in reversed(self.events) if e["d"].get("id") == interaction_id
                )
                gate = self.held.get(asked["data"].get("name", ""))
                if gate is not None:  # the acknowledgement of this command is slow
                    self.waiting += 1
                    await gate.wait()
                if body["type"] == 6:
                    pressed = next(
                        e["d"] for e in reversed(self.events) if e["d"].get("id") == interaction_id
                    )
                    self.updates[token] = str(pressed["message"]["id"])
                data = body.get("data") or {}
                flags = data.get("flags", 0)
                callback = {
                    "id": self.snowflake(),
                    "type": body["type"],
                    "response_message_loading": body["type"] == 5,
                    "response_message_ephemeral": bool(flags & EPHEMERAL),
                }
                return _json({"interaction": callback})
            case "POST", ["webhooks", _, token]:
                message = self._message(CHANNEL_ID, body.get("content") or "", body=body)
                message["webhook_id"] = APP_ID
                message["interaction_token"] = token
                return _json(message)
            case "PATCH", ["webhooks", _, token, "messages", "@original"] if token in self.updates:
                message = self.messages[self.updates[token]]
                for key in ("content", "embeds", "components"):
                    if key in body:
                        message[key] = body[key] or ("" if key == "content" else [])
                message["edits"] = message.get("edits", 0) + 1
                return _json(message)
            case "PATCH", ["webhooks", _, token, "messages", _]:
                message = self._message(CHANNEL_ID, body.get("content") or "", body=body)
                return _json(message)
            case (("PUT" | "DELETE"), ["guilds", _, "members", user_id, "roles", role_id]):
                member = self.members.get(user_id)
                if member is None:
                    return _json({"message": "Unknown Member", "code": 10007}, 404)
                if method == "PUT" and role_id not in member.roles:
                    member.roles.append(role_id)
                if method == "DELETE" and role_id in member.roles:
                    member.roles.remove(role_id)
                return web.Response(status=204)
        return _json({"message": "404: Not Found", "code": 0}, status=404)

    def _application(self) -> dict[str, Any]:
        return {
            "id": APP_ID,
            "name": "livebuy",
            "icon": None,
            "description": "",
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": self.user(OWNER_ID),
            "verify_key": "0" * 64,
            "flags": 0,
            "team": None,
            "summary": "",
        }

    def _command(self, command: dict[str, Any]) -> dict[str, Any]:
        return {
            **command,
            "id": self.snowflake(),
            "application_id": APP_ID,
            "version": self.snowflake(),
            "default_member_permissions": command.get("default_member_permissions"),
            "type": command.get("type", 1),
        }

    def _message(
        self, channel_id: str, content: str, *, author: str = BOT_ID, body: Any = None
    ) -> dict[str, Any]:
        body = body or {}
        message: dict[str, Any] = {
            "id": self.snowflake(),
            "channel_id": channel_id,
            "author": self.user(author),
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": body.get("embeds", []),
            "pinned": False,
            "type": 0,
            "components": body.get("components", []),
            "flags": body.get("flags", 0),
        }
        if "message_reference" in body:
            message["message_reference"] = body["message_reference"]
        self.messages[str(message["id"])] = message
        return message

    # ---- gateway -----------------------------------------------------------------------------

    async def gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.ws = ws
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            payload = json.loads(msg.data)
            op, data = payload["op"], payload.get("d")
            if op == 1:
                await ws.send_json({"op": 11})
            elif op == 2:
                await self._identify(ws, data)
            elif op == 6:
                self.resumed += 1
                missed = [e for e in self.events if e["s"] > (data.get("seq") or 0)]
                for event in missed:
                    await ws.send_str(json.dumps(event))
                await self._send_event(ws, "RESUMED", {})
                self.ready.set()
        if self.ws is ws:
            self.ws = None
        return ws

    async def _identify(self, ws: web.WebSocketResponse, data: dict[str, Any]) -> None:
        self.identified.append(data)
        if data["intents"] & MESSAGE_CONTENT and not self.message_content_allowed:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return
        ready = {
            "v": 10,
            "user": self.user(BOT_ID),
            "guilds": [{"id": GUILD_ID, "unavailable": True}],
            "session_id": f"session-{next(self.sessions)}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": APP_ID, "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await self._send_event(ws, "READY", ready)
        await self._send_event(ws, "GUILD_CREATE", self._guild())
        self.ready.set()

    async def _send_event(self, ws: web.WebSocketResponse, event: str, data: Any) -> None:
        self.seq += 1
        payload = {"op": 0, "t": event, "s": self.seq, "d": data}
        if event not in ("READY", "RESUMED", "GUILD_CREATE"):
            self.events.append(payload)
        with contextlib.suppress(ConnectionResetError):
            await ws.send_str(json.dumps(payload))

    def _role(self, role_id: str) -> dict[str, Any]:
        role = {"id": role_id, "name": self.roles.get(role_id, "@everyone"), "permissions": "0"}
        if role_id == GUILD_ID:
            role["permissions"] = str(1 << 11 | 1 << 10)  # send messages, view channels
        position = 0 if role_id == GUILD_ID else 1 + list(self.roles).index(role_id)
        role.update(
            position=position, color=0, hoist=False, managed=False, mentionable=False, flags=0
        )
        return role

    def _guild(self) -> dict[str, Any]:
        roles = [self._role(GUILD_ID)] + [self._role(r) for r in self.roles]
        channel = {
            "id": CHANNEL_ID,
            "type": 0,
            "guild_id": GUILD_ID,
            "name": "drops",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
        }
        return {
            "id": GUILD_ID,
            "name": "Sneaker drops",
            "icon": None,
            "owner_id": OWNER_ID,
            "unavailable": False,
            "member_count": len(self.members) + 1,
            "large": False,
            "features": [],
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "channels": [channel],
            "threads": [],
            "members": [self.member(m) for m in self.members],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "system_channel_flags": 0,
        }


def _invalid_embeds(body: Any) -> web.Response | None:
    """Discord's 400 for embeds it refuses: more than 10, a description over 4096
    characters, an image whose url is not http(s) or attachment:// (the `image` object is
    `{"url": ...}`, https://discord.com/developers/docs/resources/message#embed-object)."""
    embeds = (body or {}).get("embeds") or []
    problems: dict[str, Any] = {}
    if len(embeds) > 10:
        problems["embeds"] = "Must be 10 or fewer in length."
    for i, embed in enumerate(embeds):
        if len(embed.get("description") or "") > 4096:
            problems[f"embeds.{i}.description"] = "Must be 4096 or fewer in length."
        image = embed.get("image")
        if image is not None:
            url = image.get("url", "") if isinstance(image, dict) else ""
            if not url.startswith(("https://", "http://", "attachment://")):
                problems[f"embeds.{i}.image.url"] = "Scheme must be one of ('http', 'https')."
    if not problems:
        return None
    return _json({"message": "Invalid Form Body", "code": 50035, "errors": problems}, 400)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON as Discord sends it: discord.py reads a body as JSON only when the content type
    is exactly application/json (no charset)."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


def _now() -> str:
    return datetime.now(UTC).isoformat()
