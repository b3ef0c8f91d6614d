"""What the Twitch (Helix) and YouTube (Data API v3) clients share: one aiohttp session, and
an access token from a refresh token (the OAuth "refresh_token" grant, form-encoded, at the
platform's token endpoint, sent by authlib: bots.aloud.tokens), renewed a minute before it
runs out, one renewal at a time so that calls made together renew it once, and once more
when the API answers 401. A platform may hand out a new refresh token with a renewal (Twitch
does): the newest is kept, in memory. The tokens and the client secret are never logged.
Each platform's client (bots/twitch/api.py, bots/youtube/api.py) says how its errors read."""

from collections.abc import Mapping
from typing import Any, ClassVar

import aiohttp

from bots.aloud.tokens import RefreshingToken

TIMEOUT = aiohttp.ClientTimeout(total=20)


class RefreshingClient:
    platform: ClassVar[str]  # "Twitch", "YouTube": for the log

    def __init__(
        self, client_id: str, client_secret: str, refresh_token: str, token_url: str
    ) -> None:
        self.token_url = token_url
        self.session: aiohttp.ClientSession | None = None
        self.token = RefreshingToken(
            client_id, client_secret, refresh_token, token_url, self.refused, self.platform
        )

    @property
    def renewals(self) -> int:
        """Access tokens obtained (tests)."""
        return self.token.renewals

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
        await self.token.close()
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def access_token(self) -> str:
        return await self.token.access_token()

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
            token = await self.access_token()
            sent = {**(headers or {}), "Authorization": f"Bearer {token}"}
            async with self._session().request(
                method, url, params=params, json=body, headers=sent
            ) as response:
                data = await json_of(response)
            if response.status == 401 and attempt == 1:
                self.token.expire(token)  # expired or revoked early: a new one, then once more
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
