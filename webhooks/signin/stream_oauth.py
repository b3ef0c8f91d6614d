"""Sign in with Twitch or with Google (for YouTube): OAuth2's authorization code grant, as for
Discord (webhooks.signin.discord_oauth, whose helpers these share), for the buyer who opens
their public /p/ link.

- Twitch (https://dev.twitch.tv/docs/authentication/getting-tokens-oauth/#authorization-code-
  grant-flow): TWITCH_OAUTH_BASE_URL/oauth2/authorize with scope `openid`; the code for a user
  token at /oauth2/token (client id and secret in the form, as Twitch documents); the user
  id from Helix GET /users with that token and the Client-Id header.
- Google (https://developers.google.com/identity/protocols/oauth2/web-server): the authorize
  page YOUTUBE_OAUTH_AUTHORIZE_URL with scope youtube.readonly, the code for a token at
  YOUTUBE_OAUTH_TOKEN_URL, and the person's channel id from the Data API's
  GET /channels?part=id&mine=true.

Tokens and the client secrets are used once and never logged nor kept.
"""

from dataclasses import dataclass, field
from urllib.parse import urlencode

import aiohttp

from webhooks.signin.discord_oauth import TIMEOUT, OAuthFailed, _json

YOUTUBE_READONLY = "https://www.googleapis.com/auth/youtube.readonly"


async def _code_for_token(
    http: aiohttp.ClientSession, url: str, form: dict[str, str], provider: str
) -> str:
    """RFC 6749 4.1.3: the form-encoded code for an access token."""
    async with http.post(url, data=form) as response:
        answer = await _json(response)
        token = answer.get("access_token")
        if response.status != 200 or not isinstance(token, str) or not token:
            raise OAuthFailed(f"{provider} refused the sign-in ({answer.get('error')})")
        return token


@dataclass(frozen=True, slots=True)
class TwitchOAuth:
    client_id: str
    client_secret: str = field(repr=False)  # never in a log or a traceback's locals
    oauth_base: str  # https://id.twitch.tv
    api_base: str  # https://api.twitch.tv/helix
    redirect_uri: str  # PUBLIC_BASE_URL/auth/twitch/callback

    def authorize_url(self, state: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid",  # who the person is; no right over their account
            "state": state,
        }
        return f"{self.oauth_base.rstrip('/')}/oauth2/authorize?{urlencode(query)}"

    async def user_id(self, code: str) -> str:
        """The Twitch user id the authorization code stands for."""
        form = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": self.redirect_uri,
        }
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            try:
                token_url = f"{self.oauth_base.rstrip('/')}/oauth2/token"
                token = await _code_for_token(http, token_url, form, "Twitch")
                headers = {"Authorization": f"Bearer {token}", "Client-Id": self.client_id}
                async with http.get(f"{self.api_base.rstrip('/')}/users", headers=headers) as r:
                    answer = await _json(r)
                    if r.status != 200:
                        raise OAuthFailed("Twitch did not tell who signed in")
            except (aiohttp.ClientError, TimeoutError):
                raise OAuthFailed("Twitch could not be reached: try again") from None
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

    def authorize_url(self, state: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": YOUTUBE_READONLY,  # enough to read which channel is theirs
            "state": state,
            "access_type": "online",  # no refresh token: the token is used once
        }
        return f"{self.authorize_page}?{urlencode(query)}"

    async def channel_id(self, code: str) -> str:
        """The YouTube channel of the Google account the code stands for."""
        form = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "code": code,
            "grant_type": "authorization_code",
            "redirect_uri": self.redirect_uri,
        }
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            try:
                token = await _code_for_token(http, self.token_url, form, "Google")
                url = f"{self.api_base.rstrip('/')}/channels"
                params = {"part": "id", "mine": "true"}
                headers = {"Authorization": f"Bearer {token}"}
                async with http.get(url, params=params, headers=headers) as r:
                    answer = await _json(r)
                    if r.status != 200:
                        raise OAuthFailed("YouTube did not tell which channel signed in")
            except (aiohttp.ClientError, TimeoutError):
                raise OAuthFailed("Google could not be reached: try again") from None
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
