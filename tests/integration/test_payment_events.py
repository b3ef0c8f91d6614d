"""Payment events move orders the right way whatever their order and however often they come."""

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.domain import commands as c
from commerce.domain.errors import InvalidInput
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import PaymentEvent, PaymentEventKind
from commerce.domain.products import ProductSpec
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.payments import OrderNotKnownYet
from commerce.service_layer.ports import (
    Charge,
    ChargeRequest,
    ChargeStatus,
    CheckoutRequest,
    CheckoutSession,
    SavedCard,
    SessionState,
)
from commerce.service_layer.results import (
    CheckoutReady,
    OrderView,
    PageKind,
    PaymentFellBack,
    PaymentOutcome,
    PromotedFromWaitlist,
)
from commerce.service_layer.unit_of_work import current
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, give_address, open_link, start_drop

K = PaymentEventKind
S = OrderStatus
_ids = itertools.count(1)


@pytest.fixture
def payments(bus: MessageBus) -> FakePaymentGateway:
    gateway = FakePaymentGateway()
    bus.deps.payments = gateway
    return gateway


def event(kind: K, order: OrderView, **fields: object) -> c.ApplyPaymentEvent:
    defaults: dict[str, object] = {
        "order_ref": order.ref,
        "session_id": order.checkout_session,
        "payment_ref": "pi_" + order.ref,
        "amount": order.amount.minor,  # what the checkout asked for, as Stripe reports it
        "currency": order.amount.currency,
    }
    return c.ApplyPaymentEvent(
        PaymentEvent(id=f"evt_{next(_ids)}", kind=kind, type=kind.value, **(defaults | fields))  # type: ignore[arg-type]
    )


def completed(order: OrderView) -> c.ApplyPaymentEvent:
    return event(K.CHECKOUT_COMPLETED, order, paid=True, payment_customer="cus_1")


def refunded(order: OrderView, amount: int) -> c.ApplyPaymentEvent:
    return event(K.CHARGE_REFUNDED, order, amount=order.amount.minor, amount_refunded=amount)


async def won_order(bus: MessageBus, who: str = "web:anna", quantity: int = 1) -> OrderView:
    """A won claim whose buyer opened the pay link: its checkout session exists."""
    result = await buy(bus, who, quantity=quantity)
    assert result.order is not None
    assert (await open_link(bus, result.order)).kind is PageKind.PAY
    return await bus.deps.store.order(result.order.ref)


@pytest.fixture
async def order(bus: MessageBus, payments: FakePaymentGateway) -> OrderView:
    await add_product(bus)
    await start_drop(bus, quantity=3, hold=timedelta(minutes=5))
    return await won_order(bus, quantity=2)


async def status(bus: MessageBus, order: OrderView) -> OrderStatus:
    return (await bus.deps.store.order(order.ref)).status


async def test_won_claim_opens_a_checkout_from_database_prices(
    bus: MessageBus, payments: FakePaymentGateway, order: OrderView, clock: FakeClock
) -> None:
    assert order.status is S.CHECKOUT_OPEN
    assert order.checkout_url is not None and f"/pay/{order.ref}?t=" in order.checkout_url
    assert order.checkout_session == f"cs_{order.ref}"
    [request] = payments.opened
    assert (request.order_ref, request.quantity, request.unit_amount) == (
        order.ref,
        2,
        Money(2500, "eur"),
    )
    assert request.expires_at == clock.now() + timedelta(minutes=5)
    assert request.chat == "web:demo" and request.drop_code == "TEE"


async def test_completion_pays_and_is_applied_once(bus: MessageBus, order: OrderView) -> None:
    first = completed(order)
    outcomes = [await bus.handle(first) for _ in range(5)]
    assert outcomes[0] == "paid: order paid"
    assert all(o.startswith("unchanged") for o in outcomes[1:])
    history = await bus.deps.store.history(order.ref)
    assert [e.to_status for e in history] == ["reserved", "checkout_open", "paid"]


async def test_concurrent_deliveries_of_one_completion(bus: MessageBus, order: OrderView) -> None:
    first = completed(order)
    await asyncio.gather(*(bus.handle(first) for _ in range(10)))
    history = await bus.deps.store.history(order.ref)
    assert [e.to_status for e in history].count("paid") == 1


SEQUENCES: dict[str, tuple[list[Callable[[OrderView], c.ApplyPaymentEvent]], OrderStatus]] = {
    "expired after completed": (
        [completed, lambda o: event(K.CHECKOUT_EXPIRED, o)],
        S.PAID,
    ),
    "refund before completion": ([lambda o: refunded(o, 5000), completed], S.REFUNDED),
    "partial refund before completion": (
        [lambda o: refunded(o, 1000), completed],
        S.PARTIALLY_REFUNDED,
    ),
    "refunds reordered": (
        [completed, lambda o: refunded(o, 5000), lambda o: refunded(o, 1000)],
        S.REFUNDED,
    ),
    "dispute before completion": (
        [lambda o: event(K.DISPUTE_CREATED, o), completed],
        S.DISPUTED,
    ),
    "dispute won": (
        [
            completed,
            lambda o: event(K.DISPUTE_CREATED, o),
            lambda o: event(K.DISPUTE_CLOSED, o, dispute_outcome="won"),
        ],
        S.PAID,
    ),
    "inquiry closed with a warning": (
        [
            completed,
            lambda o: event(K.DISPUTE_CREATED, o),
            lambda o: event(K.DISPUTE_CLOSED, o, dispute_outcome=None),
        ],
        S.PAID,
    ),
    "dispute lost, closed seen first": (
        [
            completed,
            lambda o: event(K.DISPUTE_CLOSED, o, dispute_outcome="lost"),
            lambda o: event(K.DISPUTE_CREATED, o),
        ],
        S.REFUNDED,
    ),
    "async payment": (
        [
            lambda o: event(K.CHECKOUT_COMPLETED, o, paid=False),
            lambda o: event(K.ASYNC_PAYMENT_SUCCEEDED, o, paid=True),
        ],
        S.PAID,
    ),
    "async payment failed": (
        [
            lambda o: event(K.CHECKOUT_COMPLETED, o, paid=False),
            lambda o: event(K.ASYNC_PAYMENT_FAILED, o),
        ],
        S.CANCELLED,
    ),
}


@pytest.mark.parametrize("name", list(SEQUENCES))
async def test_event_orders(bus: MessageBus, order: OrderView, name: str) -> None:
    makers, expected = SEQUENCES[name]
    events = [make(order) for make in makers]
    for e in events + events:  # and everything delivered twice
        await bus.handle(e)
    assert await status(bus, order) is expected


async def test_async_payment_keeps_the_hold(
    bus: MessageBus, order: OrderView, clock: FakeClock
) -> None:
    await bus.handle(event(K.CHECKOUT_COMPLETED, order, paid=False))
    clock.advance(hours=2)
    await bus.handle(c.ExpireHolds())
    assert await status(bus, order) is S.CHECKOUT_OPEN


async def test_expired_checkout_releases_and_promotes_with_a_link(
    bus: MessageBus, payments: FakePaymentGateway, notifier: FakeNotifier
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1)
    anna = await won_order(bus, "web:anna")
    waiting = await buy(bus, "web:ben")
    assert waiting.position == 1
    outcome = await bus.handle(event(K.CHECKOUT_EXPIRED, anna))
    assert outcome == "checkout expired: hold released"
    [promoted] = notifier.of(PromotedFromWaitlist)
    assert promoted.claim.order is not None  # type: ignore[union-attr]
    assert promoted.claim.order.checkout_url is not None  # type: ignore[union-attr]
    assert payments.expired == []  # the provider expired it: nothing to close


async def test_events_for_unknown_orders_and_types_are_ignored(bus: MessageBus) -> None:
    stranger = c.ApplyPaymentEvent(
        PaymentEvent("evt_x", K.CHECKOUT_COMPLETED, "checkout.session.completed", None, "cs_x")
    )
    assert await bus.handle(stranger) == "ignored: no order of ours"
    # An order of ours that is not in the database (yet): retried, never dropped.
    racing = c.ApplyPaymentEvent(
        PaymentEvent("evt_z", K.CHECKOUT_COMPLETED, "checkout.session.completed", "NOPE")
    )
    with pytest.raises(OrderNotKnownYet, match="NOPE"):
        await bus.handle(racing)
    other = c.ApplyPaymentEvent(PaymentEvent("evt_y", K.OTHER, "customer.created"))
    assert (await bus.handle(other)).startswith("ignored")


async def test_refund_requests(
    bus: MessageBus, payments: FakePaymentGateway, order: OrderView
) -> None:
    with pytest.raises(InvalidInput, match="nothing to refund"):
        await bus.handle(c.RefundOrder(order.ref))
    await bus.handle(completed(order))
    await bus.handle(c.RefundOrder(order.ref, Money(1000, "eur")))
    assert payments.refunds[-1] == (
        f"pi_{order.ref}",
        Money(1000, "eur"),
        f"refund-{order.ref}-0-1000",
    )
    await bus.handle(refunded(order, 1000))
    assert await status(bus, order) is S.PARTIALLY_REFUNDED
    with pytest.raises(InvalidInput, match="left to refund"):
        await bus.handle(c.RefundOrder(order.ref, Money(4001, "eur")))
    with pytest.raises(InvalidInput, match="EUR"):
        await bus.handle(c.RefundOrder(order.ref, Money(100, "usd")))
    stock_before = (await bus.deps.store.product("TEE")).stock
    await bus.handle(c.RefundOrder(order.ref, restock=True))
    assert payments.refunds[-1][1] == Money(4000, "eur")
    assert (await bus.deps.store.product("TEE")).stock == stock_before + 2
    await bus.handle(refunded(order, 5000))
    assert await status(bus, order) is S.REFUNDED


async def test_a_claim_gets_its_link_while_the_provider_is_down(
    bus: MessageBus, payments: FakePaymentGateway, notifier: FakeNotifier, clock: FakeClock
) -> None:
    """The pay link is the shop's own: a claim is answered with it whatever the provider does,
    and the page it opens says to try again until the provider is back."""
    await add_product(bus)
    await start_drop(bus, quantity=1)
    payments.down = True
    result = await buy(bus, "web:anna")
    assert result.order is not None and result.order.status is S.CHECKOUT_OPEN
    assert result.checkout_error is None and result.order.checkout_url is not None
    page = await open_link(bus, result.order)
    assert page.kind is PageKind.UNAVAILABLE and "unreachable" in page.error
    payments.down = False
    clock.advance(seconds=16)
    await bus.handle(c.ExpireHolds())
    assert notifier.of(CheckoutReady) == []  # it had its link: nothing to send again
    page = await open_link(bus, result.order)
    assert page.kind is PageKind.PAY and page.url == f"https://checkout.test/{result.order.ref}"


async def test_opening_a_link_twice_makes_one_session_and_an_expired_one_a_successor(
    bus: MessageBus, payments: FakePaymentGateway, clock: FakeClock
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=2)
    result = await buy(bus, "web:anna")
    assert result.order is not None
    first, again = [await open_link(bus, result.order) for _ in range(2)]
    assert first.url == again.url and len(payments.opened) == 1
    # Both at once (a double tap): still one session.
    other = await buy(bus, "web:bo")
    assert other.order is not None
    pages = await asyncio.gather(*(open_link(bus, other.order) for _ in range(5)))
    assert {p.url for p in pages} == {f"https://checkout.test/{other.order.ref}"}
    assert {r.order_ref for r in payments.opened} == {result.order.ref, other.order.ref}
    assert all(r.replaces is None for r in payments.opened)  # one idempotency key per order
    # Anna's session ran out while her hold still runs: the link makes its successor.
    session = f"cs_{result.order.ref}"
    payments.states[session] = replace(payments.states[session], status="expired")
    successor = await open_link(bus, result.order)
    assert successor.kind is PageKind.PAY and payments.opened[-1].replaces == session
    order = await bus.deps.store.order(result.order.ref)
    assert order.checkout_session != session and order.checkout_session is not None
    # Paid: the link says so; the hold ended: it says how to try again.
    await bus.handle(c.SettlePayment(order.ref, "pi_1", "evt_1"))
    assert (await open_link(bus, order)).kind is PageKind.PAID
    clock.advance(minutes=11)
    await bus.handle(c.ExpireHolds())
    assert (await open_link(bus, other.order)).kind is PageKind.ENDED
    calls = len(payments.opened)
    forged = await bus.handle(c.OpenPayment(order.ref, "not-the-token"))
    assert forged.kind is PageKind.UNKNOWN and len(payments.opened) == calls


async def test_reconcile_repairs_lost_webhooks(
    bus: MessageBus, payments: FakePaymentGateway
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=3)
    paid = await won_order(bus, "web:a")
    expired = await won_order(bus, "web:b")
    untouched = await won_order(bus, "web:c")

    def state(o: OrderView, status: str, payment: str) -> SessionState:
        assert o.checkout_session is not None
        address = "Anna, Street 1, 10115 Berlin, DE" if payment == "paid" else None
        return SessionState(
            o.checkout_session, o.ref, status, payment, "pi_" + o.ref, 2500, "eur", address
        )

    payments.states = {
        s.id: s
        for s in (
            state(paid, "complete", "paid"),
            state(expired, "expired", "unpaid"),
            state(untouched, "open", "unpaid"),
        )
    }
    changes = await bus.handle(c.Reconcile())
    assert changes == [
        f"{paid.ref}: paid at the provider -> paid",
        f"{expired.ref}: checkout expired -> expired",
    ]
    assert await bus.handle(c.Reconcile()) == []  # nothing left to repair
    # The lost webhook's address came with the repair: the seller knows where it goes.
    assert (await bus.deps.store.order(paid.ref)).ship_to == "Anna, Street 1, 10115 Berlin, DE"
    assert (await bus.deps.store.order(expired.ref)).ship_to is None
    payments.down = True
    errors = await bus.handle(c.Reconcile())
    # Expired orders are asked about too: a payment may still have come for them.
    why = "could not ask the payment provider (the payment provider is unreachable)"
    assert errors == [f"{expired.ref}: {why}", f"{untouched.ref}: {why}"]


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [(2500, "jpy", "currency mismatch"), (None, "eur", "amount missing")],
)
async def test_reconcile_never_pays_a_payment_that_is_not_the_orders(
    bus: MessageBus,
    payments: FakePaymentGateway,
    order: OrderView,
    amount: int | None,
    currency: str,
    reason: str,
) -> None:
    """A lost webhook's repair checks what the provider took as the webhook would have."""
    assert order.checkout_session is not None
    payments.states = {
        order.checkout_session: SessionState(
            order.checkout_session, order.ref, "complete", "paid", "pi_" + order.ref,
            amount, currency,
        )
    }  # fmt: skip
    assert await bus.handle(c.Reconcile()) == [
        f"{order.ref}: paid at the provider, {reason}: order needs review"
    ]
    assert await bus.handle(c.Reconcile()) == []  # in review: left to the seller
    assert await status(bus, order) is S.NEEDS_REVIEW
    history = await bus.deps.store.history(order.ref)
    cause = f"reconcile:{order.checkout_session}:{reason.replace(' ', '_')}"
    assert (history[-1].to_status, history[-1].cause) == ("needs_review", cause)


async def test_a_dispute_flags_the_buyer_on_every_order(bus: MessageBus, order: OrderView) -> None:
    await bus.handle(completed(order))
    created = event(K.DISPUTE_CREATED, order, order_ref=None, session_id=None)
    for e in (created, created, event(K.DISPUTE_CLOSED, order, dispute_outcome="won")):
        await bus.handle(e)  # found by its payment alone, as Stripe's disputes carry no order
    assert await status(bus, order) is S.PAID
    assert order.buyer_disputes == 0
    later = await won_order(bus, "web:anna")
    assert later.buyer_disputes == 1  # counted once, however often the dispute was reported


async def test_returning_buyers_reuse_their_payment_customer(
    bus: MessageBus, payments: FakePaymentGateway, order: OrderView
) -> None:
    assert payments.opened[0].customer is None
    await bus.handle(completed(order))  # carries payment_customer="cus_1"
    await bus.deps.store.link("telegram:9", "web:anna")  # type: ignore[attr-defined]
    result = await buy(bus, "telegram:9", chat="web:demo")
    assert result.order is not None
    await open_link(bus, result.order)
    assert payments.opened[-1].customer == "cus_1"


async def test_digital_products_need_no_shipping_address(
    bus: MessageBus, payments: FakePaymentGateway
) -> None:
    spec = ProductSpec("CODE", "Game key", Money(900, "eur"), "", (), digital=True)
    await bus.handle(c.AddProduct(spec, 3))
    await start_drop(bus, "CODE", quantity=1)
    await add_product(bus, "TEE")
    await start_drop(bus, "TEE", quantity=1)
    key = await buy(bus, "web:a", code="CODE")
    tee = await buy(bus, "web:b", code="TEE")
    assert key.order is not None and key.order.digital
    assert tee.order is not None and not tee.order.digital
    assert payments.opened == []  # links handed out: no provider call yet
    for opened in (key.order, tee.order):
        await open_link(bus, opened)
    assert [(r.order_ref, r.collect_shipping) for r in payments.opened] == [
        (key.order.ref, False),
        (tee.order.ref, True),
    ]
    assert (await bus.deps.store.product("CODE")).digital


async def test_a_payment_of_another_amount_needs_review(bus: MessageBus, order: OrderView) -> None:
    odd = event(K.CHECKOUT_COMPLETED, order, paid=True, amount=order.amount.minor - 1)
    assert await bus.handle(odd) == "amount mismatch: order needs review"
    assert await status(bus, order) is S.NEEDS_REVIEW
    history = await bus.deps.store.history(order.ref)
    assert history[-1].cause.endswith(":amount_mismatch")


@dataclass
class RacingGateway(FakePaymentGateway):
    """A saved card's charge whose failure webhook arrives before the charge's answer."""

    webhook: Callable[[], Awaitable[object]] | None = None
    racing: "asyncio.Future[object] | None" = None

    async def charge_card(self, request: ChargeRequest) -> Charge:
        charge = await super().charge_card(request)
        if self.webhook is not None:
            self.racing = asyncio.ensure_future(self.webhook())
            await asyncio.sleep(0.2)  # the webhook is processed meanwhile
        return charge


async def test_a_decline_whose_webhook_comes_first_is_told_once(
    bus: MessageBus, engine: AsyncEngine, notifier: FakeNotifier
) -> None:
    payments = RacingGateway()
    bus.deps.payments = payments
    await add_product(bus, stock=5)
    await start_drop(bus, quantity=5)
    first = await won_order(bus, "web:anna")
    payments.cards[f"pi_{first.ref}"] = SavedCard("cus_1", "pm_anna", "visa", "4242")
    await bus.handle(completed(first))  # paid; the card is kept for one-message buys
    await give_address(engine, "web:anna")
    said = await bus.handle(c.ChatMessage("web:demo:race", "web:demo", "web:anna", "#buy", "anna"))
    second = said.result
    assert second.order is not None and second.confirm is not None  # one tap asked
    payments.outcomes["pm_anna"] = ChargeStatus.DECLINED
    outcomes: list[object] = []

    async def webhook() -> None:
        assert second.order is not None
        failed = event(K.PAYMENT_FAILED, second.order, session_id=None)
        outcomes.append(await bus.handle(failed))

    payments.webhook = webhook
    result = await bus.handle(c.ConfirmPurchase("web:anna"))
    assert payments.racing is not None
    await payments.racing
    assert result.outcome is PaymentOutcome.FALLBACK and result.reason == "Your card was declined."
    assert result.order.checkout_url is not None  # the link instead, told by this answer
    assert outcomes == ["ignored: not a charge under way"]  # the webhook waited for it
    assert notifier.of(PaymentFellBack) == []  # so the buyer hears it once


async def test_opening_a_link_reads_in_one_transaction_and_records_in_another(
    bus: MessageBus, payments: FakePaymentGateway, engine: AsyncEngine
) -> None:
    """The pay page's work around the provider's call: what the checkout needs (the order,
    the saved card, the zones, the provider's customer) read in one unit of work, the call
    outside any, then the session recorded in a second unit (it was five transactions,
    each a turn on SQLite's one connection while a drop's winners open their links)."""
    await add_product(bus)
    await start_drop(bus, quantity=2)
    first, second = [await buy(bus, who) for who in ("web:anna", "web:bo")]
    assert first.order is not None and second.order is not None
    await open_link(bus, first.order)  # the pay links' key is read once, then kept
    called_in: list[object] = []
    opened = payments.open_checkout

    async def open_checkout(request: CheckoutRequest) -> CheckoutSession:
        called_in.append(current())
        return await opened(request)

    payments.open_checkout = open_checkout  # type: ignore[method-assign]
    begun: list[object] = []

    def count(connection: object) -> None:
        begun.append(connection)

    sa_event.listen(engine.sync_engine, "begin", count)
    try:
        page = await open_link(bus, second.order)
    finally:
        sa_event.remove(engine.sync_engine, "begin", count)
    assert page.kind is PageKind.PAY and called_in == [None]
    assert len(begun) == 2
    recorded = await bus.deps.store.order(second.order.ref)
    assert recorded.checkout_session == f"cs_{second.order.ref}"
