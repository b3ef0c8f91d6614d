"""Sign in with Discord: OAuth2's authorization code grant with the `identify` scope
(https://discord.com/developers/docs/topics/oauth2#authorization-code-grant).

Two requests (the code for a token, the token for the user) over aiohttp, written before
authlib came in for the Twitch and Google sign-ins (webhooks.signin.stream_oauth); moving this
one to authlib's client as well is left to do. The client secret is sent with HTTP Basic
authentication (RFC 6749 2.3.1, which Discord accepts) and never logged.
"""

import base64
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote_plus, urlencode

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=15)


class OAuthFailed(Exception):
    """The provider did not give us the user (a bad or used code, the provider down); the
    Twitch and Google sign-ins (webhooks.signin.stream_oauth) raise it too."""


@dataclass(frozen=True, slots=True)
class DiscordOAuth:
    client_id: str
    client_secret: str = field(repr=False)  # never in a log or a traceback's locals
    oauth_base: str  # https://discord.com: /oauth2/authorize and /api/oauth2/token
    api_base: str  # https://discord.com/api/v10: /users/@me
    redirect_uri: str  # PUBLIC_BASE_URL/auth/discord/callback

    def authorize_url(self, state: str) -> str:
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "scope": "identify",
            "state": state,
            "redirect_uri": self.redirect_uri,
            "prompt": "none",  # asked once; later sign-ins skip the consent screen
        }
        return f"{self.oauth_base.rstrip('/')}/oauth2/authorize?{urlencode(query)}"

    async def user_id(self, code: str) -> str:
        """The Discord user id the authorization code stands for."""
        token_url = f"{self.oauth_base.rstrip('/')}/api/oauth2/token"
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
        }
        # RFC 6749 2.3.1: id and secret form-encoded, then Basic.
        pair = f"{quote_plus(self.client_id)}:{quote_plus(self.client_secret)}"
        auth = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            try:
                async with http.post(token_url, data=form, headers=auth) as response:
                    answer = await _json(response)
                    if response.status != 200 or not isinstance(answer.get("access_token"), str):
                        raise OAuthFailed(f"Discord refused the sign-in ({answer.get('error')})")
                    if "identify" not in str(answer.get("scope", "")).split():
                        raise OAuthFailed("Discord did not grant the identify scope")
                    token = answer["access_token"]
                me = f"{self.api_base.rstrip('/')}/users/@me"
                headers = {"Authorization": f"Bearer {token}"}
                async with http.get(me, headers=headers) as response:
                    user = await _json(response)
                    if response.status != 200:
                        raise OAuthFailed("Discord did not tell who signed in")
            except (aiohttp.ClientError, TimeoutError):
                raise OAuthFailed("Discord could not be reached: try again") from None
        user_id = str(user.get("id", ""))
        if not user_id.isdigit() or len(user_id) > 20:
            raise OAuthFailed("Discord's answer has no user id")
        return user_id


async def _json(response: aiohttp.ClientResponse) -> dict[str, object]:
    try:
        data = await response.json(content_type=None)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def new_state() -> str:
    return secrets.token_urlsafe(24)
