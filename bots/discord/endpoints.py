"""The one place that points discord.py at other endpoints (a test server, a proxy).

discord.py has no setting for them: REST requests (and interaction callbacks and follow-ups,
which use the same `Route`) are built from the class attribute `discord.http.Route.BASE`, and
the gateway is `DiscordWebSocket.DEFAULT_GATEWAY` (discord.py 2.7 connects there without
asking `GET /gateway/bot`; a resume goes to READY's `resume_gateway_url`). Both are process-wide,
so they are changed only when the settings differ from Discord's defaults.
"""

import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

DEFAULT_API = "https://discord.com/api/v10"
DEFAULT_GATEWAY = "wss://gateway.discord.gg"


def use_endpoints(api_base_url: str, gateway_url: str) -> None:
    api = api_base_url.rstrip("/")
    if api != DEFAULT_API:
        Route.BASE = api
    if gateway_url.rstrip("/") != DEFAULT_GATEWAY:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
