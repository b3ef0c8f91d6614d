"""G. Outbound Stripe API behaviour (catalogue cases 57-62): the real gateway (the stripe
library over aiohttp) against the built-in emulator behind a server that answers scripted
failures first."""

import gc
import logging
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.stripe_gateway import StripePaymentGateway
from commerce.domain.backoff import Verdict, verdict
from commerce.domain.money import Money
from commerce.domain.orders import HOLDING
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import CheckoutRequest, PaymentError
from tests.conftest import test_settings
from tests.e2e.conftest import free_port
from tests.fakes import FakeClock
from tests.integration import test_stripe_backoff as backoff
from tests.integration.helpers import add_product, buy, start_drop
from webhooks import logs
from webhooks.app import create_app
from webhooks.devtools.emulator import create_emulator
from webhooks.keys import BUS

pytestmark = pytest.mark.reliability

KEY = "sk_test_reliability_" + "k" * 16
shop = backoff.shop  # the background retries' shop: a fake Stripe counting requests


@dataclass
class Flaky:
    """What the server answers first (status, headers), before the emulator answers; every
    request's method, path and Idempotency-Key."""

    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    seen: list[tuple[str, str, str | None]] = field(default_factory=list)

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        self.seen.append((request.method, request.path, request.headers.get("Idempotency-Key")))
        if self.failures:
            status, headers = self.failures.pop(0)
            kind = {409: "idempotency_error", 429: "rate_limit_error"}.get(status, "api_error")
            body = {"error": {"type": kind, "message": f"Scripted {status}."}}
            return web.json_response(body, status=status, headers=headers)
        response: web.StreamResponse = await handler(request)
        return response


@dataclass
class Stripe:
    base: str
    flaky: Flaky
    emulator: web.Application

    def gateway(self, retries: int = 2) -> StripePaymentGateway:
        return StripePaymentGateway(KEY, f"{self.base}/stripe-emulator", self.base, retries)


@pytest.fixture
async def stripe() -> AsyncIterator[Stripe]:
    flaky = Flaky()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = web.Application(middlewares=[flaky.middleware])
    emulator = create_emulator(
        public_base_url=base,
        webhook_url=f"{base}/nowhere",
        webhook_secret="whsec_unused",
        api_key=KEY,
    )
    app.add_subapp("/stripe-emulator", emulator)
    async with TestServer(app, host="127.0.0.1", port=port):
        yield Stripe(base, flaky, emulator)


def checkout(ref: str = "ORDER001") -> CheckoutRequest:
    """A checkout for an order made now (the same request object asks for the same
    session; a new one a second later would be other parameters under the same key)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return CheckoutRequest(
        ref, "TEE", "web:demo", "Tee", Money(2500, "eur"), 1, now + timedelta(minutes=10),
        ordered_at=now,
    )  # fmt: skip


def creates(stripe: Stripe) -> list[str | None]:
    """The Idempotency-Key of every session-create request the server saw."""
    create = ("POST", "/stripe-emulator/v1/checkout/sessions")
    return [k for m, p, k in stripe.flaky.seen if (m, p) == create]


async def test_c057_a_500_then_200_is_retried_with_the_same_key_into_one_session(
    stripe: Stripe,
) -> None:
    gateway = stripe.gateway(retries=2)
    try:
        stripe.flaky.failures = [(500, {})]
        request = checkout()
        session = await gateway.open_checkout(request)
        keys = creates(stripe)
        assert len(keys) == 2 and keys[0] == keys[1] == "checkout-ORDER001"
        # Asked again for the same order (a caller's retry): the same session, not a second.
        again = await gateway.open_checkout(request)
        assert again.id == session.id
    finally:
        await gateway.close()


async def test_c058_a_409_is_retried_and_should_retry_false_is_not(stripe: Stripe) -> None:
    gateway = stripe.gateway(retries=2)
    try:
        stripe.flaky.failures = [(409, {})]
        first = await gateway.open_checkout(checkout("ORDER409"))
        assert len(creates(stripe)) == 2 and first.id
        stripe.flaky.seen.clear()
        stripe.flaky.failures = [(500, {"Stripe-Should-Retry": "false"})]
        with pytest.raises(PaymentError) as refused:
            await gateway.open_checkout(checkout("ORDER500"))
        assert len(creates(stripe)) == 1  # Stripe said not to: asked once
        assert refused.value.should_retry is False
        assert verdict(refused.value.status, refused.value.should_retry) is Verdict.GIVE_UP
    finally:
        await gateway.close()


async def test_c058_background_calls_honour_should_retry_false(shop: backoff.Shop) -> None:
    await backoff.test_should_retry_false_is_not_retried(shop)


async def test_c059_a_429_backs_off_in_the_background(shop: backoff.Shop) -> None:
    await backoff.test_a_429_is_asked_again_after_its_retry_after(shop)


async def pay_link_page(
    database_url: str, engine: AsyncEngine, clock: FakeClock, gateway: StripePaymentGateway
) -> tuple[int, str, str, bool]:
    """A buyer opens their pay link while Stripe misbehaves: the page's status, Retry-After
    and text, and whether the order still holds its unit."""
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        payments=gateway,
        webhook_secret="whsec_x",
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        bus: MessageBus = client.server.app[BUS]
        await add_product(bus)
        await start_drop(bus)
        result = await buy(bus, "web:anna")
        assert result.order is not None and result.order.checkout_url is not None
        link = urlsplit(result.order.checkout_url)
        page = await client.get(f"{link.path}?{link.query}", allow_redirects=False)
        held = (await bus.deps.store.order(result.order.ref)).status in HOLDING
        return page.status, page.headers.get("Retry-After", ""), await page.text(), held


async def test_c059_a_429_tells_the_buyer_to_try_again_without_a_tight_loop(
    stripe: Stripe, database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    stripe.flaky.failures = [(429, {"Retry-After": "2"})] * 5
    gateway = stripe.gateway(retries=2)
    try:
        status, retry_after, text, held = await pay_link_page(database_url, engine, clock, gateway)
    finally:
        await gateway.close()
    assert (status, retry_after) == (503, "60") and "open this link again" in text
    assert held
    assert len(creates(stripe)) <= 3  # at most the library's own bounded retries


async def test_c060_stripe_unreachable_says_payment_unavailable_and_keeps_the_order(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # connection refused
    gateway = StripePaymentGateway(KEY, nowhere, nowhere, network_retries=0)
    try:
        with pytest.raises(PaymentError) as down:
            await gateway.open_checkout(checkout())
        assert down.value.status is None and "cannot be reached" in str(down.value)
        assert verdict(down.value.status, down.value.should_retry) is Verdict.RETRY
        status, _, text, held = await pay_link_page(database_url, engine, clock, gateway)
    finally:
        await gateway.close()
    assert status == 503 and "could not be opened just now" in text and held


async def test_c061_the_stripe_http_client_is_closed_on_shutdown(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> None:
    """The app's gateway (here local mode's, on its own emulator) made requests; once the
    app stopped, nothing is left open (aiohttp warns about an unclosed session when it is
    collected, and the suite turns warnings into errors)."""
    port = free_port()
    settings = test_settings(database_url, public_base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, engine=engine, clock=clock, sweep_every=3600)
    async with TestClient(TestServer(app, host="127.0.0.1", port=port)) as client:
        bus: MessageBus = client.server.app[BUS]
        await add_product(bus)
        await start_drop(bus)
        result = await buy(bus, "web:anna")
        assert result.order is not None and result.order.checkout_url is not None
        link = urlsplit(result.order.checkout_url)
        opened = await client.get(f"{link.path}?{link.query}", allow_redirects=False)
        assert opened.status == 303  # the app's gateway made a Checkout Session
    del app, client
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []


async def test_c062_secret_keys_never_reach_the_logs(
    stripe: Stripe, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stripe_logger = logging.getLogger("stripe")
    try:
        settings = test_settings("sqlite://", stripe_secret_key=KEY)
        logs.configure(settings, as_json=True)
        stripe_logger.setLevel(logging.DEBUG)
        gateway = stripe.gateway(retries=1)
        try:
            stripe.flaky.failures = [(500, {})]
            await gateway.open_checkout(checkout())
            wrong_key = "sk_test_" + "w" * 30
            wrong = StripePaymentGateway(wrong_key, f"{stripe.base}/stripe-emulator", "x", 0)
            with pytest.raises(PaymentError):
                await wrong.open_checkout(checkout("WRONG001"))
            await wrong.close()
        finally:
            await gateway.close()
        logging.getLogger("livebuy.test").warning("configured key %s", KEY)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        stripe_logger.setLevel(logging.NOTSET)
    written = capsys.readouterr().err
    assert "Request to Stripe api" in written or "stripe" in written  # the library did log
    assert "configured key ***" in written
    assert KEY not in written and "Bearer" not in written
