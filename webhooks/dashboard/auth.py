"""Dashboard sign-in: the admin token once, then a session cookie; a CSRF token per session.

The cookie carries a random nonce and its HMAC under the admin token, so changing the token
signs everybody out, and the server keeps no session table. Forms and scripted requests send
the CSRF token (an HMAC of the nonce) in a `csrf` field or an `X-CSRF-Token` header.
"""

import hashlib
import hmac
import secrets

from aiohttp import web

COOKIE = "livebuy_admin"


def _mac(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def right_token(token: str, given: str) -> bool:
    return hmac.compare_digest(token.encode(), given.encode())


def new_session(token: str) -> str:
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{_mac(token, 'session:' + nonce)}"


def session_of(request: web.Request, token: str) -> str | None:
    """The session nonce of a signed-in request, else None."""
    nonce, _, mac = request.cookies.get(COOKIE, "").partition(".")
    if nonce and hmac.compare_digest(mac.encode(), _mac(token, "session:" + nonce).encode()):
        return nonce
    return None


def csrf_token(token: str, nonce: str) -> str:
    return _mac(token, "csrf:" + nonce)


def csrf_ok(token: str, nonce: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(token, nonce).encode(), given.encode())
