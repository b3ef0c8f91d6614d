"""Security headers on every response of the service.

Set from `on_response_prepare` rather than a middleware: that signal runs for every response
just before its headers go out, including responses raised as exceptions (redirects, 4xx),
static files and live streams, which a middleware sees too late or not at all.

Every HTML page gets a Content-Security-Policy whose scripts come from this server only (no
inline code, no `unsafe-inline`) and that no other site may frame, except the web chat room
(`/chat/<room>`), which shops embed in their own pages. The local Stripe emulator's pages, a
developer tool mounted only without Stripe keys, keep their inline scripts. Images may come
from any https address: a product's picture may be given as one (`--image https://…`).
"""

import re

from aiohttp import web

from webhooks.payments import EMULATOR_PREFIX

COMMON_CSP = _COMMON = (
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: https:;"
    " object-src 'none'; base-uri 'none'"
)
CSP = f"{_COMMON}; script-src 'self'; form-action 'self'; frame-ancestors 'none'"
CSP_EMBEDDABLE = f"{_COMMON}; script-src 'self'; form-action 'self'; frame-ancestors *"
CSP_EMULATOR = f"{_COMMON}; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
EMBEDDABLE = re.compile(r"^/chat/[^/]+/?$")  # a web chat room's page


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if response.content_type != "text/html":
        return
    if EMBEDDABLE.match(request.path):
        headers.setdefault("Content-Security-Policy", CSP_EMBEDDABLE)
        return
    if request.path.startswith(EMULATOR_PREFIX + "/"):
        headers.setdefault("Content-Security-Policy", CSP_EMULATOR)
    else:
        headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")  # browsers that predate frame-ancestors


def install(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
