"""Sign in with Twitch or with Google (for YouTube): OAuth2's authorization code grant, as for
Discord (webhooks.signin.discord_oauth; the client they share: webhooks.signin.oauth_client),
for the buyer who opens their public /p/ link.

- Twitch (https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/#authorization-code-
  grant-flow): TWITCH_OAUTH_BASE_URL/oauth2/authorize with scope `openid`; the code for a user
  token at /oauth2/token (client id and secret in the form, as Twitch documents); the user
  id from Helix GET /users with that token and the Client-Id header.
- Google (https://developers.google.com/identity/protocols/oauth2/web-server): the authorize
  page YOUTUBE_OAUTH_AUTHORIZE_URL with scope youtube.readonly, the code for a token at
  YOUTUBE_OAUTH_TOKEN_URL, and the person's channel id from the Data API's
  GET /channels?part=id&mine=true.

Both go through authlib's OAuth 2 client (`AsyncOAuth2Client`, on httpx2): it builds the
authorization URL with our state, sends the code with the client id and secret in the form
(client_secret_post, as Twitch and Google document it) and then signs the one API call that
names the person with the token it got. Tokens and the client secrets are used once and
never logged nor kept.
"""

from dataclasses import dataclass, field

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client

from webhooks.signin.oauth_client import OAuthFailed, client, json_of, signed_get

YOUTUBE_READONLY = "https://www.googleapis.com/auth/youtube.readonly"


@dataclass(frozen=True, slots=True)
class TwitchOAuth:
    client_id: str
    client_secret: str = field(repr=False)  # never in a log or a traceback's locals
    oauth_base: str  # https://id.twitch.tv
    api_base: str  # https://api.twitch.tv/helix
    redirect_uri: str  # PUBLIC_BASE_URL/auth/twitch/callback

    def _oauth(self) -> AsyncOAuth2Client:
        # scope openid: who the person is; no right over their account
        return client(self.client_id, self.client_secret, self.redirect_uri, "openid")

    def authorize_url(self, state: str) -> str:
        authorize = f"{self.oauth_base.rstrip('/')}/oauth2/authorize"
        url, _ = self._oauth().create_authorization_url(authorize, state=state)
        return str(url)

    async def user_id(self, code: str) -> str:
        """The Twitch user id the authorization code stands for."""
        async with self._oauth() as oauth:
            try:
                r = await signed_get(
                    oauth,
                    f"{self.oauth_base.rstrip('/')}/oauth2/token",
                    code,
                    f"{self.api_base.rstrip('/')}/users",
                    {},
                    {"Client-Id": self.client_id},
                    "Twitch",
                )
            except httpx2.HTTPError:
                raise OAuthFailed("Twitch could not be reached: try again") from None
        answer = json_of(r)
        if r.status_code != 200:
            raise OAuthFailed("Twitch did not tell who signed in")
        users = answer.get("data")
        first = users[0] if isinstance(users, list) and users else {}
        user_id = str(first.get("id", "")) if isinstance(first, dict) else ""
        if not user_id.isdigit() or len(user_id) > 20:
            raise OAuthFailed("Twitch's answer has no user id")
        return user_id


@dataclass(frozen=True, slots=True)
class GoogleOAuth:
    client_id: str
    client_secret: str = field(repr=False)
    authorize_page: str  # https://accounts.google.com/o/oauth2/v2/auth
    token_url: str  # https://oauth2.googleapis.com/token
    api_base: str  # https://www.googleapis.com/youtube/v3
    redirect_uri: str  # PUBLIC_BASE_URL/auth/google/callback

    def _oauth(self) -> AsyncOAuth2Client:
        # youtube.readonly: enough to read which channel is theirs
        return client(self.client_id, self.client_secret, self.redirect_uri, YOUTUBE_READONLY)

    def authorize_url(self, state: str) -> str:
        # access_type online: no refresh token, the token is used once
        url, _ = self._oauth().create_authorization_url(
            self.authorize_page, state=state, access_type="online"
        )
        return str(url)

    async def channel_id(self, code: str) -> str:
        """The YouTube channel of the Google account the code stands for."""
        async with self._oauth() as oauth:
            try:
                r = await signed_get(
                    oauth,
                    self.token_url,
                    code,
                    f"{self.api_base.rstrip('/')}/channels",
                    {"part": "id", "mine": "true"},
                    {},
                    "Google",
                )
            except httpx2.HTTPError:
                raise OAuthFailed("Google could not be reached: try again") from None
        answer = json_of(r)
        if r.status_code != 200:
            raise OAuthFailed("YouTube did not tell which channel signed in")
        items = answer.get("items")
        first = items[0] if isinstance(items, list) and items else {}
        channel = str(first.get("id", "")) if isinstance(first, dict) else ""
        if not channel:
            raise OAuthFailed(
                "this Google account has no YouTube channel: sign in with the one you chat with"
            )
        if len(channel) > 64:
            raise OAuthFailed("YouTube's answer has no channel id")
        return channel
