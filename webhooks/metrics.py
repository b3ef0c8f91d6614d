"""GET /metrics in the Prometheus text format.

Two kinds of figures: what the database says (claims by result, orders by state, outbox depth
and age, who holds each singleton), the same whichever worker is scraped; and what this
process measured (webhook and checkout latency, 429s per platform), per worker as Prometheus
expects. Each app has its own registry: no global state, so tests can run several apps.
"""

import hmac
import time
from collections.abc import Iterator
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.sql import utc
from commerce.domain.money import Money
from commerce.domain.payments import Payer, PaymentEvent
from commerce.service_layer.outbox import Courier
from commerce.service_layer.ports import (
    Charge,
    ChargeRequest,
    CheckoutRequest,
    CheckoutSession,
    PaymentGateway,
    PaymentState,
    SavedCard,
    SessionState,
)
from webhooks.keys import BUS, ENGINE, SETTINGS
from webhooks.peers import from_loopback

CONTENT_TYPE = "text/plain; version=0.0.4"


class Metrics:
    """This process's instruments."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhook_seconds = Histogram(
            "livebuy_webhook_seconds",
            "Time to verify, store and apply a Stripe webhook.",
            registry=self.registry,
        )
        self.checkout_seconds = Histogram(
            "livebuy_checkout_seconds",
            "Time to open a Stripe Checkout session.",
            registry=self.registry,
        )
        self.couriers: list[Courier] = []  # the chat platforms' outbox couriers


METRICS = web.AppKey("metrics", Metrics)


class TimedGateway:
    """The payment gateway with its checkout latency measured (everything else passes)."""

    def __init__(self, inner: PaymentGateway, metrics: Metrics) -> None:
        self.inner, self.metrics = inner, metrics

    async def open_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        started = time.perf_counter()
        try:
            return await self.inner.open_checkout(request)
        finally:
            self.metrics.checkout_seconds.observe(time.perf_counter() - started)

    async def expire_checkout(self, session_id: str) -> None:
        await self.inner.expire_checkout(session_id)

    async def refund(self, payment_intent: str, amount: Money | None, key: str) -> str:
        return await self.inner.refund(payment_intent, amount, key)

    async def session_state(self, session_id: str) -> SessionState:
        return await self.inner.session_state(session_id)

    async def payment_state(self, payment_intent: str) -> PaymentState:
        return await self.inner.payment_state(payment_intent)

    async def missed_events(self, since: datetime) -> list[tuple[PaymentEvent, str]]:
        return await self.inner.missed_events(since)

    async def completed_sessions(self, since: datetime) -> list[str]:
        return await self.inner.completed_sessions(since)

    async def open_card_setup(
        self, identity: str, customer: str | None, locale: str = "en"
    ) -> CheckoutSession:
        return await self.inner.open_card_setup(identity, customer, locale)

    async def saved_card(
        self, payment_intent: str | None = None, setup_intent: str | None = None
    ) -> SavedCard | None:
        return await self.inner.saved_card(payment_intent, setup_intent)

    async def charge_card(self, request: ChargeRequest) -> Charge:
        return await self.inner.charge_card(request)

    async def detach_card(self, payment_method: str) -> None:
        await self.inner.detach_card(payment_method)

    async def payer(self, payment_intent: str) -> Payer:
        return await self.inner.payer(payment_intent)


async def database_families(engine: AsyncEngine, now: datetime) -> list[Metric]:
    claims = GaugeMetricFamily("livebuy_claims", "Claims by result.", labels=["result"])
    orders = GaugeMetricFamily("livebuy_orders", "Orders by state.", labels=["state"])
    depth = GaugeMetricFamily(
        "livebuy_outbox_pending", "Messages waiting to be sent.", labels=["platform"]
    )
    age = GaugeMetricFamily(
        "livebuy_outbox_oldest_seconds", "Age of the oldest waiting message.", labels=["platform"]
    )
    holder = GaugeMetricFamily(
        "livebuy_singleton_holder", "1 for the worker holding a duty.", labels=["duty", "worker"]
    )
    async with engine.connect() as conn:
        for status, count in await conn.execute(
            text("SELECT status, COUNT(*) FROM claim GROUP BY status")
        ):
            claims.add_metric([status], count)
        for status, count in await conn.execute(
            text("SELECT status, COUNT(*) FROM orders GROUP BY status")
        ):
            orders.add_metric([status], count)
        for platform, count, oldest in await conn.execute(
            text(
                "SELECT platform, COUNT(*), MIN(created_at) FROM outbox WHERE status = 'pending'"
                " GROUP BY platform"
            )
        ):
            depth.add_metric([platform], count)
            age.add_metric([platform], (now - utc(oldest)).total_seconds())
        for name, worker, expires in await conn.execute(
            text("SELECT name, holder, expires_at FROM lease")
        ):
            if utc(expires) > now:
                holder.add_metric([name, worker], 1)
    return [claims, orders, depth, age, holder]


class _Snapshot(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def refusal(request: web.Request) -> web.Response | None:
    """None when the caller may read the metrics: the bearer LIVEBUY_METRICS_TOKEN, or a
    client on this machine. The figures name workers and show the business."""
    token = request.app[SETTINGS].livebuy_metrics_token
    if token is not None:
        given = request.headers.get("Authorization", "").encode()
        if hmac.compare_digest(given, f"Bearer {token.get_secret_value()}".encode()):
            return None
    if from_loopback(request):
        return None
    if token is not None:
        return web.Response(
            status=401,
            text="metrics need Authorization: Bearer LIVEBUY_METRICS_TOKEN",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return web.Response(status=403, text="metrics are read from this machine only")


async def metrics_page(request: web.Request) -> web.Response:
    refused = refusal(request)
    if refused is not None:
        return refused
    metrics = request.app[METRICS]
    now = request.app[BUS].clock.now()
    throttled = GaugeMetricFamily(
        "livebuy_platform_429", "HTTP 429s from chat platforms (this worker).", labels=["platform"]
    )
    for courier in metrics.couriers:
        throttled.add_metric([courier.sender.platform], courier.throttled)
    snapshot = CollectorRegistry()
    snapshot.register(_Snapshot([*await database_families(request.app[ENGINE], now), throttled]))
    body = generate_latest(metrics.registry) + generate_latest(snapshot)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
