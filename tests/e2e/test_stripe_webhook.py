"""POST /webhooks/stripe under abuse: every case ends in the right state and HTTP status."""

import asyncio
import io
import random
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.orders import OrderStatus
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import Notice, OrderPaid, OrderView
from tests.conftest import test_settings
from tests.e2e.stripe_signing import SECRET, charge, event_body, session, sign
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop
from webhooks import stripe as stripe_routes
from webhooks.app import create_app
from webhooks.keys import BUS

S = OrderStatus


class FlakyNotifier(FakeNotifier):
    """Fails the first `failures` notices, as a crash in the middle of processing would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def notify(self, notice: Notice) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("notifier down")
        await super().notify(notice)


@pytest.fixture
def flaky() -> FlakyNotifier:
    return FlakyNotifier(0)


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock, flaky: FlakyNotifier
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        notifier=flaky,
        payments=FakePaymentGateway(),
        webhook_secret=SECRET,
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        yield client


def bus_of(client: TestClient) -> MessageBus:  # type: ignore[type-arg]
    return client.server.app[BUS]


@pytest.fixture
async def order(client: TestClient) -> OrderView:  # type: ignore[type-arg]
    bus = bus_of(client)
    await add_product(bus)
    await start_drop(bus, quantity=2)
    result = await buy(bus, "web:anna")
    assert result.order is not None
    return result.order


async def post(client: TestClient, body: bytes, header: str | None = None) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    response = await client.post("/webhooks/stripe", data=body, headers=headers)
    return response.status, await response.json()


async def status(client: TestClient, order: OrderView) -> S:  # type: ignore[type-arg]
    return (await bus_of(client).deps.store.order(order.ref)).status


def completed(order: OrderView, n: int = 1) -> bytes:
    return event_body(
        f"evt_done_{order.ref}_{n}",
        "checkout.session.completed",
        session(order.ref, f"cs_{order.ref}"),
    )


async def test_signed_completion_pays_the_order(client: TestClient, order: OrderView) -> None:  # type: ignore[type-arg]
    body = completed(order)
    code, reply = await post(client, body, sign(body))
    assert (code, reply) == (200, {"received": True})
    assert await status(client, order) is S.PAID


@pytest.mark.parametrize(
    "case",
    ["missing header", "wrong secret", "tampered body", "too old", "garbage header"],
)
async def test_unsigned_or_badly_signed_bodies_are_refused(
    client: TestClient,
    order: OrderView,
    case: str,  # type: ignore[type-arg]
) -> None:
    body = completed(order)
    header = {
        "missing header": None,
        "wrong secret": sign(body, "whsec_other"),
        "tampered body": sign(body),
        "too old": sign(body, at=int(time.time()) - 301),
        "garbage header": "t=abc,v1=zzz",
    }[case]
    if case == "tampered body":
        body = body.replace(b'"paid"', b'"paid" ')
    code, reply = await post(client, body, header)
    assert code == 400 and "error" in reply
    assert await status(client, order) is S.CHECKOUT_OPEN
    assert (
        await bus_of(client).deps.ledger.pending_events(  # type: ignore[union-attr]
            bus_of(client).deps.clock.now()
        )
        == []
    )  # nothing was written


async def test_malformed_json_and_non_events(client: TestClient) -> None:  # type: ignore[type-arg]
    for body in (b"{not json", b"[1, 2]", b'{"no": "id"}'):
        code, _ = await post(client, body, sign(body))
        assert code == 400


async def test_oversized_body(client: TestClient) -> None:  # type: ignore[type-arg]
    body = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    code = (
        await client.post(
            "/webhooks/stripe", data=io.BytesIO(body), headers={"Stripe-Signature": sign(body)}
        )
    ).status
    assert code == 413


async def test_unknown_event_types_are_acknowledged(client: TestClient) -> None:  # type: ignore[type-arg]
    body = event_body("evt_other", "customer.created", {"id": "cus_1", "object": "customer"})
    code, _ = await post(client, body, sign(body))
    assert code == 200


async def test_the_same_event_five_times(client: TestClient, order: OrderView) -> None:  # type: ignore[type-arg]
    body = completed(order)
    replies = [await post(client, body, sign(body)) for _ in range(5)]
    assert [r[0] for r in replies] == [200] * 5
    assert [r[1].get("duplicate", False) for r in replies] == [False] + [True] * 4
    history = await bus_of(client).deps.store.history(order.ref)
    assert [e.to_status for e in history].count("paid") == 1


async def test_ten_concurrent_deliveries(client: TestClient, order: OrderView) -> None:  # type: ignore[type-arg]
    body = completed(order)
    replies = await asyncio.gather(*(post(client, body, sign(body)) for _ in range(10)))
    assert {code for code, _ in replies} == {200}
    history = await bus_of(client).deps.store.history(order.ref)
    assert [e.to_status for e in history].count("paid") == 1


async def test_shuffled_events_end_in_the_same_state(client: TestClient, order: OrderView) -> None:  # type: ignore[type-arg]
    bodies = [
        completed(order),
        event_body("evt_r1", "charge.refunded", charge(order.ref, 2500, 1000)),
        event_body("evt_r2", "charge.refunded", charge(order.ref, 2500, 2500)),
        event_body(
            "evt_exp", "checkout.session.expired", session(order.ref, f"cs_{order.ref}", False)
        ),
    ]
    random.Random(3).shuffle(bodies)
    for body in bodies:
        assert (await post(client, body, sign(body)))[0] == 200
    assert await status(client, order) is S.REFUNDED


async def test_processing_error_answers_500_and_the_event_is_kept(
    client: TestClient,
    order: OrderView,
    flaky: FlakyNotifier,  # type: ignore[type-arg]
) -> None:
    flaky.failures = 1  # the paid notice fails once: a crash after the order moved
    body = completed(order)
    code, _ = await post(client, body, sign(body))
    assert code == 500
    bus = bus_of(client)
    assert len(await bus.deps.ledger.pending_events(bus.deps.clock.now())) == 1  # type: ignore[union-attr]
    code, reply = await post(client, body, sign(body))  # Stripe's retry
    assert (code, reply) == (200, {"received": True})
    assert await status(client, order) is S.PAID
    assert await bus.deps.ledger.pending_events(bus.deps.clock.now()) == []  # type: ignore[union-attr]


async def test_stored_but_unprocessed_events_are_picked_up(
    client: TestClient,
    order: OrderView,
    clock: FakeClock,  # type: ignore[type-arg]
) -> None:
    bus = bus_of(client)
    body = completed(order)
    # A crash right after storing: the event is in the table, nothing else happened.
    await bus.deps.ledger.store_event(
        f"evt_done_{order.ref}_1",
        "checkout.session.completed",  # type: ignore[union-attr]
        body.decode(),
        clock.now(),
    )
    assert await stripe_routes.reprocess(bus) == 0  # too fresh: its delivery may still run
    clock.advance(minutes=1)
    assert await stripe_routes.reprocess(bus) == 1
    assert await status(client, order) is S.PAID
    assert await stripe_routes.reprocess(bus) == 0


async def test_one_event_delivered_twice_at_once_is_processed_once(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    flaky: FlakyNotifier,
) -> None:
    body = completed(order)
    replies = await asyncio.gather(*(post(client, body, sign(body)) for _ in range(2)))
    assert sorted(code for code, _ in replies) == [200, 200]
    assert sorted(bool(reply.get("duplicate")) for _, reply in replies) == [False, True]
    assert await status(client, order) is S.PAID
    assert [n.order.ref for n in flaky.of(OrderPaid)] == [order.ref]  # type: ignore[attr-defined]


def shipped_to(order: OrderView, event_id: str, details: object) -> bytes:
    """A completed checkout that asked for the address (shipping_address_collection)."""
    obj = session(order.ref, f"cs_{order.ref}") | {"shipping_details": details}
    return event_body(event_id, "checkout.session.completed", obj)


async def test_the_address_typed_at_checkout_is_kept_with_the_order(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
) -> None:
    details = {
        "name": "Jenny Rosen",
        "address": {"line1": "Teststraße 1", "line2": None, "city": "Berlin",
                    "state": None, "postal_code": "10115", "country": "DE"},
    }  # fmt: skip
    body = shipped_to(order, "evt_ship_1", details)
    assert [(await post(client, body, sign(body)))[0] for _ in range(2)] == [200, 200]
    paid = await bus_of(client).deps.store.order(order.ref)
    assert paid.status is S.PAID
    assert paid.ship_to == "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"
    # Another report of the order's payment with another address: the first one stays.
    moved = details | {"name": "Someone Else"}
    again = shipped_to(order, "evt_ship_2", moved)
    assert (await post(client, again, sign(again)))[0] == 200
    assert (await bus_of(client).deps.store.order(order.ref)).ship_to == paid.ship_to


@pytest.mark.parametrize("details", ["Teststraße 1", {"address": ["x"]}, 7])
async def test_a_malformed_address_is_ignored_and_the_order_still_paid(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    details: object,
) -> None:
    body = shipped_to(order, "evt_ship_bad", details)
    assert (await post(client, body, sign(body))) == (200, {"received": True})
    paid = await bus_of(client).deps.store.order(order.ref)
    assert (paid.status, paid.ship_to) == (S.PAID, None)
