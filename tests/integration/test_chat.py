"""Chat messages from any platform through one parser and one core, rendered in four languages."""

from datetime import timedelta

import pytest

from bots.rendering import LOCALES, TEXTS, Renderer, Reply
from commerce.domain import commands as c
from commerce.domain.commands import ChatMessage
from commerce.domain.money import Money
from commerce.domain.payments import PaymentEvent, PaymentEventKind
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.results import (
    CheckoutReady,
    ClaimOutcome,
    PromotedFromWaitlist,
    WaitlistClosed,
)
from tests.fakes import FakeClock, FakeNotifier, FakePaymentGateway
from tests.integration.helpers import add_product, start_drop

_n = iter(range(1, 10_000))


async def say(
    bus: MessageBus, text: str, who: str = "telegram:1", chat_id: str = "telegram:-100"
) -> chat.ChatOutcome:
    message = ChatMessage(f"{chat_id}:{next(_n)}", chat_id, who, text, who.split(":")[1])
    outcome: chat.ChatOutcome = await bus.handle(message)
    return outcome


def render(outcome: chat.ChatOutcome, locale: str = "en") -> Reply:
    return Renderer(locale).outcome(outcome, "@anna")


async def test_a_seller_runs_a_drop_from_the_chat(bus: MessageBus) -> None:
    bus.deps.sellers = frozenset({"telegram:99"})
    await add_product(bus, "TEE", stock=5)
    refused = await say(bus, "/drop TEE 3 19.50 for 10m limit 1", who="telegram:1")
    assert isinstance(refused, chat.Failed) and refused.not_allowed
    assert render(refused).public == "@anna: only sellers can do that."

    opened = await say(bus, "/drop TEE 3 19.50 for 10m limit 1", who="telegram:99")
    assert isinstance(opened, chat.DropOpened)
    assert opened.drop.channels == ("telegram:-100",)
    assert opened.drop.price.minor == 1950
    assert render(opened).public == (
        "TEE product: 3 at €19.50 for 10m. Type #buy TEE to get one! (max 1 per buyer)"
    )

    bought = await say(bus, "omg #buy", who="telegram:2")
    assert isinstance(bought, chat.Claimed)
    assert bought.result.outcome is ClaimOutcome.WON
    reply = render(bought)
    assert (
        reply.public == "@anna: 1 × TEE product is yours for €19.50. Check your messages to pay."
    )
    assert reply.private is not None and "payment link follows" in reply.private  # no gateway

    again = render(await say(bus, "#buy", who="telegram:2"))
    assert again.public == "@anna: the limit is 1 per buyer."

    stats = await say(bus, "/stats", who="telegram:99")
    assert isinstance(stats, chat.StatsShown)
    assert render(stats).private == "TEE: 1/3 taken, 2 left, 0 waiting (live)"

    closed = await say(bus, "/end", who="telegram:99")
    assert isinstance(closed, chat.DropClosed)
    assert render(closed).public == "Drop TEE has ended: 1 of 3 sold."
    assert render(await say(bus, "#buy", who="telegram:3")).public == (
        "No drop is live here. Sellers start one with /drop"
    )


async def test_buyer_commands(bus: MessageBus) -> None:
    await bus.deps.store.add_seller("telegram:99", "owner", bus.deps.clock.now())
    await add_product(bus, "CAP", stock=5, variants=("S", "M"))
    await say(bus, "/drop CAP 1 10", who="telegram:99")
    assert render(await say(bus, "#buy CAP")).public == (
        "@anna: which one? Type e.g. #buy CAP S (S, M)"
    )
    assert render(await say(bus, "#buy CAP XL")).public == (
        "@anna: no such variant. Choose from S, M"
    )
    assert isinstance(await say(bus, "#buy CAP M"), chat.Claimed)
    waiting = await say(bus, "SOLD CAP S", who="telegram:2")
    assert render(waiting).public == "@anna: sold out, you are number 1 on the waitlist."
    orders = render(await say(bus, "/orders"))
    assert orders.private is not None and orders.private.startswith("Your orders:\n")
    assert "1 × CAP product (M)  €10.00  reserved" in orders.private
    passed = await say(bus, "/pass")
    assert isinstance(passed, chat.Released) and passed.passed
    assert render(passed).public == "@anna passed; CAP product (M) goes back."
    [promoted] = passed.release.promoted
    assert promoted.order is not None and promoted.order.identity == "telegram:2"
    nothing = await say(bus, "/cancel")
    assert isinstance(nothing, chat.Failed)
    assert render(nothing).public == "@anna: you have no unpaid order to cancel"
    cancelled = await say(bus, "/cancel", who="telegram:2")
    assert isinstance(cancelled, chat.Released) and not cancelled.passed
    assert render(cancelled).private == f"Order {promoted.order.ref} cancelled."
    assert render(await say(bus, "/orders", who="telegram:5")).private == (
        "You have no open orders. Buy with #buy while a drop is live."
    )


async def test_help_chatter_typos_and_auctions(bus: MessageBus) -> None:
    assert isinstance(await say(bus, "nice stream!"), chat.Ignored)
    assert render(await say(bus, "nice stream!")) == Reply()
    help_text = render(await say(bus, "/help")).private
    assert help_text is not None and "Sellers:" not in help_text
    bus.deps.sellers = frozenset({"telegram:1"})
    seller_help = render(await say(bus, "/start")).private
    assert seller_help is not None and "Sellers: /drop" in seller_help
    assert render(await say(bus, "#buy TEE 0")).public == "'0' is not a quantity. Try #buy 2"
    assert render(await say(bus, "/drop TEE 10 cheap")).public == (
        "'cheap' is not a price. Try 25.00"
    )
    assert render(await say(bus, "#bid 5")).public == (
        "No auction is live here. Sellers start one with /auction"
    )
    unknown = await say(bus, "/drop NOPE 1 5")
    assert isinstance(unknown, chat.Failed)
    assert "no product with SKU NOPE" in (render(unknown).public or "")
    assert render(await say(bus, "/stats")).private == "No drops yet."


async def test_refund_from_the_chat_needs_payments(bus: MessageBus) -> None:
    bus.deps.sellers = frozenset({"telegram:1"})
    await add_product(bus)
    await say(bus, "/drop TEE 2 25", who="telegram:1")
    won = await say(bus, "#buy", who="telegram:2")
    assert isinstance(won, chat.Claimed) and won.result.order is not None
    outcome = await say(bus, f"/refund {won.result.order.ref}")
    assert isinstance(outcome, chat.Failed) and outcome.not_allowed  # no payments configured


async def test_an_unknown_code_names_the_drops_live_in_that_chat(bus: MessageBus) -> None:
    bus.deps.sellers = frozenset({"telegram:99"})
    for sku in ("MUG", "CAP", "HAT", "TEE"):
        await add_product(bus, sku, stock=5)
    await say(bus, "/drop MUG 2 10", who="telegram:99")
    await say(bus, "/drop CAP 2 10", who="telegram:99")
    await say(bus, "/drop HAT 2 10", who="telegram:99", chat_id="telegram:-200")
    refused = await say(bus, "#buy NOPE")
    assert isinstance(refused, chat.Claimed)
    assert refused.result.live == ("MUG", "CAP") and refused.result.code == "NOPE"
    assert render(refused).public == "No drop NOPE here. Live here: MUG, CAP"
    # Live in another chat only: not here either.
    assert render(await say(bus, "#buy HAT")).public == "No drop HAT here. Live here: MUG, CAP"
    assert render(await say(bus, "#buy NOPE", chat_id="telegram:-200")).public == (
        "No drop NOPE here. Live here: HAT"
    )
    # A drop in every chat is live everywhere; a chat with nothing live says so.
    await start_drop(bus, "TEE", channels=())
    assert render(await say(bus, "#buy NOPE", chat_id="telegram:-300")).public == (
        "No drop NOPE here. Live here: TEE"
    )
    await bus.handle(c.EndDrop("TEE", None))
    assert render(await say(bus, "#buy NOPE", chat_id="telegram:-300")).public == (
        "No drop is live here. Sellers start one with /drop"
    )
    assert isinstance(await say(bus, "#buy CAP"), chat.Claimed)  # a known code still buys
    for locale in LOCALES:
        text = render(refused, locale).public or ""
        assert "NOPE" in text and "MUG, CAP" in text and "{" not in text, locale


def test_every_language_has_every_text() -> None:
    keys = set(TEXTS["en"])
    for locale in LOCALES:
        assert set(TEXTS[locale]) == keys, locale
        for key, text in TEXTS[locale].items():
            placeholders = {p.split("}")[0] for p in text.split("{")[1:]}
            english = {p.split("}")[0] for p in TEXTS["en"][key].split("{")[1:]}
            assert placeholders <= english, (locale, key)


@pytest.mark.parametrize("locale", LOCALES)
async def test_replies_in_each_language(bus: MessageBus, locale: str) -> None:
    reply = render(await say(bus, "#buy"), locale)
    assert reply.public == TEXTS[locale]["no_live_drop"]
    assert Renderer("xx").t("no_live_drop") == TEXTS["en"]["no_live_drop"]


async def test_drop_started_text_without_window_or_limit(bus: MessageBus) -> None:
    bus.deps.sellers = frozenset({"telegram:1"})
    bus.deps.hold = timedelta(minutes=3)
    await add_product(bus)
    opened = await say(bus, "/drop TEE 2 25")
    assert isinstance(opened, chat.DropOpened) and opened.drop.hold_seconds == 180
    assert render(opened, "de").public == "TEE product: 2 Stück zu €25.00. Schreib #buy TEE!"


async def test_notices_are_rendered(
    bus: MessageBus, notifier: FakeNotifier, clock: FakeClock
) -> None:
    payments = FakePaymentGateway()
    bus.deps.payments = payments
    bus.deps.sellers = frozenset({"telegram:1"})
    await add_product(bus)
    await say(bus, "/drop TEE 1 25", who="telegram:1")
    won = await say(bus, "#buy", who="telegram:2")
    assert isinstance(won, chat.Claimed) and won.result.order is not None
    order = won.result.order
    private = render(won).private
    assert private == f"You have 1 × TEE product for €25.00. Pay within 10m: {order.checkout_url}"
    await say(bus, "#buy", who="telegram:3")
    clock.advance(minutes=11)
    await bus.handle(c.ExpireHolds())
    renderer = Renderer("en")
    expired, promoted = notifier.notices
    assert renderer.notice(expired, "@b").private == (
        f"Your hold on TEE product (order {order.ref}) has expired."
    )
    promoted_text = renderer.notice(promoted, "@c").private or ""
    assert promoted_text.startswith("Your turn: 1 × TEE product for €25.00. Pay within 10m: ")
    assert isinstance(promoted, PromotedFromWaitlist) and promoted.claim.order is not None
    ref = promoted.claim.order.ref
    await bus.handle(c.SettlePayment(ref, "pi_1", "evt_1"))
    paid = notifier.notices[-1]
    assert renderer.notice(paid, "@c") == Reply(
        public="TEE product sold to @c.",
        private=f"Payment received: order {ref}, 1 × TEE product. Thank you!",
    )
    refund = await say(bus, f"/refund {ref} 5", who="telegram:1")
    assert render(refund).private == f"Refund of order {ref} requested."
    assert payments.refunds[-1][1] == Money(500, "eur")
    await bus.handle(
        c.ApplyPaymentEvent(
            PaymentEvent(
                "evt_r",
                PaymentEventKind.CHARGE_REFUNDED,
                "charge.refunded",
                ref,
                payment_ref="pi_1",
                amount=2500,
                amount_refunded=500,
            )
        )
    )
    assert renderer.notice(notifier.notices[-1], "@c").private == (
        f"Order {ref} was refunded (€5.00)."
    )
    await bus.handle(c.EndDrop("TEE"))
    assert renderer.notice(notifier.notices[-1], "@c").public == "Drop TEE has ended: 1 of 1 sold."


async def test_waitlist_closed_and_checkout_ready_notices(
    bus: MessageBus, notifier: FakeNotifier, clock: FakeClock
) -> None:
    # The provider is down: a claim's pay link is the shop's own, and needs it not.
    payments = FakePaymentGateway(down=True)
    bus.deps.payments = payments
    bus.deps.sellers = frozenset({"telegram:1"})
    await add_product(bus)
    await say(bus, "/drop TEE 1 25", who="telegram:1")
    won = await say(bus, "#buy", who="telegram:2")
    assert isinstance(won, chat.Claimed) and won.result.order is not None
    link = won.result.order.checkout_url
    assert link is not None and link.startswith("http://127.0.0.1:8080/pay/")
    assert render(won).private == f"You have 1 × TEE product for €25.00. Pay within 10m: {link}"
    await say(bus, "#buy", who="telegram:3")
    ready = CheckoutReady(won.result.order)  # a link handed out by the sweeper's pass
    assert Renderer("fr").notice(ready, "@b").private == (
        f"Ton lien de paiement pour 1 × TEE product : {link}"
    )
    await say(bus, "/end", who="telegram:1")
    closed = [n for n in notifier.notices if isinstance(n, WaitlistClosed)]
    assert Renderer("es").notice(closed[0], "@c").private == (
        "El drop TEE terminó antes de tu turno. ¡La próxima vez!"
    )


async def test_a_refund_the_provider_refuses_is_answered(bus: MessageBus) -> None:
    payments = FakePaymentGateway()
    bus.deps.payments = payments
    bus.deps.sellers = frozenset({"telegram:1"})
    await add_product(bus)
    await say(bus, "/drop TEE 1 25", who="telegram:1")
    won = await say(bus, "#buy", who="telegram:2")
    assert isinstance(won, chat.Claimed) and won.result.order is not None
    await bus.handle(c.SettlePayment(won.result.order.ref, "pi_1", "evt_1"))
    payments.down = True
    failed = await say(bus, f"/refund {won.result.order.ref}", who="telegram:1")
    assert render(failed).public == "@anna: the payment provider is unreachable"
