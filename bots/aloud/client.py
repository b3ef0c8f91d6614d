"""What the Twitch (Helix) and YouTube (Data API v3) clients share: one aiohttp session, and
an access token from a refresh token (the OAuth "refresh_token" grant, form-encoded, at the
platform's token endpoint), renewed a minute before it runs out, under a lock so that calls
made together renew it once, and once more when the API answers 401. A platform may hand out
a new refresh token with a renewal (Twitch does): the newest is kept, in memory. The tokens
and the client secret are never logged. Each platform's client (bots/twitch/api.py,
bots/youtube/api.py) says how its errors read."""

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

log = logging.getLogger(__name__)
REFRESH_AHEAD = 60.0  # seconds before its expiry an access token is renewed
TIMEOUT = aiohttp.ClientTimeout(total=20)


class RefreshingClient:
    platform: ClassVar[str]  # "Twitch", "YouTube": for the log

    def __init__(
        self, client_id: str, client_secret: str, refresh_token: str, token_url: str
    ) -> None:
        self._client_id, self._client_secret = client_id, client_secret
        self._refresh_token, self.token_url = refresh_token, token_url
        self.session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._refreshing = asyncio.Lock()
        self.renewals = 0  # access tokens obtained (tests)

    def refused(self, status: int, body: dict[str, Any]) -> Exception:
        """The token endpoint's refusal, as the platform's error."""
        raise NotImplementedError

    def failed(self, status: int, data: dict[str, Any], headers: Mapping[str, str]) -> Exception:
        """An API call's refusal (status 400 and above), as the platform's error."""
        raise NotImplementedError

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
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "refresh_token": self._refresh_token,
            "grant_type": "refresh_token",
        }
        async with self._session().post(self.token_url, data=form) as response:
            body = await json_of(response)
        if response.status != 200 or "access_token" not in body:
            raise self.refused(response.status, body)
        self._token = str(body["access_token"])
        self._refresh_token = str(body.get("refresh_token") or self._refresh_token)
        expires_in = float(body.get("expires_in") or 3600)
        self._expires_at = time.monotonic() + expires_in
        self.renewals += 1
        log.info("%s: access token renewed (valid %.0fs)", self.platform, expires_in)

    async def authorized(
        self,
        method: str,
        url: str,
        params: Any = None,
        body: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """One call with the current token; a 401 renews the token and tries once more."""
        for attempt in (1, 2):
            sent = {**(headers or {}), "Authorization": f"Bearer {await self.access_token()}"}
            async with self._session().request(
                method, url, params=params, json=body, headers=sent
            ) as response:
                data = await json_of(response)
            if response.status == 401 and attempt == 1:
                self._token = None  # expired or revoked early: a new one, then once more
                continue
            if response.status >= 400:
                raise self.failed(response.status, data, response.headers)
            return data
        raise AssertionError("unreachable")  # pragma: no cover


async def json_of(response: aiohttp.ClientResponse) -> dict[str, Any]:
    """The answer's JSON object ({} for anything else)."""
    try:
        data = await response.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
