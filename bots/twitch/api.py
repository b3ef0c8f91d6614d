"""Helix, as much of it as a chat bot needs, and the bot's user token, over plain aiohttp.

`GET /users` turns channel logins into broadcaster ids, `POST /eventsub/subscriptions`
subscribes the EventSub WebSocket session to a channel's chat (channel.chat.message), and
`POST /chat/messages` says a line in it. Every call carries the application's Client-Id and the
bot's user access token, which comes from its refresh token (the OAuth "refresh_token" grant at
TWITCH_OAUTH_BASE_URL/oauth2/token), is renewed a minute before it runs out and once more when
Helix answers 401. Twitch may hand out a new refresh token with each renewal: the newest is
kept (in memory; the one in the environment stays valid for a confidential client).
Helix errors arrive as {"error": "Unauthorized", "status": 401, "message": "..."} and are
raised as `TwitchError`. The tokens and the client secret are never logged.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp

log = logging.getLogger(__name__)
REFRESH_AHEAD = 60.0  # seconds before its expiry an access token is renewed
TIMEOUT = aiohttp.ClientTimeout(total=20)
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


class Helix:
    def __init__(
        self,
        credentials: Credentials,
        base_url: str = "https://api.twitch.tv/helix",
        oauth_base_url: str = "https://id.twitch.tv",
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.token_url = oauth_base_url.rstrip("/") + "/oauth2/token"
        self.session: aiohttp.ClientSession | None = None
        self._refresh_token = credentials.refresh_token
        self._token: str | None = None
        self._expires_at = 0.0
        self._refreshing = asyncio.Lock()
        self.renewals = 0  # access tokens obtained (tests)

    def _session(self) -> aiohttp.ClientSession:
        if self.session is None or self.session.closed:
            self.session = aiohttp.ClientSession(timeout=TIMEOUT)
        return self.session

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def access_token(self) -> str:
        async with self._refreshing:
            if self._token is None or time.monotonic() > self._expires_at - REFRESH_AHEAD:
                await self._refresh()
            assert self._token is not None
            return self._token

    async def _refresh(self) -> None:
        form = {
            "client_id": self.credentials.client_id,
            "client_secret": self.credentials.client_secret,
            "refresh_token": self._refresh_token,
            "grant_type": "refresh_token",
        }
        async with self._session().post(self.token_url, data=form) as response:
            body = await _json(response)
        if response.status != 200 or "access_token" not in body:
            # {"status": 400, "message": "Invalid refresh token"}
            raise TokenRefused(response.status, str(body.get("message", "")))
        self._token = str(body["access_token"])
        self._refresh_token = str(body.get("refresh_token") or self._refresh_token)
        expires_in = float(body.get("expires_in") or 3600)
        self._expires_at = time.monotonic() + expires_in
        self.renewals += 1
        log.info("Twitch: the bot's access token renewed (valid %.0fs)", expires_in)

    async def call(
        self,
        method: str,
        path: str,
        params: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One Helix call with the current token; a 401 renews the token and tries once more."""
        for attempt in (1, 2):
            headers = {
                "Authorization": f"Bearer {await self.access_token()}",
                "Client-Id": self.credentials.client_id,
            }
            url = f"{self.base_url}/{path}"
            async with self._session().request(
                method, url, params=params, json=body, headers=headers
            ) as response:
                data = await _json(response)
                reset = response.headers.get("Ratelimit-Reset", "")
            if response.status == 401 and attempt == 1:
                self._token = None  # expired or revoked early: a new one, then once more
                continue
            if response.status >= 400:
                retry = max(float(reset) - time.time(), 1.0) if reset.isdigit() else 0.0
                message = str(data.get("message") or data.get("error") or "")
                raise TwitchError(response.status, message, retry)
            return data
        raise AssertionError("unreachable")  # pragma: no cover

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


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any]:
    try:
        data = await response.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
