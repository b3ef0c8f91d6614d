"""#18 item 3, at payment: a drop's per-buyer limit follows the card (Stripe's fingerprint) and
the Checkout email across identities, and strikes follow the card. Written as the attacker:
fresh identities (web viewers cost nothing) paying with one card. On SQLite and PostgreSQL."""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import LOCALES, Renderer
from commerce.adapters.auctions import SqlAuctions
from commerce.bootstrap import bootstrap
from commerce.domain import commands as c
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.payments import Payer, PaymentEvent, PaymentEventKind
from commerce.service_layer import one_message
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import PaymentError, SavedCard
from commerce.service_layer.results import (
    OrderPaid,
    OrderView,
    PaymentOutcome,
    PaymentProblem,
    PaymentStopped,
    SettlementOutcome,
)
from tests.conftest import test_settings
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, give_address, start_drop
from webhooks.devtools.emulator.state import card_fingerprint

VISA = "4242424242424242"
MASTERCARD = "5555555555554444"
AMEX = "378282246310005"
Shop = Callable[..., MessageBus]


@pytest.fixture
def gateway() -> FakePaymentGateway:
    return FakePaymentGateway()


@pytest.fixture
async def shop(
    database_url: str,
    engine: AsyncEngine,
    clock: FakeClock,
    notifier: FakeNotifier,
    gateway: FakePaymentGateway,
) -> AsyncIterator[Shop]:
    """The core with web claims first-paid (as by default) and LIVEBUY_LIMIT_BREACH given."""
    buses: list[MessageBus] = []

    def build(**settings: object) -> MessageBus:
        chosen = {"livebuy_web_claims": "first-paid"} | settings
        bus = bootstrap(
            test_settings(database_url, **chosen),
            engine,
            clock=clock,
            notifier=notifier,
            payments=gateway,
        )
        buses.append(bus)
        return bus

    yield build
    for bus in buses:
        await bus.deps.store.close()


async def fresh_orders(bus: MessageBus, n: int, limit: int = 2) -> list[OrderView]:
    """`n` fresh web identities each claim one unit of a limit-`limit` drop of 20."""
    await add_product(bus, "MUG", stock=20)
    await start_drop(bus, "MUG", quantity=20, limit=limit)
    orders = []
    for i in range(n):
        claimed = await buy(bus, f"web:v_fresh{i:02d}")
        assert claimed.order is not None and not claimed.order.holds_stock
        orders.append(claimed.order)
    return orders


def checkout_completed(order: OrderView, n: int, email: str | None = None) -> PaymentEvent:
    """checkout.session.completed as stripe_events reads it (the email from
    customer_details; the card is only known to Stripe)."""
    return PaymentEvent(
        f"evt_{n}",
        PaymentEventKind.CHECKOUT_COMPLETED,
        "checkout.session.completed",
        order_ref=order.ref,
        session_id=f"cs_{order.ref}",
        payment_ref=f"pi_{order.ref}",
        paid=True,
        amount=order.amount.minor,
        currency=order.amount.currency,
        email=email,
    )


async def pay(
    bus: MessageBus,
    gateway: FakePaymentGateway,
    order: OrderView,
    n: int,
    card: str,
    email: str = "",
) -> str:
    """The buyer pays the order's Checkout with `card`; its webhook arrives as the endpoint
    hands it over: who paid asked of Stripe first, then received in one unit of work."""
    gateway.paid_with[f"pi_{order.ref}"] = (card, email or None)
    event = await bus.handle(c.IdentifyPayer(checkout_completed(order, n, email or None)))
    received = await bus.handle(c.ReceivePaymentEvent(event, "{}"))
    return str(received.outcome)


async def statuses(bus: MessageBus, orders: list[OrderView]) -> list[OrderStatus]:
    return [(await bus.deps.store.order(o.ref)).status for o in orders]


async def test_one_card_cannot_pay_for_more_than_the_limit(
    shop: Shop, gateway: FakePaymentGateway, notifier: FakeNotifier, engine: AsyncEngine
) -> None:
    bus = shop()
    orders = await fresh_orders(bus, 25)
    for n, order in enumerate(orders[:3]):
        await pay(bus, gateway, order, n, VISA)
    assert await statuses(bus, orders[:3]) == ["paid", "paid", "needs_review"]
    # The third payment is refunded at once, and its buyer told why (through the outbox).
    third = orders[2]
    assert gateway.refunds == [(f"pi_{third.ref}", None, f"refund-unfilled-{third.ref}")]
    [told] = notifier.of(PaymentStopped)
    assert isinstance(told, PaymentStopped) and told.order.ref == third.ref
    assert told.problem is PaymentProblem.OVER_LIMIT
    history = await bus.deps.store.history(third.ref)
    assert history[-1].to_status == "needs_review" and history[-1].cause.endswith(":over_limit")
    # Recorded with the payments: the card's fingerprint, never its number.
    async with engine.connect() as conn:
        cards = (await conn.execute(text("SELECT DISTINCT card_fingerprint FROM orders"))).all()
    assert {r[0] for r in cards} == {card_fingerprint(VISA), None}
    # Another card pays for another fresh identity; the drop is not sold to the attacker.
    await pay(bus, gateway, orders[3], 3, MASTERCARD)
    assert await statuses(bus, orders[3:4]) == ["paid"]
    remaining = (await bus.deps.store.order(orders[3].ref), await drop_remaining(engine))[1]
    assert remaining == 20 - 3


async def drop_remaining(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT remaining FROM drops"))).scalar_one())


async def test_one_email_with_different_cards_is_one_buyer(
    shop: Shop, gateway: FakePaymentGateway
) -> None:
    bus = shop()
    orders = await fresh_orders(bus, 3)
    cards = [VISA, MASTERCARD, AMEX]
    for n, (order, card) in enumerate(zip(orders, cards, strict=True)):
        await pay(bus, gateway, order, n, card, email="Mallory@Example.com")
    assert await statuses(bus, orders) == ["paid", "paid", "needs_review"]
    assert [r[0] for r in gateway.refunds] == [f"pi_{orders[2].ref}"]


async def test_review_mode_keeps_the_payment_for_the_seller(
    shop: Shop, gateway: FakePaymentGateway, notifier: FakeNotifier
) -> None:
    bus = shop(livebuy_limit_breach="review")
    orders = await fresh_orders(bus, 3)
    for n, order in enumerate(orders):
        await pay(bus, gateway, order, n, VISA)
    assert await statuses(bus, orders) == ["paid", "paid", "needs_review"]
    assert gateway.refunds == []  # nothing refunded: the seller decides
    [told] = notifier.of(PaymentStopped)
    assert isinstance(told, PaymentStopped) and told.problem is PaymentProblem.OVER_LIMIT_REVIEW
    # The same webhook again (Stripe retries): still in review, nothing refunded, told once.
    event = await bus.handle(c.IdentifyPayer(checkout_completed(orders[2], 99)))
    await bus.handle(c.ReceivePaymentEvent(event, "{}"))
    assert await statuses(bus, orders[2:]) == ["needs_review"]
    assert gateway.refunds == [] and len(notifier.of(PaymentStopped)) == 1


async def test_a_held_order_over_the_limit_gives_its_units_back(
    shop: Shop, gateway: FakePaymentGateway, engine: AsyncEngine
) -> None:
    """A viewer whose claims hold (LIVEBUY_WEB_CLAIMS=hold, or linked): the units of the
    order over the limit go back to the drop (and to its waitlist first)."""
    bus = shop(livebuy_web_claims="hold")
    await add_product(bus, "MUG", stock=3)
    await start_drop(bus, "MUG", quantity=3, limit=1)
    held = [await buy(bus, f"web:v_hold{i}") for i in range(3)]
    orders = [h.order for h in held if h.order is not None]
    assert len(orders) == 3 and await drop_remaining(engine) == 0
    waiting = await buy(bus, "web:v_waiting")
    assert waiting.order is None  # sold out: waitlisted
    await pay(bus, gateway, orders[0], 0, VISA)
    await pay(bus, gateway, orders[1], 1, VISA)
    assert await statuses(bus, orders[:2]) == ["paid", "needs_review"]
    promoted = await bus.handle(c.ListOrders(identity="web:v_waiting"))
    assert [o.status for o in promoted] == ["checkout_open"]  # the freed unit is theirs
    assert await drop_remaining(engine) == 0


async def test_a_saved_cards_charge_counts_its_fingerprint(
    shop: Shop, gateway: FakePaymentGateway
) -> None:
    """One-message buys: the card is the saved one (its fingerprint kept with it)."""
    bus = shop()
    orders = await fresh_orders(bus, 3, limit=1)
    visa = Payer(card_fingerprint(VISA))
    first = await bus.handle(c.SettlePayment(orders[0].ref, "pi_1", "charge:pi_1", payer=visa))
    second = await bus.handle(c.SettlePayment(orders[1].ref, "pi_2", "charge:pi_2", payer=visa))
    assert first.outcome is SettlementOutcome.PAID
    assert second.outcome is SettlementOutcome.OVER_LIMIT


@pytest.mark.parametrize("payments", [10])
async def test_payments_with_one_card_at_the_same_time_pass_the_limit_once(
    shop: Shop, gateway: FakePaymentGateway, payments: int
) -> None:
    """Real concurrent tasks, each payment in its own unit of work (as webhooks to several
    workers): the last unit of the limit goes to one payment, the others are refunded."""
    bus = shop()
    orders = await fresh_orders(bus, payments)
    visa = Payer(card_fingerprint(VISA))
    settled = await asyncio.gather(
        *(
            bus.handle(c.SettlePayment(o.ref, f"pi_{o.ref}", f"evt_{o.ref}", payer=visa))
            for o in orders
        )
    )
    outcomes = sorted(s.outcome.value for s in settled)
    assert outcomes == ["over_limit"] * (payments - 2) + ["paid"] * 2
    assert sorted(map(str, await statuses(bus, orders))) == sorted(
        ["needs_review"] * (payments - 2) + ["paid"] * 2
    )
    assert len(gateway.refunds) == payments - 2


async def test_strikes_follow_the_card(
    shop: Shop, gateway: FakePaymentGateway, clock: FakeClock, notifier: FakeNotifier
) -> None:
    """A buyer with strikes who comes back as a new identity holds as a new buyer until they
    pay; once they pay with the struck buyer's card, the strikes are theirs: their claims
    hold nothing (first-paid) from then on."""
    bus = shop(livebuy_web_claims="hold", livebuy_strikes=2)
    await add_product(bus, "MUG", stock=10)
    await start_drop(bus, "MUG", quantity=10, hold=timedelta(minutes=5))
    paid_before = await buy(bus, "web:v_old")
    assert paid_before.order is not None
    await pay(bus, gateway, paid_before.order, 0, VISA)
    for _ in range(2):
        await buy(bus, "web:v_old")
        clock.advance(minutes=5)
        await bus.handle(c.ExpireHolds())
    auctions = bus.deps.auctions
    assert isinstance(auctions, SqlAuctions) and await auctions.strikes("web:v_old") == 2
    new = await buy(bus, "web:v_new")  # a new identity: nothing is known of it yet
    assert new.order is not None and new.order.holds_stock
    await pay(bus, gateway, new.order, 1, VISA)  # paid: the money is taken, the order kept
    assert (await bus.deps.store.order(new.order.ref)).status is OrderStatus.PAID
    assert notifier.of(OrderPaid)
    assert await auctions.strikes("web:v_new") == 2  # the card brought the strikes along
    again = await buy(bus, "web:v_new")
    assert again.order is not None and not again.order.holds_stock  # first-paid now
    other = await buy(bus, "web:v_other")  # a buyer who never paid with that card holds
    assert other.order is not None and other.order.holds_stock


async def test_a_payment_in_review_for_no_stock_is_still_refunded_when_reported_again(
    shop: Shop, gateway: FakePaymentGateway, clock: FakeClock
) -> None:
    """LIVEBUY_LIMIT_BREACH=review leaves only payments over the limit to the seller: a
    payment that found no units is refunded, even once its card went over the limit since."""
    bus = shop(livebuy_limit_breach="review", livebuy_web_claims="hold")
    await add_product(bus, "MUG", stock=2)
    await start_drop(bus, "MUG", quantity=2, limit=1, hold=timedelta(minutes=5))
    late = await buy(bus, "web:v_late")
    clock.advance(minutes=5)
    await bus.handle(c.ExpireHolds())  # its hold ended: the units went to others
    first, second = await buy(bus, "web:v_first"), await buy(bus, "web:v_second")
    assert late.order is not None and first.order is not None and second.order is not None
    # The late payment finds no units: in review, and its refund ask fails (Stripe down).
    gateway.paid_with[f"pi_{late.order.ref}"] = (VISA, None)
    event = await bus.handle(c.IdentifyPayer(checkout_completed(late.order, 1)))
    gateway.failure = PaymentError("Stripe is down")
    with pytest.raises(PaymentError):
        await bus.handle(c.ReceivePaymentEvent(event, "{}"))
    gateway.failure = None
    assert await statuses(bus, [late.order]) == ["needs_review"] and gateway.refunds == []
    await pay(bus, gateway, second.order, 2, VISA)  # the same card pays for its limit
    await pay(bus, gateway, late.order, 3, VISA)  # the late payment reported again
    assert [r[0] for r in gateway.refunds] == [f"pi_{late.order.ref}"]


async def test_a_card_saved_before_fingerprints_is_asked_of_stripe_when_charged(
    shop: Shop, gateway: FakePaymentGateway, engine: AsyncEngine
) -> None:
    """A one-message charge of a card saved before fingerprints were kept: who paid is asked
    of Stripe after the charge, and the limit holds."""
    bus = shop(livebuy_web_claims="hold")
    await add_product(bus, "MUG", stock=5)
    await start_drop(bus, "MUG", quantity=5, limit=1)
    anna = await buy(bus, "web:v_anna")
    assert anna.order is not None
    await pay(bus, gateway, anna.order, 0, VISA)  # Anna's one unit, with her Visa
    # Another identity of hers, with the same Visa saved for one-message buys long ago.
    await one_message.card_saved(
        "web:v_anna2", SavedCard("cus_2", "pm_old", "visa", "4242"), bus.deps
    )
    await give_address(engine, "web:v_anna2")
    said = await bus.handle(c.ChatMessage("web:demo:9", "web:demo", "web:v_anna2", "#buy", "A"))
    second = said.result.order
    assert second is not None and said.result.confirm is not None
    gateway.paid_with[f"pi_{second.ref}"] = (VISA, None)
    result = await bus.handle(c.ConfirmPurchase("web:v_anna2"))
    assert result.outcome is PaymentOutcome.REFUNDED
    assert gateway.payer_asks[-1] == f"pi_{second.ref}"
    assert await statuses(bus, [second]) == ["needs_review"]
    assert [r[0] for r in gateway.refunds] == [f"pi_{second.ref}"]


async def test_two_workers_receiving_one_cards_webhooks_at_once_pass_the_limit_once(
    shop: Shop, gateway: FakePaymentGateway
) -> None:
    """Two workers (each its own bus and group commit) get checkout webhooks of one card at
    the same moment: each worker applies its deliveries in its own transaction, and the
    limit's last unit goes to one payment."""
    workers = [shop(), shop()]
    orders = await fresh_orders(workers[0], 8)
    for order in orders:
        gateway.paid_with[f"pi_{order.ref}"] = (VISA, None)

    async def deliver(bus: MessageBus, order: OrderView, n: int) -> None:
        event = await bus.handle(c.IdentifyPayer(checkout_completed(order, n)))
        await bus.handle(c.ReceivePaymentEvent(event, "{}"))

    await asyncio.gather(*(deliver(workers[n % 2], order, n) for n, order in enumerate(orders)))
    found = await statuses(workers[0], orders)
    assert sorted(map(str, found)) == ["needs_review"] * 6 + ["paid"] * 2
    assert len(gateway.refunds) == 6


@pytest.mark.parametrize("locale", LOCALES)
def test_the_buyer_reads_why_in_every_language(locale: str) -> None:
    order = OrderView(
        "K7P2QX9M", "MUG", "MUG", "Mug", "", "web:v_x", "web:demo", 1, Money(2500, "eur"),
        OrderStatus.NEEDS_REVIEW, None, datetime(2026, 12, 7, tzinfo=UTC),
    )  # fmt: skip
    refunded = Renderer(locale).notice(PaymentStopped(order, PaymentProblem.OVER_LIMIT), "@x")
    review = Renderer(locale).notice(PaymentStopped(order, PaymentProblem.OVER_LIMIT_REVIEW), "")
    for reply in (refunded, review):
        assert reply.public is None and reply.private is not None
        assert "K7P2QX9M" in reply.private and "Mug" in reply.private
    assert refunded.private != review.private
