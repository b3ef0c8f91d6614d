"""Sign in with Discord: OAuth2's authorization code grant with the `identify` scope
(https://discord.com/developers/docs/topics/oauth2#authorization-code-grant).

Through authlib's OAuth 2 client (webhooks.signin.oauth_client, as the Twitch and Google
sign-ins): the authorization URL with our state, the code for a token, whose scope must
include `identify`, then GET /users/@me with it. The client secret is sent with HTTP Basic
authentication (RFC 6749 2.3.1, as Discord documents) and never logged.
"""

import secrets
from dataclasses import dataclass, field

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client

from webhooks.signin.oauth_client import OAuthFailed, client, json_of, signed_get

__all__ = ["DiscordOAuth", "OAuthFailed", "new_state"]


@dataclass(frozen=True, slots=True)
class DiscordOAuth:
    client_id: str
    client_secret: str = field(repr=False)  # never in a log or a traceback's locals
    oauth_base: str  # https://discord.com: /oauth2/authorize and /api/oauth2/token
    api_base: str  # https://discord.com/api/v10: /users/@me
    redirect_uri: str  # PUBLIC_BASE_URL/auth/discord/callback

    def _oauth(self) -> AsyncOAuth2Client:
        return client(
            self.client_id,
            self.client_secret,
            self.redirect_uri,
            "identify",
            secret_in="client_secret_basic",  # noqa: S106 (a name)
        )

    def authorize_url(self, state: str) -> str:
        authorize = f"{self.oauth_base.rstrip('/')}/oauth2/authorize"
        # prompt none: asked once; later sign-ins skip the consent screen
        url, _ = self._oauth().create_authorization_url(authorize, state=state, prompt="none")
        return str(url)

    async def user_id(self, code: str) -> str:
        """The Discord user id the authorization code stands for."""
        async with self._oauth() as oauth:
            try:
                r = await signed_get(
                    oauth,
                    f"{self.oauth_base.rstrip('/')}/api/oauth2/token",
                    code,
                    f"{self.api_base.rstrip('/')}/users/@me",
                    {},
                    {},
                    "Discord",
                    granted="identify",
                )
            except httpx2.HTTPError:
                raise OAuthFailed("Discord could not be reached: try again") from None
        user = json_of(r)
        if r.status_code != 200:
            raise OAuthFailed("Discord did not tell who signed in")
        user_id = str(user.get("id", ""))
        if not user_id.isdigit() or len(user_id) > 20:
            raise OAuthFailed("Discord's answer has no user id")
        return user_id


def new_state() -> str:
    return secrets.token_urlsafe(24)
