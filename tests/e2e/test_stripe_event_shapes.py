"""Signed Stripe events bent out of shape, posted to the real webhook endpoint.

Each example starts from one of Stripe's published objects (a checkout session, a payment
intent, a charge, a dispute, as Stripe and the emulator send them), removes, retypes or
re-nests a few of its fields (the envelope's too: id, type, data), signs it with the webhook
secret and posts it for a fresh order. Whatever came of it: never a 500, and never a
half-applied order: a refused event (400) left the order as it was and was kept for
inspection; an accepted one left the order in a state its history leads to, through
transitions the order table allows, and paid only by a payment of the order's amount and
currency.
"""

import copy
import itertools
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain.orders import OrderStatus, can_move
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import OrderEventView, OrderView
from tests.conftest import test_settings
from tests.e2e.stripe_signing import SECRET, charge, event_body, session, sign
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.app import create_app
from webhooks.keys import BUS

S = OrderStatus
Json = Any
Path = tuple[str | int, ...]
_ids = itertools.count(1)
EXAMPLES = int(os.environ.get("SHAPES_EXAMPLES", "60"))  # more to search longer, by hand


def intent(ref: str, status: str) -> Json:
    return {
        "id": f"pi_{ref}",
        "object": "payment_intent",
        "amount": 2500,
        "amount_received": 2500 if status == "succeeded" else 0,
        "currency": "eur",
        "customer": {"id": "cus_test", "object": "customer"},  # expanded, as Stripe may
        "payment_method": "pm_card_visa",
        "latest_charge": f"ch_{ref}",
        "status": status,
        "metadata": {"order_ref": ref},
        "livemode": False,
    }


def dispute(ref: str, status: str) -> Json:
    return {
        "id": f"dp_{ref}",
        "object": "dispute",
        "amount": 2500,
        "currency": "eur",
        "charge": f"ch_{ref}",
        "payment_intent": f"pi_{ref}",
        "reason": "fraudulent",
        "status": status,
        "metadata": {"order_ref": ref},
    }


SHAPES: dict[str, Callable[[str], Json]] = {
    "checkout.session.completed": lambda ref: session(ref, f"cs_{ref}"),
    "checkout.session.async_payment_succeeded": lambda ref: session(ref, f"cs_{ref}"),
    "checkout.session.async_payment_failed": lambda ref: session(ref, f"cs_{ref}", False),
    "checkout.session.expired": lambda ref: (
        session(ref, f"cs_{ref}", False) | {"status": "expired"}
    ),
    "payment_intent.succeeded": lambda ref: intent(ref, "succeeded"),
    "payment_intent.payment_failed": lambda ref: intent(ref, "requires_payment_method"),
    "charge.refunded": lambda ref: charge(ref, 2500, 1000) | {"currency": "eur"},
    "charge.dispute.created": lambda ref: dispute(ref, "needs_response"),
    "charge.dispute.closed": lambda ref: dispute(ref, "lost"),
}
# Where the amount and currency of a payment are, by the object that reports it.
PAID_BY = {
    "checkout.session.completed": "amount_total",
    "checkout.session.async_payment_succeeded": "amount_total",
    "payment_intent.succeeded": "amount",
}
# The fields that matter most, chosen half of the time (when the event still has them).
HOT: list[Path] = [
    ("id",),
    ("type",),
    ("data",),
    ("data", "object"),
    ("data", "object", "metadata"),
    ("data", "object", "metadata", "order_ref"),
    ("data", "object", "client_reference_id"),
    ("data", "object", "amount_total"),
    ("data", "object", "amount"),
    ("data", "object", "currency"),
    ("data", "object", "amount_refunded"),
    ("data", "object", "payment_intent"),
    ("data", "object", "payment_status"),
    ("data", "object", "status"),
    ("data", "object", "object"),
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    # the values Stripe does send, in places where they do not belong
    st.sampled_from(["", "eur", "EUR", "jpy", "paid", "succeeded", "setup", "lost", 2500]),
    st.sampled_from(["2500", "25.00", "evt_x", "pi_x", "cs_x", "A1"]),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=6), SCALARS, max_size=3),
)
MUTATIONS = ["remove", "retype", "as JSON text", "in a list", "in an object"]


def paths(node: Json, prefix: Path = ()) -> Iterator[Path]:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list):
            yield from paths(value, (*prefix, key))


def has(node: Json, path: Path) -> bool:
    for key in path:
        found = (isinstance(node, dict) and key in node) or (
            isinstance(node, list) and isinstance(key, int) and key < len(node)
        )
        if not found:
            return False
        node = node[key]
    return True


def bend(event: Json, draw: st.DataObject) -> list[str]:
    """Changes the event in place, one to three times; what was done, for the report."""
    done = []
    for _ in range(draw.draw(st.integers(1, 3), label="changes")):
        every = list(paths(event))
        if not every:  # nothing left to change
            break
        hot = [path for path in HOT if has(event, path)] or every
        path = draw.draw(st.sampled_from(hot) | st.sampled_from(every), label="path")
        *parents, key = path
        parent = event
        for step in parents:
            parent = parent[step]
        how = draw.draw(st.sampled_from(MUTATIONS), label="how")
        if how == "remove":
            del parent[key]
        elif how == "retype":
            parent[key] = draw.draw(VALUES, label="value")
        elif how == "as JSON text":
            parent[key] = json.dumps(parent[key])
        elif how == "in a list":
            parent[key] = [parent[key]]
        else:
            parent[key] = {draw.draw(st.sampled_from(["id", "object", "data"])): parent[key]}
        done.append(f"{how} {'.'.join(map(str, path))}")
    return done


@pytest.fixture
async def client(
    database_url: str, engine: AsyncEngine, clock: FakeClock
) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    app = create_app(
        test_settings(database_url),
        engine=engine,
        clock=clock,
        notifier=FakeNotifier(),
        payments=FakePaymentGateway(),
        webhook_secret=SECRET,
        sweep_every=3600,
    )
    async with TestClient(TestServer(app)) as client:
        bus: MessageBus = client.server.app[BUS]
        await add_product(bus, stock=10 * EXAMPLES)  # a unit for every example
        await start_drop(bus, quantity=10 * EXAMPLES)
        yield client


async def post(client: TestClient, body: bytes) -> tuple[int, Json]:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
    response = await client.post("/webhooks/stripe", data=body, headers=headers)
    return response.status, await response.json()


async def malformed_kept(engine: AsyncEngine, body: bytes) -> bool:
    query = text("SELECT COUNT(*) FROM payment_event WHERE type = 'malformed' AND payload = :p")
    async with engine.connect() as conn:
        return bool((await conn.execute(query, {"p": body.decode()})).scalar_one())


def coherent(history: list[OrderEventView], now: OrderStatus) -> None:
    """The order's state is where its history leads, through allowed transitions only."""
    assert history[0].from_status is None
    for before, after in itertools.pairwise(history):
        assert after.from_status == before.to_status, history
    for step in history[1:]:
        assert step.from_status is not None
        moved = S(step.from_status), S(step.to_status)
        assert moved[0] == moved[1] or can_move(*moved), history
    assert S(history[-1].to_status) is now


def pays_the_order(event: Json, order: OrderView) -> bool:
    """The event reports a payment of exactly the order's amount and currency."""
    obj = event.get("data", {}).get("object", {}) if isinstance(event.get("data"), dict) else {}
    if not isinstance(obj, dict) or event.get("type") not in PAID_BY:
        return False
    amount, currency = obj.get(PAID_BY[event["type"]]), obj.get("currency")
    return (
        type(amount) is int
        and amount == order.amount.minor
        and isinstance(currency, str)
        and currency.lower() == order.amount.currency
    )


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(type_=st.sampled_from(sorted(SHAPES)), paid_first=st.booleans(), draw=st.data())
async def test_bent_events_never_fail_and_never_half_apply(
    client: TestClient,  # type: ignore[type-arg]
    engine: AsyncEngine,
    type_: str,
    paid_first: bool,
    draw: st.DataObject,
) -> None:
    bus: MessageBus = client.server.app[BUS]
    n = next(_ids)
    won = await buy(bus, f"web:buyer{n}")  # a fresh order for every example
    assert won.order is not None
    ref = won.order.ref
    if paid_first:  # refunds and disputes are of paid orders, mostly
        paid = event_body(f"evt_paid_{n}", "checkout.session.completed", session(ref, "cs_p"))
        assert (await post(client, paid))[0] == 200
    order = await bus.deps.store.order(ref)
    before = await bus.deps.store.history(ref)
    event = json.loads(event_body(f"evt_bent_{n}", type_, SHAPES[type_](ref)))
    original = copy.deepcopy(event)
    changes = bend(event, draw)
    body = json.dumps(event).encode()

    code, reply = await post(client, body)

    why = f"{type_} {changes}: {code} {reply}"
    assert code in (200, 400, 500), why
    after = await bus.deps.store.order(ref)
    history = await bus.deps.store.history(ref)
    if code == 500:  # names an order of ours that is not there (yet): Stripe retries
        assert "error" in reply, why
        assert (after.status, history) == (order.status, before), why
        query = text("SELECT outcome, processed_at FROM payment_event WHERE id = :id")
        async with engine.connect() as conn:
            outcome, processed_at = (await conn.execute(query, {"id": event["id"]})).one()
        assert outcome.startswith("waiting: no order ") and processed_at is None, why
        return
    if code == 400:
        assert "error" in reply, why
        assert (after.status, history) == (order.status, before), why
        assert await malformed_kept(engine, body), why
        return
    assert reply.get("received") is True, why
    coherent(history, after.status)
    if after.status is S.PAID and order.status is not S.PAID:
        assert pays_the_order(event, order), why
    if event == original:  # no change after all (e.g. a value replaced by itself)
        return
    assert history[: len(before)] == before, why  # the past is never rewritten
