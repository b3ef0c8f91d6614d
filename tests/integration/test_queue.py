"""`/queue`: a buyer's place in waitlists, counted as the line moves; the promotion chain
after expiries; units of a refund with restock go to the waitlist first."""

from datetime import timedelta

from bots.rendering import LOCALES, Renderer
from commerce.domain import commands as c
from commerce.domain.commands import ChatMessage
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import PromotedFromWaitlist
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, buy, start_drop

_n = iter(range(1, 10_000))


async def queue(bus: MessageBus, who: str, text: str = "/queue") -> chat.QueueShown:
    message = ChatMessage(f"web:demo:q{next(_n)}", "web:demo", who, text, who)
    outcome = await bus.handle(message)
    assert isinstance(outcome, chat.QueueShown)
    return outcome


async def test_queue_shows_the_place_as_the_waitlist_moves(
    bus: MessageBus, clock: FakeClock, notifier: FakeNotifier
) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1, hold=timedelta(minutes=5))
    assert (await queue(bus, "web:nobody")).places == ()
    await buy(bus, "web:anna")
    await buy(bus, "web:ben")
    await buy(bus, "web:cleo")
    await buy(bus, "web:dan")
    assert (await queue(bus, "web:anna")).places == ()
    assert (await queue(bus, "web:cleo")).places == (("TEE", 2),)
    assert (await queue(bus, "web:dan", "/queue TEE")).places == (("TEE", 3),)
    assert (await queue(bus, "web:dan", "/queue OTHER")).places == ()
    # The chain: each expired hold goes to the next in line, who gets their own hold.
    for expected in ("web:ben", "web:cleo", "web:dan"):
        clock.advance(minutes=5)
        await bus.handle(c.ExpireHolds())
        promoted = notifier.of(PromotedFromWaitlist)[-1]
        assert isinstance(promoted, PromotedFromWaitlist) and promoted.claim.order is not None
        assert promoted.claim.order.identity == expected
        assert promoted.claim.order.hold_expires_at == clock.now() + timedelta(minutes=5)
    assert (await queue(bus, "web:dan")).places == ()
    shown = await queue(bus, "web:nobody")
    assert Renderer().outcome(shown, "@x").private == "You are not on any waitlist."


async def test_queue_renders_in_every_language(bus: MessageBus) -> None:
    await add_product(bus)
    await start_drop(bus, quantity=1)
    await buy(bus, "web:anna")
    await buy(bus, "web:ben")
    shown = await queue(bus, "web:ben", "/warteliste")
    assert Renderer().outcome(shown, "@x").private == "Your waitlist places:\nTEE: number 1"
    for locale in LOCALES:
        assert "TEE" in (Renderer(locale).outcome(shown, "@x").private or "")


async def test_a_refund_with_restock_goes_to_the_waitlist_first(
    bus: MessageBus, notifier: FakeNotifier
) -> None:
    payments = FakePaymentGateway()
    bus.deps.payments = payments
    await add_product(bus, stock=3)
    await start_drop(bus, quantity=1)
    anna = await buy(bus, "web:anna")
    assert anna.order is not None
    await bus.handle(c.SettlePayment(anna.order.ref, "pi_anna", "evt_1"))
    ben = await buy(bus, "web:ben")
    assert ben.position == 1
    await bus.handle(c.RefundOrder(anna.order.ref, restock=True))
    [promoted] = notifier.of(PromotedFromWaitlist)
    assert isinstance(promoted, PromotedFromWaitlist) and promoted.claim.order is not None
    assert promoted.claim.order.identity == "web:ben"
    assert promoted.claim.order.checkout_url is not None  # with its link at once
    drop = (await bus.deps.store.drops())[0]
    assert (drop.remaining, drop.waitlist) == (0, 0)
    assert (await bus.deps.store.product("TEE")).stock == 2  # 3, one sold, back, taken again
    # A drop that ended: the units only go back on the shelf.
    await bus.handle(c.EndDrop("TEE"))
    await bus.handle(c.SettlePayment(promoted.claim.order.ref, "pi_ben", "evt_2"))
    await bus.handle(c.RefundOrder(promoted.claim.order.ref, restock=True))
    assert (await bus.deps.store.product("TEE")).stock == 3
    assert len(notifier.of(PromotedFromWaitlist)) == 1
