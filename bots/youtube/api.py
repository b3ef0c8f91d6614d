"""The YouTube Data API v3, as much of it as a live chat needs, over plain aiohttp.

`liveChatMessages.list` (GET liveChat/messages) reads the chat, `liveChatMessages.insert`
(POST liveChat/messages) writes to it, `liveBroadcasts.list` finds a broadcast's chat. Access
tokens come from the channel's refresh token (the OAuth "refresh_token" grant), are renewed a
minute before they run out, and once more when the API answers 401 (bots/aloud/client.py,
shared with Twitch; authlib sends the grant). Errors arrive as Google's
JSON error ({"error": {"code", "message", "errors": [{"domain", "reason", ...}]}}) and are
raised as `YouTubeError` with the first reason: quotaExceeded, liveChatEnded, ... The tokens
are never logged.
"""

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bots.aloud.client import RefreshingClient

MAX_TEXT = 200  # characters in one chat message (liveChatMessages.insert)


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    client_secret: str
    refresh_token: str


class YouTubeError(Exception):
    """The API refused a call: `status` is the HTTP status, `reason` Google's reason
    (quotaExceeded, liveChatEnded, forbidden, ...), empty when there was none."""

    def __init__(self, status: int, reason: str = "", message: str = "") -> None:
        super().__init__(f"YouTube {status} {reason}: {message}".strip())
        self.status, self.reason, self.message = status, reason, message

    @property
    def quota(self) -> bool:
        return self.reason in ("quotaExceeded", "dailyLimitExceeded")

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or self.reason in ("rateLimitExceeded", "userRateLimitExceeded")

    @property
    def chat_gone(self) -> bool:
        """The chat will not come back: it ended, was turned off, or never existed."""
        return self.reason in ("liveChatEnded", "liveChatDisabled", "liveChatNotFound") or (
            self.status == 404
        )

    @property
    def transient(self) -> bool:
        return self.status >= 500 or self.reason in ("backendError", "internalError")


class TokenRefused(YouTubeError):
    """The token endpoint refused the refresh token (revoked, expired, wrong client)."""


@dataclass(frozen=True, slots=True)
class Page:
    """One answer of liveChatMessages.list."""

    items: list[dict[str, Any]]
    next_page_token: str | None
    polling_interval: float  # seconds, from pollingIntervalMillis
    offline: bool  # offlineAt is set: the stream went offline


class YouTubeApi(RefreshingClient):
    platform = "YouTube"

    def __init__(
        self,
        credentials: Credentials,
        base_url: str = "https://www.googleapis.com/youtube/v3",
        token_url: str = "https://oauth2.googleapis.com/token",  # noqa: S107 (a URL)
    ) -> None:
        c = credentials
        super().__init__(c.client_id, c.client_secret, c.refresh_token, token_url)
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        # Ids of the messages this process posted: the bot writes as the channel (its owner),
        # and its own lines must not be read back as the owner's commands.
        self.posted: deque[str] = deque(maxlen=500)

    def refused(self, status: int, body: dict[str, Any]) -> Exception:
        # {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        reason = str(body.get("error", "")) if isinstance(body.get("error"), str) else ""
        return TokenRefused(status, reason, str(body.get("error_description", "")))

    def failed(self, status: int, data: dict[str, Any], headers: Mapping[str, str]) -> Exception:
        return _error(status, data)

    async def _call(
        self, method: str, path: str, params: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """One API call as the channel."""
        return await self.authorized(method, f"{self.base_url}/{path}", params, body)

    async def messages(self, live_chat_id: str, page_token: str | None) -> Page:
        params = {"liveChatId": live_chat_id, "part": "snippet,authorDetails"}
        if page_token:
            params["pageToken"] = page_token
        data = await self._call("GET", "liveChat/messages", params)
        return Page(
            items=list(data.get("items") or []),
            next_page_token=data.get("nextPageToken"),
            polling_interval=float(data.get("pollingIntervalMillis") or 5000) / 1000,
            offline=bool(data.get("offlineAt")),
        )

    async def insert(self, live_chat_id: str, text: str) -> str:
        body = {
            "snippet": {
                "liveChatId": live_chat_id,
                "type": "textMessageEvent",
                "textMessageDetails": {"messageText": text[:MAX_TEXT]},
            }
        }
        data = await self._call("POST", "liveChat/messages", {"part": "snippet"}, body)
        message_id = str(data.get("id", ""))
        self.posted.append(message_id)
        return message_id

    async def broadcast_chat(self, broadcast_id: str) -> str | None:
        """The live chat of a broadcast (liveBroadcasts.list snippet.liveChatId); None when
        the broadcast is unknown or has no chat (yet)."""
        params = {"part": "snippet", "id": broadcast_id}
        data = await self._call("GET", "liveBroadcasts", params)
        for item in data.get("items") or []:
            chat = (item.get("snippet") or {}).get("liveChatId")
            if chat:
                return str(chat)
        return None


def _error(status: int, data: dict[str, Any]) -> YouTubeError:
    error = data.get("error")
    if not isinstance(error, dict):
        return YouTubeError(status)
    errors = error.get("errors") or [{}]
    first = errors[0] if isinstance(errors[0], dict) else {}
    reason = str(first.get("reason") or "")
    if not reason:  # the newer format: details[].reason, or status ("PERMISSION_DENIED")
        details = error.get("details") or [{}]
        reason = str((details[0] if isinstance(details[0], dict) else {}).get("reason") or "")
    return YouTubeError(status, reason, str(error.get("message", "")))
