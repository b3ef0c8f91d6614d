"""`python -m webhooks.devtools.emulator --port N --webhook-url URL`: the Stripe test emulator
in a process of its own, mounted at /stripe-emulator as in local mode (the chat benchmark's
Stripe, so that its work is not the product's). The API key and the webhook secret come from
the environment (EMULATOR_API_KEY, EMULATOR_WEBHOOK_SECRET). GET /calls counts the API
requests by method and route."""

import argparse
import os
from collections import Counter

from aiohttp import web

from webhooks.devtools.emulator.app import WATCHERS, ApiRequest, create_emulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--webhook-url", required=True)
    args = parser.parse_args()
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
            webhook_secret=os.environ["EMULATOR_WEBHOOK_SECRET"],
            api_key=os.environ["EMULATOR_API_KEY"],
        ),
    )
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
