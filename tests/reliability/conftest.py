"""The reliability catalogue's tests (docs/reliability-catalogue.md, `make reliability`).

Fixtures shared by every section live in tests/conftest.py (`database_url`, the Stripe
contract); those of several sections here; a section's own ones in its test file.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView
from tests.conftest import test_settings
from tests.e2e.conftest import stripe  # noqa: F401 (the built-in emulator on its own server)
from tests.e2e.stripe_signing import SECRET
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, start_drop
from tests.integration.test_payment_events import won_order
from webhooks.app import create_app


@pytest.fixture
def payments(bus: MessageBus) -> FakePaymentGateway:
    gateway = FakePaymentGateway()
    bus.deps.payments = gateway
    return gateway


@pytest.fixture
async def order(bus: MessageBus, payments: FakePaymentGateway) -> OrderView:
    """Two tees (50.00 EUR) of a drop of three, their pay link opened: a session exists."""
    await add_product(bus)
    await start_drop(bus, quantity=3, hold=timedelta(minutes=5))
    return await won_order(bus, quantity=2)


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    """The whole app on the fake gateway, its webhooks signed with the tests' secret."""
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        notifier=notifier,
        payments=FakePaymentGateway(),
        webhook_secret=SECRET,
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        yield client
