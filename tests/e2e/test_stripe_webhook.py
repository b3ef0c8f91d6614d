"""POST /webhooks/stripe under abuse: every case ends in the right state and HTTP status."""

import asyncio
import io
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
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
TEN_YEARS = 10 * 365 * 24 * 3600


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
    [
        "missing header",
        "wrong secret",
        "tampered body",
        "too old",
        "too far ahead",
        "ten years ahead",
        "garbage header",
    ],
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
        # Stripe's library checks only the past side: a timestamp ahead is as suspicious.
        "too far ahead": sign(body, at=int(time.time()) + 330),
        "ten years ahead": sign(body, at=int(time.time()) + TEN_YEARS),
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


async def test_a_signer_clock_a_little_ahead_is_tolerated(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
) -> None:
    body = completed(order)
    code, _ = await post(client, body, sign(body, at=int(time.time()) + 60))
    assert code == 200
    assert await status(client, order) is S.PAID


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


# Strict payment events: a payment is the order's only when it says so -------------------

MISSING = object()


def with_fields(obj: dict[str, Any], **fields: object) -> dict[str, Any]:
    """`obj` with fields replaced, or removed when given MISSING."""
    changed = obj | fields
    return {key: value for key, value in changed.items() if value is not MISSING}


async def stored_malformed(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        query = "SELECT payload, outcome, processed_at FROM payment_event WHERE type = 'malformed'"
        return list((await conn.execute(text(query))).all())


async def outcome_of(engine: AsyncEngine, event_id: str) -> str:
    async with engine.connect() as conn:
        query = text("SELECT outcome FROM payment_event WHERE id = :id")
        return str((await conn.execute(query, {"id": event_id})).scalar_one())


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"currency": "jpy"}, "currency_mismatch"),
        ({"currency": MISSING}, "currency_missing"),
        ({"currency": 978}, "currency_missing"),
        ({"amount_total": MISSING}, "amount_missing"),
        ({"amount_total": None}, "amount_missing"),
        ({"amount_total": "1"}, "amount_missing"),
        ({"amount_total": "2500"}, "amount_missing"),  # the right number, but as text
        ({"amount_total": 2500.0}, "amount_missing"),
        ({"amount_total": True}, "amount_missing"),
    ],
    # MISSING's repr holds its address: ids that are the same in every process (xdist).
    ids=lambda value: (
        repr(value).replace(repr(MISSING), "MISSING") if isinstance(value, dict) else value
    ),
)
async def test_a_payment_that_does_not_say_the_order_amount_needs_review(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    flaky: FlakyNotifier,
    order: OrderView,
    fields: dict[str, object],
    reason: str,
) -> None:
    obj = with_fields(session(order.ref, f"cs_{order.ref}"), **fields)
    body = event_body("evt_odd", "checkout.session.completed", obj)
    assert await post(client, body, sign(body)) == (200, {"received": True})
    assert await status(client, order) is S.NEEDS_REVIEW  # never paid
    history = await bus_of(client).deps.store.history(order.ref)
    assert "paid" not in [e.to_status for e in history]
    last = history[-1]
    assert (last.from_status, last.to_status, last.cause) == (
        "checkout_open",
        "needs_review",
        f"stripe:evt_odd:{reason}",
    )
    assert flaky.of(OrderPaid) == []  # type: ignore[attr-defined]
    # The payment stays on record: the event is kept, with what became of it.
    assert await outcome_of(engine, "evt_odd") == f"{reason.replace('_', ' ')}: order needs review"
    # The same report again changes nothing; a correct one later does not pay it either
    # (it is the seller's to sort out).
    assert (await post(client, body, sign(body)))[1].get("duplicate") is True
    assert await status(client, order) is S.NEEDS_REVIEW


@pytest.mark.parametrize(
    ("type_", "obj"),
    [
        ("checkout.session.async_payment_succeeded", "session"),
        ("payment_intent.succeeded", "intent"),
    ],
)
async def test_every_kind_of_payment_report_checks_the_currency(
    client: TestClient,  # type: ignore[type-arg]
    order: OrderView,
    type_: str,
    obj: str,
) -> None:
    payment = (
        session(order.ref, f"cs_{order.ref}")
        if obj == "session"
        else {
            "id": f"pi_{order.ref}",
            "object": "payment_intent",
            "amount": 2500,
            "amount_received": 2500,
            "status": "succeeded",
            "metadata": {"order_ref": order.ref},
        }
    )
    body = event_body("evt_usd", type_, payment | {"currency": "usd"})
    assert (await post(client, body, sign(body)))[0] == 200
    assert await status(client, order) is S.NEEDS_REVIEW
    history = await bus_of(client).deps.store.history(order.ref)
    assert history[-1].cause == "stripe:evt_usd:currency_mismatch"


def malformed(order: OrderView, shape: str) -> bytes:
    obj = session(order.ref, f"cs_{order.ref}")
    event = json.loads(event_body("evt_bent", "checkout.session.completed", obj))
    match shape:
        case "data as a string":
            event["data"] = json.dumps(event["data"])
        case "data as a list":
            event["data"] = [event["data"]["object"]]
        case "object as a string":
            event["data"]["object"] = json.dumps(obj)
        case "metadata as a list":
            event["data"]["object"]["metadata"] = [["order_ref", order.ref]]
        case "metadata as a string":
            event["data"]["object"]["metadata"] = order.ref
        case "no id":
            del event["id"]
        case "no type":
            del event["type"]
        case "a charge where a session belongs":
            event["data"]["object"] = charge(order.ref, 2500, 0) | {"object": "charge"}
        case "an order ref that is an object":
            event["data"]["object"]["client_reference_id"] = {"ref": order.ref}
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    "shape",
    [
        "data as a string",
        "data as a list",
        "object as a string",
        "metadata as a list",
        "metadata as a string",
        "no id",
        "no type",
        "a charge where a session belongs",
        "an order ref that is an object",
    ],
)
async def test_a_malformed_event_answers_400_is_kept_and_applies_nothing(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    order: OrderView,
    shape: str,
) -> None:
    bus = bus_of(client)
    before = await bus.deps.store.history(order.ref)
    body = malformed(order, shape)
    for _ in range(2):  # Stripe retries what is not answered 2xx
        code, reply = await post(client, body, sign(body))
        assert code == 400 and "error" in reply
    assert await status(client, order) is S.CHECKOUT_OPEN
    assert await bus.deps.store.history(order.ref) == before
    # Kept once, for inspection, as received; done with (never picked up for processing).
    [(payload, outcome, processed_at)] = await stored_malformed(engine)
    assert payload == body.decode()
    assert outcome.startswith("malformed: ") and processed_at is not None
    assert await bus.deps.ledger.pending_events(bus.deps.clock.now()) == []  # type: ignore[union-attr]


async def test_malformed_bodies_are_kept_whatever_they_hold(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
) -> None:
    bodies = [
        b"{not json",
        b"[1, 2]",
        b'{"id": "evt_\\u0000", "type": "charge.refunded"}',
        b'{"id": 7, "type": []}',
        b'{"id": "evt_nul"}\x00',  # PostgreSQL's text takes no NUL: kept as U+FFFD
    ]
    for body in bodies:
        assert (await post(client, body, sign(body)))[0] == 400
    kept = sorted(row.payload for row in await stored_malformed(engine))
    assert kept == sorted(body.decode().replace("\x00", "\ufffd") for body in bodies)
