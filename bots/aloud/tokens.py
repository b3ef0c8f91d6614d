"""The bot's access token, kept fresh from its refresh token with authlib's OAuth 2 client
(for bots.aloud.client.RefreshingClient).

Twitch's bot account and YouTube's channel both come with a refresh token (set up once by the
seller); an access token is obtained from it with RFC 6749's refresh_token grant (section 6),
form-encoded, the client id and secret in the form (client_secret_post: both Twitch and
Google document that form). authlib's `AsyncOAuth2Client` sends it, keeps the token and
renews it `REFRESH_AHEAD` seconds before it runs out. A provider may hand out a new refresh
token with a renewal (Twitch does): the client keeps the newest, in memory. The tokens and
the secret are never logged.

Renewals go one at a time under a lock of our own, which reads the client's token once it
holds the lock: callers waiting meanwhile get the new token, and if that one was refused
meanwhile the next renewal sends the newest refresh token. (authlib's own lock renews with
the refresh token of the token its caller passed in, read before it waited: an older one,
which a provider that rotates them refuses.)

`refused(status, body)` turns the token endpoint's refusal into the platform's error (Twitch
answers {"status": 400, "message": ...}, Google {"error": "invalid_grant", ...}); a token
endpoint that cannot be reached is a `ConnectionError`, as an unreachable API is an OSError
to the adapters.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

log = logging.getLogger(__name__)
REFRESH_AHEAD = 60  # seconds before its expiry an access token is renewed
TIMEOUT = 20.0

Refused = Callable[[int, dict[str, Any]], Exception]


class RefreshingToken:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        token_url: str,
        refused: Refused,
        name: str,
    ) -> None:
        self.refused, self.name = refused, name
        self.renewals = 0  # access tokens obtained (tests)
        self._client: AsyncOAuth2Client | None = None
        self._renewing = asyncio.Lock()  # one renewal at a time (see the module's doc)
        self._args = (client_id, client_secret, refresh_token, token_url)

    def _oauth(self) -> AsyncOAuth2Client:
        if self._client is None:
            client_id, secret, refresh_token, token_url = self._args
            self._client = AsyncOAuth2Client(
                client_id,
                secret,
                token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a name)
                # No access token yet: one that ran out long ago, so the first use renews it.
                token={
                    "access_token": "",
                    "token_type": "bearer",
                    "refresh_token": refresh_token,
                    "expires_at": 1,
                },
                token_endpoint=token_url,
                leeway=REFRESH_AHEAD,
                update_token=self._renewed,
                timeout=TIMEOUT,
            )
            self._client.register_compliance_hook("refresh_token_response", self._check)
        return self._client

    def _check(self, response: httpx2.Response) -> httpx2.Response:
        """A refusal is the platform's error, whatever its body looks like (Twitch's has no
        "error" member, so authlib would take it for a token)."""
        if response.status_code != 200:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise self.refused(response.status_code, body if isinstance(body, dict) else {})
        return response

    async def _renewed(self, token: dict[str, Any], refresh_token: str | None = None) -> None:
        if not token.get("access_token"):
            raise self.refused(200, {"message": "no access_token in the answer"})
        self.renewals += 1
        log.info("%s: access token renewed (valid %ss)", self.name, token.get("expires_in"))

    async def access_token(self) -> str:
        """The current access token, renewed first when it runs out within a minute."""
        client = self._oauth()
        try:
            if client.token.is_expired(leeway=REFRESH_AHEAD):
                async with self._renewing:
                    # The token now, after the wait: renewed meanwhile, or with the newest
                    # refresh token in it (authlib checks its expiry again, under its lock).
                    await client.ensure_active_token(client.token)
        except OAuthError as exc:  # an "error" member in a 200 answer
            answer = {"error": exc.error, "error_description": exc.description}
            raise self.refused(200, answer | {"message": exc.description}) from None
        except httpx2.HTTPError as exc:
            raise ConnectionError(
                f"{self.name}: the token endpoint: {type(exc).__name__}"
            ) from None
        return str(client.token["access_token"])

    def expire(self, token: str) -> None:
        """The API refused `token` (revoked or run out early): the next use renews it, unless
        another caller has renewed it meanwhile."""
        if self._client is not None and self._client.token.get("access_token") == token:
            self._client.token["expires_at"] = 1

    async def close(self) -> None:
        if self._client is not None:
            client_id, secret, _, token_url = self._args
            refresh_token = str(self._client.token.get("refresh_token") or self._args[2])
            self._args = (client_id, secret, refresh_token, token_url)  # the newest
            await self._client.aclose()
            self._client = None
