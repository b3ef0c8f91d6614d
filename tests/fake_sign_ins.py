"""Fakes of the sign-in providers, speaking their real wire formats.

Discord (https://discord.com/developers/docs/topics/oauth2): the authorize page answers at
once as if the person pressed Authorize (a redirect to redirect_uri with `code` and the
`state` given); POST /api/oauth2/token takes the form-encoded authorization_code grant with
the client's HTTP Basic credentials and answers Discord's JSON token; GET /api/v10/users/@me
takes the Bearer token and answers a user object.

Telegram (https://core.telegram.org/widgets/login): the Login Widget's script, which on
"Log in" sends the browser to the page's data-auth-url with the user's fields, auth_date and
the hash Telegram computes with the bot's token.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

CLIENT_ID = "1234567890123456"
CLIENT_SECRET = "discord-client-secret-xyz"
DISCORD_USER = {
    "id": "80351110224678912",
    "username": "nelly",
    "discriminator": "0",
    "global_name": "Nelly",
    "avatar": None,
}


@dataclass
class FakeDiscord:
    codes: dict[str, str] = field(default_factory=dict)  # code -> redirect_uri
    tokens: set[str] = field(default_factory=set)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/oauth2/authorize", self.authorize)
        app.router.add_post("/api/oauth2/token", self.token)
        app.router.add_get("/api/v10/users/@me", self.me)
        return app

    async def authorize(self, request: web.Request) -> web.Response:
        q = request.query
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            return web.json_response({"error": "invalid_request"}, status=400)
        if "identify" not in q.get("scope", "").split():
            return web.json_response({"error": "invalid_scope"}, status=400)
        code = secrets.token_urlsafe(16)
        self.codes[code] = q["redirect_uri"]
        query = urlencode({"code": code, "state": q.get("state", "")})
        raise web.HTTPFound(f"{q['redirect_uri']}?{query}")

    async def token(self, request: web.Request) -> web.Response:
        if request.content_type != "application/x-www-form-urlencoded":
            return web.json_response({"error": "invalid_request"}, status=400)
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        basic = request.headers.get("Authorization", "")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if basic != f"Basic {expected}":
            return web.json_response({"error": "invalid_client"}, status=401)
        redirect = self.codes.pop(form.get("code", ""), None)  # a code works once
        if (
            form.get("grant_type") != "authorization_code"
            or redirect is None
            or redirect != form.get("redirect_uri")
        ):
            return web.json_response({"error": "invalid_grant"}, status=400)
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 604800,
                "refresh_token": secrets.token_urlsafe(16),
                "scope": "identify",
            }
        )

    async def me(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response(DISCORD_USER)


TELEGRAM_USER = {"id": "424242", "first_name": "Tina", "username": "tina_t"}


def telegram_login(bot_token: str, user: dict[str, str], auth_date: int) -> dict[str, str]:
    """The fields Telegram sends to data-auth-url, hash included."""
    fields = {**user, "auth_date": str(auth_date)}
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hashlib.sha256(bot_token.encode()).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return fields


@dataclass
class FakeTelegramLogin:
    """Serves /js/telegram-widget.js: a "Log in with Telegram" button that goes to the
    widget's data-auth-url with a login signed now (as Telegram's does after you confirm)."""

    bot_token: str
    user: dict[str, Any] = field(default_factory=lambda: dict(TELEGRAM_USER))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/js/telegram-widget.js", self.script)
        return app

    async def script(self, request: web.Request) -> web.Response:
        query = urlencode(telegram_login(self.bot_token, self.user, int(time.time())))
        js = (
            "(function(){const s=document.currentScript;"
            "const b=document.createElement('button');b.id='telegram-login';"
            "b.textContent='Log in with Telegram as @'+" + json.dumps(self.user["username"]) + ";"
            "b.onclick=()=>{location.href=s.dataset.authUrl+'?'+" + json.dumps(query) + "};"
            "s.after(b);})();"
        )
        return web.Response(text=js, content_type="text/javascript")
