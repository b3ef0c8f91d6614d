"""Helix, as much of it as a chat bot needs, over plain aiohttp, with the bot's user token.

`GET /users` turns channel logins into broadcaster ids, `POST /eventsub/subscriptions`
subscribes the EventSub WebSocket session to a channel's chat (channel.chat.message), and
`POST /chat/messages` says a line in it. Every call carries the application's Client-Id and the
bot's user access token, which comes from its refresh token (the OAuth "refresh_token" grant at
TWITCH_OAUTH_BASE_URL/oauth2/token), is renewed a minute before it runs out and once more when
Helix answers 401 (bots/aloud/client.py, shared with YouTube; authlib sends the grant).
Twitch may hand out a new refresh token with each renewal: the newest is kept (in memory; the
one in the environment stays valid for a confidential client).
Helix errors arrive as {"error": "Unauthorized", "status": 401, "message": "..."} and are
raised as `TwitchError`. The tokens and the client secret are never logged.
"""

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bots.aloud.client import RefreshingClient

MAX_TEXT = 500  # characters in one chat message (POST /chat/messages)


@dataclass(frozen=True, slots=True)
class Credentials:
    client_id: str
    client_secret: str
    refresh_token: str
    bot_user_id: str


class TwitchError(Exception):
    """Helix refused a call: `status` is the HTTP status; `retry_after` seconds for a 429
    (from its Ratelimit-Reset header)."""

    def __init__(self, status: int, message: str = "", retry_after: float = 0.0) -> None:
        super().__init__(f"Twitch {status}: {message}".strip())
        self.status, self.message, self.retry_after = status, message, retry_after

    @property
    def transient(self) -> bool:
        return self.status >= 500


class TokenRefused(TwitchError):
    """The token endpoint refused the refresh token (revoked, wrong client or secret)."""


@dataclass(frozen=True, slots=True)
class Sent:
    """The answer of POST /chat/messages: data[0]."""

    message_id: str
    is_sent: bool
    drop_code: str = ""  # drop_reason.code when Twitch did not send it (msg_duplicate, ...)
    drop_message: str = ""


class Helix(RefreshingClient):
    platform = "Twitch"

    def __init__(
        self,
        credentials: Credentials,
        base_url: str = "https://api.twitch.tv/helix",
        oauth_base_url: str = "https://id.twitch.tv",
    ) -> None:
        token_url = oauth_base_url.rstrip("/") + "/oauth2/token"
        c = credentials
        super().__init__(c.client_id, c.client_secret, c.refresh_token, token_url)
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")

    def refused(self, status: int, body: dict[str, Any]) -> Exception:
        # {"status": 400, "message": "Invalid refresh token"}
        return TokenRefused(status, str(body.get("message", "")))

    def failed(self, status: int, data: dict[str, Any], headers: Mapping[str, str]) -> Exception:
        reset = headers.get("Ratelimit-Reset", "")
        retry = max(float(reset) - time.time(), 1.0) if reset.isdigit() else 0.0
        return TwitchError(status, str(data.get("message") or data.get("error") or ""), retry)

    async def call(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One Helix call as the bot (its Client-Id and user token)."""
        headers = {"Client-Id": self.credentials.client_id}
        return await self.authorized(method, f"{self.base_url}/{path}", params, body, headers)

    async def user_ids(self, logins: list[str]) -> dict[str, str]:
        """{login: user id} of the logins Twitch knows (GET /users, 100 at most a call)."""
        found: dict[str, str] = {}
        for start in range(0, len(logins), 100):
            params = [("login", login) for login in logins[start : start + 100]]
            data = await self.call("GET", "users", params)
            for user in data.get("data") or []:
                found[str(user["login"]).lower()] = str(user["id"])
        return found

    async def subscribe_chat(self, broadcaster_id: str, session_id: str) -> None:
        """The WebSocket session gets the channel's chat messages (channel.chat.message v1,
        read as the bot: scope user:read:chat)."""
        body = {
            "type": "channel.chat.message",
            "version": "1",
            "condition": {
                "broadcaster_user_id": broadcaster_id,
                "user_id": self.credentials.bot_user_id,
            },
            "transport": {"method": "websocket", "session_id": session_id},
        }
        await self.call("POST", "eventsub/subscriptions", body=body)

    async def send_chat(self, broadcaster_id: str, text: str) -> Sent:
        """POST /chat/messages as the bot (scope user:write:chat)."""
        body = {
            "broadcaster_id": broadcaster_id,
            "sender_id": self.credentials.bot_user_id,
            "message": text[:MAX_TEXT],
        }
        data = await self.call("POST", "chat/messages", body=body)
        first = (data.get("data") or [{}])[0]
        drop = first.get("drop_reason") or {}
        return Sent(
            message_id=str(first.get("message_id") or ""),
            is_sent=bool(first.get("is_sent")),
            drop_code=str(drop.get("code") or ""),
            drop_message=str(drop.get("message") or ""),
        )
