"""GET /metrics: Prometheus text with what the database says and what this worker measured."""

import asyncio
import re
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.commands import ExpireHolds
from tests.conftest import test_settings
from tests.e2e.stripe_signing import SECRET, event_body, session, sign
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS


def value(page: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", page, re.MULTILINE)
    assert match is not None, f"{name} not in /metrics"
    return float(match.group(1))


async def test_metrics_reflect_claims_orders_webhooks_and_duties(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        payments=FakePaymentGateway(),
        webhook_secret=SECRET,
        sweep_every=0.05,
    )
    async with TestClient(TestServer(app)) as client:
        bus = client.server.app[BUS]
        await add_product(bus, stock=5)
        await start_drop(bus, quantity=1)
        paid = await buy(bus, "web:anna")
        await buy(bus, "web:ben")  # waitlisted
        assert paid.order is not None and paid.order.checkout_url is not None
        link = urlsplit(paid.order.checkout_url)  # the buyer opens the pay link: Checkout
        opened = await client.get(f"{link.path}?{link.query}", allow_redirects=False)
        assert opened.status == 303
        body = event_body("evt_1", "checkout.session.completed", session(paid.order.ref, "cs_1"))
        response = await client.post("/webhooks/stripe", data=body,
                                     headers={"Stripe-Signature": sign(body)})  # fmt: skip
        assert response.status == 200
        await bus.handle(ExpireHolds())
        for _ in range(100):  # the sweeper's first round takes the duty
            page = await (await client.get("/metrics")).text()
            if "livebuy_singleton_holder{" in page:
                break
            await asyncio.sleep(0.05)

    assert value(page, 'livebuy_claims{result="won"}') == 1
    assert value(page, 'livebuy_claims{result="waitlisted"}') == 1
    assert value(page, 'livebuy_orders{state="paid"}') == 1
    assert value(page, "livebuy_webhook_seconds_count") == 1
    assert value(page, "livebuy_checkout_seconds_count") == 1  # one link opened
    assert re.search(r'^livebuy_singleton_holder\{duty="sweeper",worker="[^"]+"\} 1\.0$', page,
                     re.MULTILINE)  # fmt: skip
