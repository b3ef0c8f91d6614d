"""Stripe calls made in the background back off, and give up on a refusal: the real gateway
(the stripe library) against a fake Stripe HTTP server that counts what it receives, the
retry state kept on the order in the database (SQLite and PostgreSQL)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import Renderer
from commerce.adapters.stripe_gateway import StripePaymentGateway
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.orders import HOLDING, OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderView, PaymentProblem, PaymentStopped
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.helpers import add_product, buy, start_drop

S = OrderStatus
PI = "pi_test_delayed"


@dataclass
class FakeStripe:
    """Answers GET /v1/payment_intents/<id> with the next scripted answer (the last one
    repeats), counting every request."""

    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: int = 0

    async def intent(self, request: web.Request) -> web.Response:
        self.requests += 1
        status, headers = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
        if status == 200:
            body: dict[str, Any] = {
                "id": request.match_info["id"],
                "object": "payment_intent",
                "status": "processing",
                "amount": 2500,
                "currency": "eur",
                "metadata": {},
            }
        else:
            kind = "rate_limit_error" if status == 429 else "invalid_request_error"
            if status >= 500:
                kind = "api_error"
            body = {"error": {"type": kind, "message": f"Refused with {status}, for the test."}}
        return web.json_response(body, status=status, headers=headers)


@dataclass
class Shop:
    bus: MessageBus
    stripe: FakeStripe
    clock: FakeClock
    notifier: FakeNotifier

    async def pending_order(self) -> OrderView:
        """An order whose delayed payment is under way (a charge answered processing)."""
        await add_product(self.bus)
        await start_drop(self.bus)
        result = await buy(self.bus, "web:anna")
        assert result.order is not None
        ledger = self.bus.deps.ledger
        assert ledger is not None
        await ledger.await_async_payment(result.order.ref, PI, self.clock.now())
        return await self.bus.deps.store.order(result.order.ref)

    async def sweeps(self, count: int, every: timedelta) -> list[str]:
        """`count` reconciliation passes, `every` apart; what they reported."""
        reported = []
        for _ in range(count):
            reported += await self.bus.handle(c.Reconcile())
            self.clock.advance(seconds=every.total_seconds())
        return reported


@pytest.fixture
async def shop(
    database_url: str, engine: AsyncEngine, clock: FakeClock, notifier: FakeNotifier
) -> AsyncIterator[Shop]:
    stripe = FakeStripe()
    app = web.Application()
    app.router.add_get("/v1/payment_intents/{id}", stripe.intent)
    async with TestServer(app, host="127.0.0.1") as server:
        base = str(server.make_url("")).rstrip("/")
        # No retries inside one call: every request the server counts is one of ours.
        gateway = StripePaymentGateway("sk_test_fake", base, base, network_retries=0)
        bus = bootstrap(
            test_settings(database_url), engine, clock=clock, notifier=notifier, payments=gateway
        )
        yield Shop(bus, stripe, clock, notifier)
        await bus.deps.store.close()
        await gateway.close()


async def test_a_refusal_is_sent_once_however_often_reconciliation_runs(shop: Shop) -> None:
    shop.stripe.answers = [(400, {})]
    order = await shop.pending_order()
    reported = await shop.sweeps(50, timedelta(minutes=10))
    assert shop.stripe.requests == 1  # never once per pass
    assert reported == [
        f"{order.ref}: reconcile refused (Refused with 400, for the test.): order needs review"
    ]
    reviewed = await shop.bus.deps.store.order(order.ref)
    assert reviewed.status is S.NEEDS_REVIEW
    history = await shop.bus.deps.store.history(order.ref)
    assert (history[-1].to_status, history[-1].cause) == (
        "needs_review",
        "reconcile:refused:400: Refused with 400, for the test.",
    )
    # The buyer is told the shop will get back to them, once.
    [notice] = shop.notifier.of(PaymentStopped)
    assert isinstance(notice, PaymentStopped) and notice.problem is PaymentProblem.REVIEW
    for language, words in (("en", "get back to you"), ("de", "meldet sich"), ("fr", "revenir")):
        text = Renderer(language).notice(notice, "@anna").private
        assert text is not None and order.ref in text and words in text


async def test_should_retry_false_is_not_retried(shop: Shop) -> None:
    """A 500 is tried again, unless Stripe says not to."""
    shop.stripe.answers = [(500, {"Stripe-Should-Retry": "false"})]
    order = await shop.pending_order()
    await shop.sweeps(30, timedelta(minutes=10))
    assert shop.stripe.requests == 1
    assert (await shop.bus.deps.store.order(order.ref)).status is S.NEEDS_REVIEW


async def test_a_429_is_asked_again_after_its_retry_after(shop: Shop) -> None:
    shop.stripe.answers = [(429, {"Retry-After": "300"}), (200, {})]
    order = await shop.pending_order()
    assert await shop.sweeps(1, timedelta(seconds=0)) == [
        f"{order.ref}: could not ask the payment provider (Refused with 429, for the test.)"
    ]
    # Longer than the backoff's own first wait (at most 30 s), shorter than Retry-After.
    assert await shop.sweeps(29, timedelta(seconds=10)) == []
    assert shop.stripe.requests == 1
    shop.clock.advance(seconds=11)  # 300 s since the 429
    assert await shop.sweeps(1, timedelta(seconds=0)) == []  # asked: still processing
    assert shop.stripe.requests == 2
    # Answered: the next pass asks at once again (the backoff starts anew).
    await shop.sweeps(1, timedelta(seconds=0))
    assert shop.stripe.requests == 3
    assert (await shop.bus.deps.store.order(order.ref)).status in HOLDING


async def test_errors_worth_retrying_back_off_exponentially(shop: Shop) -> None:
    """Stripe down (503) for an hour, reconciliation every 10 s: a handful of requests,
    spaced ever further apart, and the order still waits for its payment."""
    shop.stripe.answers = [(503, {})]
    order = await shop.pending_order()
    await shop.sweeps(360, timedelta(seconds=10))
    # 30 s, 1, 2, 4, 8, 16, 30 min (with jitter, each at least half): at most about ten.
    assert 5 <= shop.stripe.requests <= 11
    assert (await shop.bus.deps.store.order(order.ref)).status in HOLDING
    assert shop.notifier.of(PaymentStopped) == []
