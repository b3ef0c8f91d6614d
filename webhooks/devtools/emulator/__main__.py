"""`python -m webhooks.devtools.emulator --port N --webhook-url URL`: the Stripe test emulator
in a process of its own, mounted at /stripe-emulator as in local mode (the chat benchmark's
Stripe, so that its work is not the product's). The API key and the webhook secret come from
the environment through the settings, as everywhere (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET:
the ones the emulator accepts and signs with). GET /calls counts the API requests by method
and route."""

import argparse
from collections import Counter

from aiohttp import web

from commerce.config import Settings
from webhooks.devtools.emulator.app import WATCHERS, ApiRequest, create_emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--webhook-url", required=True)
    args = parser.parse_args()
    settings = Settings()
    if settings.stripe_secret_key is None or settings.stripe_webhook_secret is None:
        parser.error("set STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET for the emulator to accept")
    base = f"http://127.0.0.1:{args.port}"
    calls: Counter[str] = Counter()

    def count(request: ApiRequest) -> None:
        calls[f"{request.method} {request.route}"] += 1

    WATCHERS.append(count)

    async def counted(request: web.Request) -> web.Response:
        return web.json_response(dict(calls))

    app = web.Application()
    app.router.add_get("/calls", counted)
    app.add_subapp(
        "/stripe-emulator",
        create_emulator(
            public_base_url=base,
            webhook_url=args.webhook_url,
            webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
            api_key=settings.stripe_secret_key.get_secret_value(),
        ),
    )
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
