"""Pay links that never go stale: a claim's answer carries the shop's own link, the provider's
checkout is made only when a buyer opens it (once), and a late or broken visit is told what
happened instead of landing on a dead page."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.commands import ChatMessage, ExpireHolds, ListOrders, SettlePayment
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import PaymentError
from commerce.service_layer.results import OrderView
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakePaymentGateway
from tests.integration.helpers import add_product, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS

CLAIMS = 1000


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock, payments: FakePaymentGateway
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        payments=payments,
        webhook_secret="whsec_x",
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.fixture
def payments() -> FakePaymentGateway:
    return FakePaymentGateway()


def path(order: OrderView) -> str:
    """The pay link as the server sees it (its host is PUBLIC_BASE_URL's)."""
    assert order.checkout_url is not None
    link = urlsplit(order.checkout_url)
    return f"{link.path}?{link.query}"


async def claim(bus: MessageBus, who: str) -> OrderView:
    outcome = await bus.handle(ChatMessage(f"web:demo:{who}", "web:demo", who, "#buy", who))
    assert isinstance(outcome, chat.Claimed) and outcome.result.order is not None
    return outcome.result.order


async def test_a_thousand_claims_call_the_provider_only_for_links_opened(
    shop: TestClient,  # type: ignore[type-arg]
    payments: FakePaymentGateway,
) -> None:
    bus: MessageBus = shop.server.app[BUS]
    await add_product(bus, stock=CLAIMS)
    await start_drop(bus, quantity=CLAIMS, limit=1)
    gate = asyncio.Semaphore(50)

    async def one(n: int) -> OrderView:
        async with gate:
            return await claim(bus, f"web:buyer{n}")

    orders = await asyncio.gather(*(one(n) for n in range(CLAIMS)))
    assert len({o.ref for o in orders}) == CLAIMS
    assert all(o.status is OrderStatus.CHECKOUT_OPEN and o.checkout_url for o in orders)
    assert payments.opened == [] and payments.expired == []  # not one provider call

    # Two buyers open their links, one of them twice, and a third at once five times.
    first, second, third = orders[:3]
    for order in (first, first, second):
        opened = await shop.get(path(order), allow_redirects=False)
        assert opened.status == 303
        assert opened.headers["Location"] == f"https://checkout.test/{order.ref}"
    taps = await asyncio.gather(*(shop.get(path(third), allow_redirects=False) for _ in range(5)))
    assert {t.status for t in taps} == {303}
    assert [r.order_ref for r in payments.opened].count(first.ref) == 1
    assert {r.order_ref for r in payments.opened} == {first.ref, second.ref, third.ref}
    # /orders shows every unpaid order's link.
    [listed] = await bus.handle(ListOrders(identity=first.identity))
    assert listed.checkout_url == first.checkout_url


async def test_a_link_is_never_a_dead_end(
    shop: TestClient,  # type: ignore[type-arg]
    payments: FakePaymentGateway,
    clock: FakeClock,
) -> None:
    bus: MessageBus = shop.server.app[BUS]
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=5, hold=timedelta(minutes=10))
    paid, lapsed, unlucky, refused = [await claim(bus, f"web:{n}") for n in "abcd"]

    forged = path(paid).replace("?t=", "?t=x")
    assert (await shop.get(forged)).status == 404
    assert (await shop.get(f"/pay/NOPE1234?t={path(paid).split('t=')[1]}")).status == 404

    await bus.handle(SettlePayment(paid.ref, "pi_a", "evt_a"))
    page = await shop.get(path(paid))
    assert page.status == 200 and "paid already" in await page.text()

    payments.down = True  # the provider cannot be reached: try again, the hold still runs
    page = await shop.get(path(unlucky))
    assert page.status == 503 and page.headers["Retry-After"] == "60"
    assert "open this link again" in await page.text()
    payments.down = False
    assert (await shop.get(path(unlucky), allow_redirects=False)).status == 303

    # The provider refuses the checkout (a 400): sent once, then the shop looks into it.
    payments.failure = PaymentError("No such price", status=400)
    page = await shop.get(path(refused))
    assert page.status == 409 and "will get back to you" in await page.text()
    payments.failure = None
    calls = len(payments.opened)
    assert (await shop.get(path(refused))).status == 409  # not asked again
    assert len(payments.opened) == calls
    assert (await bus.deps.store.order(refused.ref)).status is OrderStatus.NEEDS_REVIEW

    clock.advance(minutes=11)
    await bus.handle(ExpireHolds())
    page = await shop.get(path(lapsed))
    assert page.status == 410 and "#buy TEE" in await page.text()
