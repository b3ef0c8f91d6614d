"""Catalogue D, checkout lifecycle and amounts (cases 29-42): the core through the bus on
SQLite and PostgreSQL with the fake gateway, the real gateway against the built-in emulator,
and the whole app for the webhook and the buyer's return page."""

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy.exc import DBAPIError

from commerce.adapters.stripe_events import to_payment_event
from commerce.adapters.stripe_gateway import MAX_SESSION, STRIPE_MINIMUM, session_expiry
from commerce.domain import commands as c
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import PaymentEventKind
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import PaymentError
from commerce.service_layer.results import OrderPaid, OrderView
from tests.e2e.conftest import Stripe
from tests.e2e.stripe_signing import event_body, session, sign
from tests.e2e.test_emulator_api import pay, request
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration import test_payment_events as events
from tests.integration.helpers import add_product, buy, start_drop
from webhooks.devtools.emulator.app import ApiRequest
from webhooks.keys import BUS

pytestmark = pytest.mark.reliability

S = OrderStatus
K = PaymentEventKind


def stripe_event(type_: str, obj: dict[str, Any], n: str = "1") -> c.ApplyPaymentEvent:
    event_id = f"evt_{type_.replace('.', '_')}_{n}"
    body = {"id": event_id, "object": "event", "type": type_, "data": {"object": obj}}
    return c.ApplyPaymentEvent(to_payment_event(body))


def checkout(order: OrderView, **fields: Any) -> dict[str, Any]:
    """The order's own Checkout Session as checkout.session.completed carries it."""
    assert order.checkout_session is not None
    obj = session(order.ref, order.checkout_session) | {"amount_total": order.amount.minor}
    return obj | fields


async def now_of(bus: MessageBus, order: OrderView) -> OrderView:
    return await bus.deps.store.order(order.ref)


async def test_c029_a_session_carries_the_order_a_fixed_key_and_a_bounded_expiry(
    stripe: Stripe, stripe_requests: list[ApiRequest]
) -> None:
    asked = request("D29")
    made = await stripe.gateway.open_checkout(asked)
    again = await stripe.gateway.open_checkout(asked)  # the same idempotency key: one session
    assert again.id == made.id
    [sent, *_] = [r for r in stripe_requests if r.route == "/v1/checkout/sessions"]
    params = sent.params
    assert params["client_reference_id"] == "D29"
    assert params["metadata"]["order_ref"] == "D29"
    assert params["payment_intent_data"]["metadata"]["order_ref"] == "D29"
    expires = int(params["expires_at"])
    now = datetime.now(UTC).timestamp()
    assert now + 30 * 60 <= expires <= now + 24 * 3600
    # Bounded whatever the hold: Stripe's 30 minutes at least, a day at most.
    at = datetime.now(UTC)
    for hold in (timedelta(minutes=1), timedelta(days=3)):
        end = session_expiry(request("X", expires_at=at + hold), at)
        assert at + STRIPE_MINIMUM <= end <= at + MAX_SESSION


async def test_c030_tapping_buy_twice_keeps_one_payable_session(
    bus: MessageBus, payments: FakePaymentGateway, clock: FakeClock
) -> None:
    await events.test_opening_a_link_twice_makes_one_session_and_an_expired_one_a_successor(
        bus, payments, clock
    )
    # Every ask for one order carried one key (a successor its own): Stripe made three
    # sessions in all, one per order and the successor of the expired one.
    assert len(payments.states) == 3


async def test_c031_a_retried_create_returns_the_same_session(stripe: Stripe) -> None:
    ordered = datetime.now(UTC).replace(microsecond=0)
    asked = request("D31", ordered_at=ordered)
    first = await stripe.gateway.open_checkout(asked)
    # The first answer was lost (a timeout); the retry asks the same with the same key.
    retried = await stripe.gateway.open_checkout(asked)
    assert retried.id == first.id and retried.url == first.url
    # A retry minutes later asks for the very same parameters (Stripe compares them).
    assert session_expiry(asked, ordered + timedelta(minutes=9)) == session_expiry(asked, ordered)


async def test_c032_a_key_reused_with_other_parameters_is_a_payment_error_not_a_crash(
    stripe: Stripe, caplog: pytest.LogCaptureFixture
) -> None:
    await stripe.gateway.open_checkout(request("D32"))
    with pytest.raises(PaymentError) as refused:
        await stripe.gateway.open_checkout(request("D32", quantity=3))
    assert refused.value.status == 400 and "idempotent" in str(refused.value).lower()


async def test_c033_an_unpaid_completion_waits_for_the_money(
    bus: MessageBus, order: OrderView, notifier: FakeNotifier, clock: FakeClock
) -> None:
    pending = stripe_event("checkout.session.completed", checkout(order, payment_status="unpaid"))
    assert await bus.handle(pending) == "completed, payment pending"
    waiting = await now_of(bus, order)
    assert waiting.status is S.CHECKOUT_OPEN and waiting.payment_pending_since == clock.now()
    assert notifier.of(OrderPaid) == []
    await events.test_async_payment_keeps_the_hold(bus, order, clock)


async def test_c034_a_failed_delayed_payment_cancels_and_frees_the_units(
    bus: MessageBus, order: OrderView, notifier: FakeNotifier
) -> None:
    before = (await bus.deps.store.drops())[0].remaining
    await bus.handle(
        stripe_event("checkout.session.completed", checkout(order, payment_status="unpaid"))
    )
    failed = stripe_event(
        "checkout.session.async_payment_failed", checkout(order, payment_status="unpaid")
    )
    assert await bus.handle(failed) == "payment failed: hold released"
    assert await bus.handle(failed) == "ignored: order cancelled"  # told once
    assert (await now_of(bus, order)).status is S.CANCELLED
    assert (await bus.deps.store.drops())[0].remaining == before + 2
    assert notifier.of(OrderPaid) == []


async def test_c035_a_free_order_no_payment_required_is_paid(
    bus: MessageBus, order: OrderView
) -> None:
    free = checkout(
        order,
        payment_status="no_payment_required",
        payment_intent=None,
        amount_total=0,
        amount_subtotal=order.amount.minor,
    )
    assert await bus.handle(stripe_event("checkout.session.completed", free)) == "paid: order paid"
    paid = await now_of(bus, order)
    assert paid.status is S.PAID and paid.payment_ref == order.checkout_session


async def test_c035_a_free_session_of_another_price_is_not_paid(
    bus: MessageBus, order: OrderView
) -> None:
    odd = checkout(order, payment_status="no_payment_required", amount_total=0, amount_subtotal=1)
    assert await bus.handle(stripe_event("checkout.session.completed", odd)) == (
        "amount mismatch: order needs review"
    )


async def test_c036_another_amount_or_currency_is_never_paid(
    bus: MessageBus, order: OrderView
) -> None:
    await events.test_a_payment_of_another_amount_needs_review(bus, order)
    other = checkout(order, currency="usd")
    outcome = await bus.handle(stripe_event("checkout.session.completed", other, "2"))
    assert outcome == "currency mismatch: order needs_review unchanged"
    assert (await now_of(bus, order)).status is S.NEEDS_REVIEW


async def test_c037_an_expired_session_releases_the_hold_and_offers_the_next_buyer_a_link(
    bus: MessageBus, payments: FakePaymentGateway, notifier: FakeNotifier
) -> None:
    await events.test_expired_checkout_releases_and_promotes_with_a_link(bus, payments, notifier)
    [expired] = await bus.deps.store.orders(S.EXPIRED, None)
    assert expired.identity == "web:anna"


@pytest.mark.parametrize("stock_left", [True, False], ids=["units-free", "units-gone"])
async def test_c038_a_payment_after_the_hold_ended_is_paid_or_refunded(
    bus: MessageBus,
    payments: FakePaymentGateway,
    clock: FakeClock,
    stock_left: bool,
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, hold=timedelta(minutes=5))
    anna = await events.won_order(bus, "web:anna")
    clock.advance(minutes=6)
    await bus.handle(c.ExpireHolds())
    assert (await now_of(bus, anna)).status is S.EXPIRED
    if not stock_left:
        ben = await buy(bus, "web:ben")
        assert ben.order is not None  # the unit went to the next buyer
    await bus.handle(stripe_event("checkout.session.completed", checkout(anna)))
    late = await now_of(bus, anna)
    if stock_left:
        assert late.status is S.PAID and payments.refunds == []
    else:
        assert late.status is S.NEEDS_REVIEW
        assert [r[0] for r in payments.refunds] == [f"pi_{anna.ref}"]  # the money goes back


async def test_c039_expiring_a_session_that_just_completed_is_harmless(stripe: Stripe) -> None:
    made = await stripe.gateway.open_checkout(request("D39"))
    await pay(stripe, made.id)
    await stripe.gateway.expire_checkout(made.id)  # Stripe refuses: not open; no error here
    state = await stripe.gateway.session_state(made.id)
    assert (state.status, state.payment_status) == ("complete", "paid")


async def test_c040_a_forged_or_foreign_session_on_the_return_page_grants_nothing(
    shop: TestClient,  # type: ignore[type-arg]
    notifier: FakeNotifier,
) -> None:
    bus: MessageBus = shop.server.app[BUS]
    await add_product(bus)
    await start_drop(bus, quantity=2)
    mine, theirs = [(await buy(bus, who)).order for who in ("web:anna", "web:ben")]
    assert mine is not None and theirs is not None
    await bus.handle(c.SettlePayment(theirs.ref, f"pi_{theirs.ref}", "evt_paid"))
    for query in (
        f"order={mine.ref}&session_id=cs_forged",
        f"order={mine.ref}&session_id=cs_{theirs.ref}",  # another buyer's paid session
    ):
        page = await shop.get(f"/checkout/done?{query}")
        assert page.status == 200 and "Thank you" not in await page.text()
    unknown = await shop.get("/checkout/done?order=NOPE1&session_id=cs_x")
    assert unknown.status == 404
    assert (await bus.deps.store.order(mine.ref)).status in (S.RESERVED, S.CHECKOUT_OPEN)
    assert [n.order.ref for n in notifier.of(OrderPaid)] == [theirs.ref]  # type: ignore[attr-defined]


class GaveWay(Exception):
    """What the driver raises for PostgreSQL's "deadlock detected" (SQLSTATE 40P01)."""

    sqlstate = "40P01"


async def test_c017_the_return_page_gives_way_to_the_webhook_of_the_same_payment(
    shop: TestClient,  # type: ignore[type-arg]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The buyer comes back from Checkout while that payment's webhook is applied: the two
    lock the same order and customer, and PostgreSQL may choose the page to give way. The
    page then says "one moment" and refreshes (the webhook pays the order) instead of a 500;
    any other database error is still an error."""
    bus: MessageBus = shop.server.app[BUS]
    await add_product(bus)
    await start_drop(bus, quantity=1)
    order = (await buy(bus, "web:anna")).order
    assert order is not None
    handle = bus.handle

    async def losing(command: c.Command) -> Any:
        if isinstance(command, c.CheckPayment):
            raise DBAPIError("UPDATE customer ...", {}, failure)
        return await handle(command)

    monkeypatch.setattr(bus, "handle", losing)
    failure: Exception = GaveWay("deadlock detected")
    waiting = await shop.get(f"/checkout/done?order={order.ref}&session_id=cs_{order.ref}")
    body = await waiting.text()
    assert waiting.status == 200 and "one moment" in body and 'http-equiv="refresh"' in body
    failure = RuntimeError("disk full")
    broken = await shop.get(f"/checkout/done?order={order.ref}&session_id=cs_{order.ref}")
    assert broken.status == 500
    monkeypatch.undo()
    await bus.handle(c.SettlePayment(order.ref, f"pi_{order.ref}", "evt_paid"))  # the webhook
    paid = await shop.get(f"/checkout/done?order={order.ref}&session_id=cs_{order.ref}")
    assert "Thank you" in await paid.text()


async def test_c041_the_items_come_from_the_database_never_from_the_event(
    bus: MessageBus, payments: FakePaymentGateway, order: OrderView, clock: FakeClock
) -> None:
    await events.test_won_claim_opens_a_checkout_from_database_prices(bus, payments, order, clock)
    stuffed = checkout(
        order,
        line_items={
            "object": "list",
            "data": [{"description": "Gold bar", "quantity": 99, "amount_total": 5000}],
        },
    )
    assert await bus.handle(stripe_event("checkout.session.completed", stuffed)) == (
        "paid: order paid"
    )
    paid = await now_of(bus, order)
    assert (paid.quantity, paid.description, paid.amount) == (
        order.quantity,
        order.description,
        order.amount,
    )


async def test_c042_an_event_made_outside_this_shop_is_acknowledged_and_ignored(
    shop: TestClient,  # type: ignore[type-arg]
    caplog: pytest.LogCaptureFixture,
) -> None:
    foreign = session("X", "cs_elsewhere") | {"client_reference_id": None, "metadata": {}}
    body = event_body("evt_foreign", "checkout.session.completed", foreign)
    with caplog.at_level(logging.INFO, logger="webhooks.stripe"):
        response = await shop.post(
            "/webhooks/stripe",
            data=body,
            headers={"Stripe-Signature": sign(body), "Content-Type": "application/json"},
        )
    assert response.status == 200
    assert [r.getMessage() for r in caplog.records if "evt_foreign" in r.getMessage()] == [
        "payment event evt_foreign (checkout.session.completed): ignored: no order of ours"
    ]
    bus: MessageBus = shop.server.app[BUS]
    assert await bus.deps.store.orders(None, None) == []
