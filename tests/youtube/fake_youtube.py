"""A fake YouTube Data API v3 and Google OAuth token endpoint on loopback, speaking the
documented wire format, for driving the real adapter.

- POST /token (form-encoded, grant_type=refresh_token) answers {"access_token", "expires_in",
  "scope", "token_type"} or 400 {"error": "invalid_grant", ...}.
- GET /o/oauth2/v2/auth (Google's authorize page: response_type=code, client_id,
  redirect_uri, scope, state): the person `authorizing` consents, a redirect to
  redirect_uri?state=…&code=…&scope=…; POST /token with grant_type=authorization_code (code,
  client_id, client_secret, redirect_uri; a code works once) answers their access token, and
  GET /youtube/v3/channels?part=id&mine=true with it a youtube#channelListResponse of their
  channel (no items for a Google account without one).
- GET /youtube/v3/liveChat/messages (liveChatMessages.list: liveChatId, part, pageToken)
  answers a youtube#liveChatMessageListResponse: items oldest first, nextPageToken and
  pollingIntervalMillis; without a pageToken, recent history (at most 75 messages).
- POST /youtube/v3/liveChat/messages?part=snippet (liveChatMessages.insert) takes
  {snippet: {liveChatId, type: "textMessageEvent", textMessageDetails: {messageText}}} (200
  characters at most) and answers the youtube#liveChatMessage, which the chat then shows as
  the channel owner's.
- GET /youtube/v3/liveBroadcasts?part=snippet&id=... answers snippet.liveChatId.
- Errors in Google's JSON error format: 401 authError, 403 quotaExceeded, 403 liveChatEnded,
  5xx backendError, queued by the test with `fail_reads`.
"""

import base64
import itertools
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

CLIENT_ID = "1234-livebuy.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-secret"
REFRESH_TOKEN = "1//refresh-test-token"
# As long as real ones: a liveChatId encodes the video and the channel (76 characters here),
# a message id much more (YouTube's are well over 100).
LIVE_CHAT_ID = "Cg0KC2xpdmVidXl0ZXN0KicKGFVDbGl2ZWJ1eVRlc3RDaGFubmVsMDAwMRILbGl2ZWJ1eXRlc3Q"
BROADCAST_ID = "livebuytest"
OWNER_CHANNEL = "UClivebuyTestChannel0001"  # the shop's channel: the bot posts as it
HISTORY = 75  # messages a first read (no pageToken) returns at most
MAX_TEXT = 200

ERRORS = {
    "authError": (401, "global", "Invalid Credentials"),
    "quotaExceeded": (
        403,
        "youtube.quota",
        "The request cannot be completed because you have exceeded your quota.",
    ),
    "liveChatEnded": (403, "youtube.liveChat", "The live chat is no longer live."),
    "forbidden": (403, "youtube.liveChat", "You do not have permission to read this chat."),
    "liveChatNotFound": (
        404,
        "youtube.liveChat",
        "The live chat that you are trying to read cannot be found.",
    ),
    "backendError": (503, "global", "Backend Error"),
}


def error_body(reason: str) -> tuple[int, dict[str, Any]]:
    status, domain, message = ERRORS[reason]
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }


def _error(reason: str) -> web.Response:
    status, body = error_body(reason)
    return web.json_response(body, status=status)


def channel_id(name: str) -> str:
    """A channel id of the documented form: UC and 22 characters."""
    return ("UC" + name.replace("@", "") + "_" * 22)[:24]


@dataclass
class Viewer:
    name: str  # the handle, "@anna"
    channel: str
    owner: bool = False
    moderator: bool = False


@dataclass
class FakeYouTube:
    polling_ms: int = 50
    token_lifetime: int = 3599
    messages: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)  # insert bodies, in order
    reads: list[dict[str, str]] = field(default_factory=list)  # list calls' query parameters
    read_times: list[float] = field(default_factory=list)
    read_outcomes: list[str] = field(default_factory=list)  # "ok" or the error's reason
    token_requests: list[dict[str, str]] = field(default_factory=list)
    failing_reads: list[str] = field(default_factory=list)  # reasons, one per coming read
    failing_inserts: list[str] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    runner: web.AppRunner | None = None
    base: str = ""
    owner: Viewer = field(default_factory=lambda: Viewer("@livebuyshop", OWNER_CHANNEL, True))
    authorizing: "Viewer | None" = None  # who consents on the authorize page
    codes: dict[str, tuple[str, "Viewer", str]] = field(default_factory=dict)
    user_tokens: dict[str, "Viewer"] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]

    @property
    def api_url(self) -> str:
        return f"{self.base}/youtube/v3"

    @property
    def token_url(self) -> str:
        return f"{self.base}/token"

    @property
    def authorize_url(self) -> str:
        return f"{self.base}/o/oauth2/v2/auth"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/o/oauth2/v2/auth", self._authorize)
        app.router.add_post("/token", self._token)
        app.router.add_get("/youtube/v3/channels", self._channels)
        app.router.add_get("/youtube/v3/liveChat/messages", self._list)
        app.router.add_post("/youtube/v3/liveChat/messages", self._insert)
        app.router.add_get("/youtube/v3/liveBroadcasts", self._broadcasts)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    # What the test does in the chat.

    def viewer(self, name: str, moderator: bool = False) -> Viewer:
        return Viewer(f"@{name}", channel_id(name), moderator=moderator)

    def say(self, viewer: Viewer, text: str) -> str:
        """A viewer types a message in the live chat; returns its id."""
        return self._append(viewer, text)

    def fail_reads(self, *reasons: str) -> None:
        self.failing_reads.extend(reasons)

    def revoke_access_tokens(self) -> None:
        """The access tokens handed out stop working (expired early, or revoked)."""
        self.valid_tokens.clear()

    def lines(self) -> list[str]:
        """The bot's lines in the chat, in order."""
        return [b["snippet"]["textMessageDetails"]["messageText"] for b in self.sent]

    def lines_for(self, viewer: Viewer) -> list[str]:
        return [line for line in self.lines() if line.startswith(f"{viewer.name}:")]

    # The wire.

    def _append(self, viewer: Viewer, text: str) -> str:
        number = next(self._ids)
        body = f"{LIVE_CHAT_ID}:{OWNER_CHANNEL}:message-{number:06d}".encode()
        message_id = f"LCC.{base64.urlsafe_b64encode(body).decode().rstrip('=')}"
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        self.messages.append(
            {
                "kind": "youtube#liveChatMessage",
                "etag": f"etag-{number}",
                "id": message_id,
                "snippet": {
                    "type": "textMessageEvent",
                    "liveChatId": LIVE_CHAT_ID,
                    "authorChannelId": viewer.channel,
                    "publishedAt": now,
                    "hasDisplayContent": True,
                    "displayMessage": text,
                    "textMessageDetails": {"messageText": text},
                },
                "authorDetails": {
                    "channelId": viewer.channel,
                    "channelUrl": f"http://www.youtube.com/channel/{viewer.channel}",
                    "displayName": viewer.name,
                    "profileImageUrl": "https://yt3.ggpht.com/photo.jpg",
                    "isVerified": False,
                    "isChatOwner": viewer.owner,
                    "isChatSponsor": False,
                    "isChatModerator": viewer.moderator,
                },
            }
        )
        return message_id

    async def _authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return web.json_response({"error": "invalid_request"}, status=400)
        if self.authorizing is None or "redirect_uri" not in q:
            return web.json_response({"error": "access_denied"}, status=400)
        code = f"4/0A{next(self._ids)}-test-code"
        self.codes[code] = (q["redirect_uri"], self.authorizing, q.get("scope", ""))
        query = urlencode({"state": q.get("state", ""), "code": code, "scope": q.get("scope")})
        raise web.HTTPFound(f"{q['redirect_uri']}?{query}")

    def _code_grant(self, form: dict[str, str]) -> web.Response:
        given = self.codes.pop(form.get("code", ""), None)  # a code works once
        if (
            form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or given is None
            or given[0] != form.get("redirect_uri")
        ):
            body = {"error": "invalid_grant", "error_description": "Bad Request"}
            return web.json_response(body, status=400)
        token = f"ya29.user-{len(self.token_requests)}"
        self.user_tokens[token] = given[1]
        return web.json_response(
            {
                "access_token": token,
                "expires_in": 3599,
                "scope": given[2],
                "token_type": "Bearer",
            }
        )

    async def _channels(self, request: web.Request) -> web.Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        person = self.user_tokens.get(token) if scheme == "Bearer" else None
        if person is None:
            return _error("authError")
        if request.query.get("part") != "id" or request.query.get("mine") != "true":
            return web.json_response({"error": {"code": 400, "message": "Bad"}}, status=400)
        items = (
            []
            if not person.channel
            else [{"kind": "youtube#channel", "etag": "etag-1", "id": person.channel}]
        )
        return web.json_response(
            {
                "kind": "youtube#channelListResponse",
                "etag": "etag-0",
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
                "items": items,
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/x-www-form-urlencoded"
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        if form.get("grant_type") == "authorization_code":
            return self._code_grant(form)
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("refresh_token") != REFRESH_TOKEN
        ):
            body = {"error": "invalid_grant", "error_description": "Bad Request"}
            return web.json_response(body, status=400)
        token = f"ya29.test-{len(self.token_requests)}"
        self.valid_tokens.add(token)
        return web.json_response(
            {
                "access_token": token,
                "expires_in": self.token_lifetime,
                "scope": "https://www.googleapis.com/auth/youtube",
                "token_type": "Bearer",
            }
        )

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme == "Bearer" and token in self.valid_tokens

    async def _list(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.reads.append(query)
        self.read_times.append(time.monotonic())
        if not self._authorized(request):
            self.read_outcomes.append("authError")
            return _error("authError")
        if self.failing_reads:
            self.read_outcomes.append(self.failing_reads[0])
            return _error(self.failing_reads.pop(0))
        self.read_outcomes.append("ok")
        assert set(query["part"].split(",")) == {"snippet", "authorDetails"}, query
        if query.get("liveChatId") != LIVE_CHAT_ID:
            return _error("liveChatNotFound")
        token = query.get("pageToken")
        if token:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("at-"))
        else:
            start = max(0, len(self.messages) - HISTORY)
        items = self.messages[start:]
        end = start + len(items)
        return web.json_response(
            {
                "kind": "youtube#liveChatMessageListResponse",
                "etag": f"etag-list-{end}",
                "nextPageToken": base64.urlsafe_b64encode(f"at-{end}".encode()).decode(),
                "pollingIntervalMillis": self.polling_ms,
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
            }
        )

    async def _insert(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error("authError")
        assert request.query.get("part") == "snippet", request.query
        body = await request.json()
        snippet = body["snippet"]
        assert set(body) == {"snippet"}, body
        assert snippet["type"] == "textMessageEvent", snippet
        assert snippet["liveChatId"] == LIVE_CHAT_ID, snippet
        text = snippet["textMessageDetails"]["messageText"]
        assert isinstance(text, str) and 0 < len(text) <= MAX_TEXT, text
        if self.failing_inserts:
            return _error(self.failing_inserts.pop(0))
        self.sent.append(body)
        message_id = self._append(self.owner, text)  # the bot writes as the channel
        return web.json_response(self.messages[-1] | {"id": message_id})

    async def _broadcasts(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error("authError")
        assert request.query.get("part") == "snippet"
        items = []
        if request.query.get("id") == BROADCAST_ID:
            items.append(
                {
                    "kind": "youtube#liveBroadcast",
                    "etag": "etag-broadcast",
                    "id": BROADCAST_ID,
                    "snippet": {"title": "Friday drop", "liveChatId": LIVE_CHAT_ID},
                }
            )
        return web.json_response(
            {
                "kind": "youtube#liveBroadcastListResponse",
                "etag": "etag-broadcasts",
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
                "items": items,
            }
        )
