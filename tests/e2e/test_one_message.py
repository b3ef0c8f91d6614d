"""One-message buying end to end: the real app, the real stripe library and the built-in
Stripe emulator (Customers, PaymentMethods, setup-mode Checkout, off-session PaymentIntents
with Stripe's test cards), on SQLite and PostgreSQL."""

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import AsyncEngine

from bots.rendering import Renderer
from commerce.adapters.stripe_events import to_payment_event
from commerce.domain import commands as c
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.domain.products import ProductSpec
from commerce.service_layer import chat
from commerce.service_layer.messagebus import MessageBus
from commerce.service_layer.ports import PaymentError
from commerce.service_layer.results import (
    AuctionWon,
    CardSaved,
    ClaimOutcome,
    OrderPaid,
    OrderView,
    PaymentFellBack,
    PaymentOutcome,
    PromotedFromWaitlist,
    RefusalReason,
)
from tests.conftest import test_settings
from tests.e2e.conftest import checkout_page, emulator_auth, free_port
from tests.fakes import FakeClock, FakeNotifier
from tests.integration.helpers import add_product
from webhooks.app import create_app
from webhooks.keys import BUS

OK, DECLINES, NEEDS_3DS = "4242424242424242", "4000000000000341", "4000002760003184"
SELLER = "web:seller"


@dataclass
class Shop:
    bus: MessageBus
    http: ClientSession
    base: str
    notifier: FakeNotifier
    clock: FakeClock
    messages: int = 0

    async def say(
        self, who: str, text: str, chat_ref: str = "web:demo", private: bool = False
    ) -> Any:
        self.messages += 1
        key = f"{chat_ref}:{self.messages}"
        name = who.rpartition(":")[2]
        return await self.bus.handle(c.ChatMessage(key, chat_ref, who, text, name, private))

    async def drop(
        self, sku: str = "TEE", limit: int | None = None, quantity: int = 20, **terms: Any
    ) -> None:
        drop = DropTerms(
            sku,
            quantity,
            Money(terms.pop("price", 2500), "eur"),
            None,
            limit,
            DropPolicy.HOLD,
            timedelta(minutes=10),
            **terms,
        )
        await self.bus.handle(c.StartDrop(drop))  # every chat

    async def end(self, sku: str = "TEE") -> None:
        await self.bus.handle(c.EndDrop(sku))

    async def pay(self, order: OrderView, card: str = OK) -> OrderView:
        """Pays the order's checkout with a test card, as a buyer on the page would."""
        if order.checkout_session is None:  # the buyer opens the pay link: the session is made
            assert order.checkout_url is not None
            await checkout_page(self.http, order.checkout_url)
            order = await self.bus.deps.store.order(order.ref)
        assert order.checkout_session is not None
        url = f"{self.base}/stripe-emulator/_test/pay/{order.checkout_session}"
        async with self.http.post(url, data={"card": card}) as answer:
            assert answer.status == 200, await answer.text()
        return await self.until(order.ref, OrderStatus.PAID)

    async def until(self, ref: str, status: OrderStatus) -> OrderView:
        for _ in range(200):  # webhooks arrive in the background
            order = await self.bus.deps.store.order(ref)
            if order.status is status:
                return order
            await asyncio.sleep(0.025)
        raise AssertionError(f"order {ref} is {order.status}, not {status}")

    async def settled(self) -> None:
        """Every webhook the emulator sent so far was delivered."""
        for _ in range(200):
            async with self.http.get(f"{self.base}/stripe-emulator/_test/deliveries") as got:
                deliveries = await got.json()
            if all(d["delivered"] for d in deliveries):
                return
            await asyncio.sleep(0.025)
        raise AssertionError("webhooks not delivered")

    async def events(self, type_: str) -> list[dict[str, Any]]:
        url = f"{self.base}/stripe-emulator/v1/events?limit=100"
        async with self.http.get(url) as got:
            data = (await got.json())["data"]
        return [e for e in data if e["type"] == type_]

    async def saved_card_for(self, who: str, card: str = OK) -> None:
        """A first purchase through the link, which keeps the card."""
        await self.drop("FIRST")
        first = (await self.say(who, "#buy FIRST")).result.order
        await self.pay(first, card)
        await self.end("FIRST")
        await self.settled()
        assert await self.bus.deps.cards.card(who) is not None  # type: ignore[union-attr]


@pytest.fixture
async def shop(database_url: str, engine: AsyncEngine) -> AsyncIterator[Shop]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    notifier, clock = FakeNotifier(), FakeClock()
    settings = test_settings(database_url, public_base_url=base, livebuy_sellers=SELLER)
    app = create_app(settings, engine=engine, notifier=notifier, clock=clock, sweep_every=3600)
    async with (
        TestServer(app, host="127.0.0.1", port=port) as server,
        # The shop's scripts (paying, reading events) carry the emulator's key.
        ClientSession(headers=await emulator_auth(engine)) as http,
    ):
        bus = server.app[BUS]
        for sku in ("TEE", "FIRST", "CAP"):
            await add_product(bus, sku, stock=50)
        yield Shop(bus, http, base, notifier, clock)


def paid_notices(shop: Shop, ref: str) -> int:
    return sum(1 for n in shop.notifier.of(OrderPaid) if n.order.ref == ref)  # type: ignore[attr-defined]


async def test_first_checkout_keeps_the_card_and_the_next_buy_takes_one_message(
    shop: Shop,
) -> None:
    await shop.drop("FIRST")
    first = await shop.say("web:anna", "#buy FIRST")
    assert first.result.order.checkout_url is not None  # a new buyer: the link
    await shop.pay(first.result.order)
    await shop.settled()
    saved = shop.notifier.of(CardSaved)
    assert [(n.identity, str(n.card)) for n in saved] == [("web:anna", "Visa •••• 4242")]  # type: ignore[attr-defined]

    await shop.drop()
    claimed = await shop.say("web:anna", "want it #buy TEE")
    assert isinstance(claimed, chat.Claimed) and claimed.result.confirm is not None
    order = claimed.result.order
    assert (
        order is not None and order.checkout_url is None and order.status is OrderStatus.RESERVED
    )
    assert order.confirm_until is not None
    reply = Renderer("en").outcome(claimed, "@anna")
    assert reply.private is not None and "€25.00 with Visa •••• 4242" in reply.private
    assert reply.actions == (("Confirm", f"confirm:{order.ref}"),)

    confirmed = await shop.say("web:anna", "#confirm", private=True)
    assert isinstance(confirmed, chat.CardPaid)
    assert confirmed.result.outcome is PaymentOutcome.PAID
    assert confirmed.result.order.status is OrderStatus.PAID
    await shop.settled()  # payment_intent.succeeded arrives as well: paid once
    assert paid_notices(shop, order.ref) == 1
    history = await shop.bus.deps.store.history(order.ref)
    assert [e.to_status for e in history] == ["reserved", "reserved", "paid"]
    # Paid once by whichever came first: the charge's own answer or its webhook (Stripe, and
    # the emulator, may deliver payment_intent.succeeded before the API call returns).
    assert history[1].cause == "confirm:asked"
    assert history[2].cause.startswith(("charge:pi_", "stripe:evt_"))
    assert len(await shop.events("payment_intent.succeeded")) == 2  # the link's and the card's


async def test_a_confirm_that_times_out_gives_the_units_back(shop: Shop) -> None:
    await shop.saved_card_for("web:anna")
    await shop.drop()
    claimed = await shop.say("web:anna", "#buy")
    order = claimed.result.order
    assert order.hold_expires_at == order.confirm_until  # the confirm window is the hold
    shop.clock.advance(minutes=5, seconds=1)
    await shop.bus.handle(c.ExpireHolds())
    assert (await shop.bus.deps.store.order(order.ref)).status is OrderStatus.EXPIRED
    late = await shop.say("web:anna", "#confirm", private=True)
    assert isinstance(late, chat.Failed) and "confirm" in late.reason
    drop = (await shop.bus.deps.store.drops())[0]
    assert drop.remaining == drop.quantity


@pytest.mark.parametrize(("card", "reason"), [(DECLINES, "declined"), (NEEDS_3DS, "auth")])
async def test_a_card_that_cannot_pay_falls_back_to_the_link(
    shop: Shop, card: str, reason: str
) -> None:
    await shop.saved_card_for("web:anna", card)
    await shop.drop()
    order = (await shop.say("web:anna", "#buy")).result.order
    confirmed = await shop.say("web:anna", "/confirm", private=True)
    assert isinstance(confirmed, chat.CardPaid)
    result = confirmed.result
    assert result.outcome is PaymentOutcome.FALLBACK
    assert (
        result.order.checkout_url is not None and result.order.status is OrderStatus.CHECKOUT_OPEN
    )
    # The link gets the drop's full hold again, not what was left of the confirm window.
    assert result.order.hold_expires_at >= shop.clock.now() + timedelta(minutes=10)
    text = Renderer("en").payment(result)
    assert result.order.checkout_url in text and "could not pay" in text
    assert result.order.ship_to is None  # the link's page asks where it goes
    await shop.settled()  # payment_intent.payment_failed came too: no second link
    assert shop.notifier.of(PaymentFellBack) == []
    assert len(await shop.events("payment_intent.payment_failed")) == 1
    paid = await shop.pay(result.order)  # the same held units, paid through the link
    assert paid.ref == order.ref and paid_notices(shop, order.ref) == 1


async def test_a_double_tap_charges_once(shop: Shop) -> None:
    await shop.saved_card_for("web:anna")
    await shop.drop()
    order = (await shop.say("web:anna", "#buy")).result.order
    taps = await asyncio.gather(
        *(shop.say("web:anna", "#confirm", private=True) for _ in range(5))
    )
    paid = [t for t in taps if isinstance(t, chat.CardPaid)]
    refused = [t for t in taps if isinstance(t, chat.Failed)]
    assert len(paid) == 1 and len(refused) == 4
    assert all("being paid already" in t.reason or "nothing waits" in t.reason for t in refused)
    await shop.settled()
    charges = [
        e
        for e in await shop.events("payment_intent.succeeded")
        if e["data"]["object"]["metadata"].get("order_ref") == order.ref
    ]
    assert len(charges) == 1 and paid_notices(shop, order.ref) == 1


async def test_the_webhook_and_the_answer_race_and_the_order_is_paid_once(shop: Shop) -> None:
    """Ten buyers confirm at once; each payment is reported by the API answer and by
    payment_intent.succeeded (delivered twice here), in whatever order they land."""
    buyers = [f"web:b{i}" for i in range(10)]
    for who in buyers:
        await shop.saved_card_for(who)
    await shop.drop()
    orders = [(await shop.say(who, "#buy")).result.order for who in buyers]
    await asyncio.gather(*(shop.say(who, "#confirm", private=True) for who in buyers))
    await shop.settled()
    for event in await shop.events("payment_intent.succeeded"):  # Stripe may resend
        await shop.bus.handle(c.ApplyPaymentEvent(to_payment_event(event)))
    for order in orders:
        assert (await shop.bus.deps.store.order(order.ref)).status is OrderStatus.PAID
        assert paid_notices(shop, order.ref) == 1
        moves = [e.to_status for e in await shop.bus.deps.store.history(order.ref)]
        assert moves.count("paid") == 1


async def test_linked_identities_share_card_orders_and_limit(shop: Shop) -> None:
    tg, dc = "telegram:1001", "discord:2002"
    await shop.saved_card_for(tg)
    issued = await shop.say(tg, "/link", "telegram:1001", private=True)
    assert isinstance(issued, chat.LinkCodeIssued) and re.fullmatch(r"[A-Z2-9]{8}", issued.code)
    refused = await shop.say(tg, f"/link {issued.code}", "telegram:1001", private=True)
    assert isinstance(refused, chat.Failed)  # the own platform: nothing to join
    linked = await shop.say(dc, f"/link {issued.code}", "discord:dm", private=True)
    assert isinstance(linked, chat.IdentitiesLinked)
    assert set(linked.identities) == {tg, dc} and str(linked.card) == "Visa •••• 4242"
    cards = shop.bus.deps.cards
    assert cards is not None and await cards.ship_to(dc) == await cards.ship_to(tg) is not None
    again = await shop.say("web:mallory", f"/link {issued.code}", private=True)
    assert isinstance(again, chat.Failed) and "used" in again.reason

    await shop.drop(limit=1)
    on_telegram = await shop.say(tg, "#buy", "telegram:-100")
    assert on_telegram.result.confirm is not None  # the shared card
    on_discord = await shop.say(dc, "#buy", "discord:55")
    assert on_discord.result.reason is RefusalReason.LIMIT_REACHED  # one limit for both
    orders = await shop.say(dc, "/orders", "discord:dm", private=True)
    assert {o.identity for o in orders.orders} == {tg}  # one order list


async def test_link_codes_expire(shop: Shop) -> None:
    issued = await shop.say("telegram:1", "/link", "telegram:1", private=True)
    shop.clock.advance(minutes=10, seconds=1)
    late = await shop.say("discord:2", f"/link {issued.code}", "discord:dm", private=True)
    assert isinstance(late, chat.Failed) and "expired" in late.reason
    public = await shop.say("telegram:1", "/link", "telegram:-100")
    assert isinstance(public, chat.PrivateOnly)


async def test_unlink_detaches_the_card_and_links_come_back(shop: Shop) -> None:
    await shop.saved_card_for("web:anna")
    card = await shop.bus.deps.cards.card("web:anna")  # type: ignore[union-attr]
    shown = await shop.say("web:anna", "/card", private=True)
    assert isinstance(shown, chat.CardShown) and str(shown.card) == "Visa •••• 4242"
    assert "/stripe-emulator/pay/" in shown.setup_url
    gone = await shop.say("web:anna", "/unlink", private=True)
    assert isinstance(gone, chat.CardUnlinked) and str(gone.card) == "Visa •••• 4242"
    async with shop.http.get(
        f"{shop.base}/stripe-emulator/v1/payment_methods/{card.payment_method}",  # type: ignore[union-attr]
    ) as got:
        assert (await got.json())["customer"] is None  # detached at Stripe
    await shop.drop()
    claimed = await shop.say("web:anna", "#buy")
    assert claimed.result.confirm is None and claimed.result.order.checkout_url is not None


async def test_card_setup_saves_a_card_without_buying(shop: Shop) -> None:
    shown = await shop.say("web:zoe", "/card", private=True)
    assert isinstance(shown, chat.CardShown) and shown.card is None
    session = shown.setup_url.rsplit("/", 1)[1]
    url = f"{shop.base}/stripe-emulator/_test/pay/{session}"
    async with shop.http.post(url, data={"card": NEEDS_3DS}) as answer:
        assert answer.status == 200, await answer.text()
    await shop.settled()
    card = await shop.bus.deps.cards.card("web:zoe")  # type: ignore[union-attr]
    assert card is not None and card.last4 == "3184"
    assert [n.identity for n in shop.notifier.of(CardSaved)] == ["web:zoe"]  # type: ignore[attr-defined]


async def test_one_message_buys_ship_to_the_last_checkout_address(shop: Shop) -> None:
    """A card saved with /card alone (a setup page asks no address): the first buy of a
    product that ships is a link, whose page asks the address; from then on one message,
    and the question says where it goes. A digital product needs no address."""
    shown = await shop.say("web:zoe", "/card", private=True)
    url = f"{shop.base}/stripe-emulator/_test/pay/{shown.setup_url.rsplit('/', 1)[1]}"
    async with shop.http.post(url, data={"card": OK}) as answer:
        assert answer.status == 200, await answer.text()
    await shop.settled()
    ebook = ProductSpec("EBOOK", "EBOOK product", Money(900, "eur"), "", (), digital=True)
    await shop.bus.handle(c.AddProduct(ebook, 50))
    await shop.drop("EBOOK", price=900)
    digital = (await shop.say("web:zoe", "#buy EBOOK")).result
    assert digital.confirm is not None and digital.confirm.ship_to is None

    await shop.drop()
    first = (await shop.say("web:zoe", "#buy TEE")).result
    assert first.confirm is None and first.order.checkout_url is not None  # no address yet
    paid = await shop.pay(first.order)  # with the address the page asks for
    assert paid.ship_to == "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"
    await shop.settled()

    second = await shop.say("web:zoe", "#buy TEE")
    assert second.result.confirm is not None and second.result.confirm.ship_to == paid.ship_to
    question = Renderer("en").outcome(second, "@zoe").private
    assert question is not None and question.endswith(f"\nShips to: {paid.ship_to}.")
    confirmed = await shop.say("web:zoe", "#confirm", private=True)
    assert confirmed.result.order.status is OrderStatus.PAID
    assert confirmed.result.order.ship_to == paid.ship_to  # the seller sees where it goes


async def test_a_waitlisted_card_holder_is_asked_to_confirm_when_a_unit_frees_up(
    shop: Shop,
) -> None:
    """A waitlisted `#buy` is a claim too: when its units come, a card holder gets the
    question and its Confirm button (one tap), not a link."""
    await shop.saved_card_for("web:bo")
    await shop.drop(quantity=1)
    first = (await shop.say("web:anna", "#buy")).result
    assert first.outcome is ClaimOutcome.WON and first.order.checkout_url is not None
    waiting = (await shop.say("web:bo", "#buy")).result
    assert waiting.outcome is ClaimOutcome.WAITLISTED

    await shop.say("web:anna", "/pass")
    [promoted] = shop.notifier.of(PromotedFromWaitlist)
    assert isinstance(promoted, PromotedFromWaitlist)
    order = promoted.claim.order
    assert promoted.claim.confirm is not None and order is not None
    assert order.checkout_url is None and order.confirm_until is not None
    reply = Renderer("en").notice(promoted, "@bo")
    assert reply.private is not None and reply.private.startswith(
        "Your turn! 1 × TEE product for €25.00 with Visa •••• 4242: confirm?"
    )
    assert reply.actions == (("Confirm", f"confirm:{order.ref}"),)
    confirmed = await shop.say("web:bo", "#confirm", private=True)
    assert (
        confirmed.result.order.status is OrderStatus.PAID
        and confirmed.result.order.ref == order.ref
    )


async def test_an_auction_won_by_a_card_holder_is_paid_with_one_tap(shop: Shop) -> None:
    """The bid was the decision: the winner with a saved card gets the confirm (within the
    win's time to pay) instead of a link; a winner without one still gets the link."""
    await shop.saved_card_for("web:anna")
    await shop.bus.handle(c.StartAuction("TEE", Decimal("1"), timedelta(seconds=30)))
    await shop.say("web:bo", "#bid 3")
    await shop.say("web:anna", "#bid 5")
    shop.clock.advance(seconds=31)
    await shop.bus.handle(c.ExpireHolds())
    [won] = shop.notifier.of(AuctionWon)
    assert isinstance(won, AuctionWon) and won.confirm is not None
    assert won.order.checkout_url is None and won.order.confirm_until == won.order.hold_expires_at
    reply = Renderer("en").notice(won, "")
    assert reply.private is not None and reply.private.startswith(
        "You won TEE product! 1 × TEE product for €5.00 with Visa •••• 4242: confirm?"
    )
    assert reply.actions == (("Confirm", f"confirm:{won.order.ref}"),)
    confirmed = await shop.say("web:anna", f"/confirm {won.order.ref}", private=True)
    assert confirmed.result.order.status is OrderStatus.PAID
    assert confirmed.result.order.amount == Money(500, "eur")

    await shop.bus.handle(c.StartAuction("TEE", Decimal("1"), timedelta(seconds=30)))
    await shop.say("web:bo", "#bid 2")  # bo has no saved card: the link, as before
    shop.clock.advance(seconds=31)
    await shop.bus.handle(c.ExpireHolds())
    later = shop.notifier.of(AuctionWon)[-1]
    assert isinstance(later, AuctionWon) and later.confirm is None
    assert later.order.checkout_url is not None


async def test_confirm_rules_per_drop(shop: Shop) -> None:
    await shop.saved_card_for("web:anna")  # a paid order: trusted from now on
    await shop.drop(confirm="trusted")
    trusted = await shop.say("web:anna", "#buy")
    assert trusted.result.confirm is None
    assert trusted.result.payment.outcome is PaymentOutcome.PAID
    await shop.end()
    await shop.drop("CAP", confirm="above:3000")  # 25.00 € is below: no confirm
    small = await shop.say("web:anna", "#buy CAP 1")
    assert small.result.payment.outcome is PaymentOutcome.PAID
    big = await shop.say("web:anna", "#buy CAP 2")  # 50.00 € asks
    assert big.result.confirm is not None and big.result.payment is None


async def test_seller_starts_a_confirm_rule_and_a_promo_from_chat(shop: Shop) -> None:
    opened = await shop.say(SELLER, "/drop TEE 5 25 confirm above 30")
    assert isinstance(opened, chat.DropOpened) and opened.drop.confirm == "above:3000"
    await shop.say(SELLER, "/end TEE")
    promo = await shop.say(SELLER, "/drop CAP 2 free")
    assert isinstance(promo, chat.DropOpened) and promo.drop.promo
    assert promo.drop.per_buyer_limit == 1
    assert "one per person" in (Renderer("en").outcome(promo, "@seller").public or "")

    won = await shop.say("web:anna", "sharing this #buy")
    assert won.result.payment.outcome is PaymentOutcome.FREE
    assert won.result.order.status is OrderStatus.PAID and won.result.order.amount.minor == 0
    assert "thanks" in (Renderer("en").outcome(won, "@anna").public or "")
    again = await shop.say("web:anna", "#buy")
    assert again.result.reason is RefusalReason.LIMIT_REACHED
    secret = await shop.say("web:bo", "#buy", "web:demo", private=True)
    assert isinstance(secret, chat.Failed) and "public" in secret.reason
    assert (await shop.bus.deps.store.drops())[0].remaining == 1
    assert not [o for o in await shop.bus.deps.store.orders(None, None) if o.identity == "web:bo"]
    # Sold out, a private `#buy` is refused the same (it joined the waitlist, and a unit
    # freed later would have been given for no public post).
    assert (await shop.say("web:cy", "#buy")).result.payment.outcome is PaymentOutcome.FREE
    late = await shop.say("web:dee", "#buy", "web:demo", private=True)
    assert isinstance(late, chat.Failed) and "public" in late.reason
    assert await shop.events("checkout.session.completed") == []  # no Stripe at all


async def test_the_sweeper_keeps_the_units_while_a_confirmed_charge_is_answered(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Confirmed at the last second: Stripe answers after the confirm window, and the sweeper
    runs meanwhile. The units stay the buyer's, who is charged once and gets the order."""
    await shop.saved_card_for("web:anna")
    await shop.drop()
    order = (await shop.say("web:anna", "#buy")).result.order
    gateway = shop.bus.deps.payments
    assert gateway is not None
    charge = gateway.charge_card

    async def slow(request: Any) -> Any:
        shop.clock.advance(minutes=1)  # the confirm window (5 minutes) has passed now
        await shop.bus.handle(c.ExpireHolds())
        return await charge(request)

    shop.clock.advance(minutes=4, seconds=50)
    monkeypatch.setattr(gateway, "charge_card", slow)
    confirmed = await shop.say("web:anna", "#confirm", private=True)
    assert confirmed.result.outcome is PaymentOutcome.PAID
    assert (await shop.bus.deps.store.order(order.ref)).status is OrderStatus.PAID
    moves = [e.to_status for e in await shop.bus.deps.store.history(order.ref)]
    assert "expired" not in moves


async def test_a_provider_outage_at_an_immediate_charge_asks_for_a_confirm(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trusted buyer is charged at once; Stripe cannot be reached: the answer asks to
    confirm (the same, idempotent charge) instead of failing the #buy."""
    await shop.saved_card_for("web:anna")
    await shop.drop(confirm="trusted")
    gateway = shop.bus.deps.payments
    assert gateway is not None
    charge = gateway.charge_card

    async def down(request: Any) -> Any:
        raise PaymentError("the payment provider cannot be reached; try again shortly")

    monkeypatch.setattr(gateway, "charge_card", down)
    claimed = await shop.say("web:anna", "#buy")
    assert isinstance(claimed, chat.Claimed) and claimed.result.confirm is not None
    assert claimed.result.order.status is OrderStatus.RESERVED
    monkeypatch.setattr(gateway, "charge_card", charge)
    confirmed = await shop.say("web:anna", "#confirm", private=True)
    assert confirmed.result.outcome is PaymentOutcome.PAID
    await shop.settled()
    assert paid_notices(shop, claimed.result.order.ref) == 1


async def test_no_native_invoice_while_the_card_is_asked_or_charged(shop: Shop) -> None:
    await shop.saved_card_for("web:anna")
    await shop.drop()
    order = (await shop.say("web:anna", "#buy")).result.order
    check = c.CheckInvoice(order.ref, "web:anna", order.amount.minor, order.amount.currency)
    assert await shop.bus.handle(check) is not None  # a confirm is pending: refused
