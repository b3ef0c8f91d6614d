"""What the OAuth sign-ins (Discord, Twitch, Google) share: authlib's OAuth 2 client
(`AsyncOAuth2Client`, on httpx2) for the authorization URL with our state, the code for a
token (RFC 6749 4.1.3) and the one API call that names the person, and `OAuthFailed`."""

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError

TIMEOUT = 15.0


class OAuthFailed(Exception):
    """The provider did not give us the user (a bad or used code, the provider down)."""


def client(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    scope: str,
    secret_in: str = "client_secret_post",  # noqa: S107 (or client_secret_basic: RFC 6749 2.3.1)
) -> AsyncOAuth2Client:
    return AsyncOAuth2Client(
        client_id,
        client_secret,
        token_endpoint_auth_method=secret_in,
        redirect_uri=redirect_uri,
        scope=scope,
        timeout=TIMEOUT,
    )


def _refusal(response: httpx2.Response) -> httpx2.Response:
    """RFC 6749 5.2: a refusal is a 4xx (Twitch's {"status", "message"} has no "error" member,
    which authlib would otherwise take for a token)."""
    if response.status_code != 200:
        error = json_of(response).get("error")  # invalid_grant, ...
        raise OAuthError(error=error if isinstance(error, str) else f"HTTP {response.status_code}")
    return response


async def signed_get(
    client: AsyncOAuth2Client,
    token_url: str,
    code: str,
    url: str,
    params: dict[str, str],
    headers: dict[str, str],
    provider: str,
    granted: str = "",
) -> httpx2.Response:
    """RFC 6749 4.1.3: the form-encoded code for an access token (whose scope must include
    `granted`, when given), then one GET with it."""
    client.register_compliance_hook("access_token_response", _refusal)
    try:
        token = await client.fetch_token(token_url, code=code)
    except OAuthError as exc:
        raise OAuthFailed(f"{provider} refused the sign-in ({exc.error})") from None
    if not token.get("access_token"):
        raise OAuthFailed(f"{provider} refused the sign-in (no access token)")
    if granted and granted not in str(token.get("scope", "")).split():
        raise OAuthFailed(f"{provider} did not grant the {granted} scope")
    response: httpx2.Response = await client.get(url, params=params, headers=headers)
    return response


def json_of(response: httpx2.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
