"""Paying without leaving Telegram: with TELEGRAM_PAYMENT_PROVIDER_TOKEN set, a won claim
gets a native invoice (sendInvoice) instead of a Checkout link; the pre-checkout query is
answered from the core within Telegram's 10 seconds; successful_payment pays the order."""

import time

import pytest

import bots.telegram.payments as payments_module
from commerce.domain.commands import CloseDueAuctions, ExpireHolds
from commerce.domain.orders import OrderStatus
from commerce.service_layer.results import OrderView
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, Shop, ShopFactory, until
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser

PROVIDER_TOKEN = "284685063:TEST:provider-token"
SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna", "de")
BOB = FakeUser(12, "Bob", "bob")
CARL = FakeUser(13, "Carl", "carl")


async def _drop(shop_factory: ShopFactory, **overrides: object) -> Shop:
    """A shop (invoices on unless overridden) with a live drop of 3 TEEs at €25 in the
    group; Anna and Bob started the bot, Carl did not."""
    settings = {"telegram_payment_provider_token": PROVIDER_TOKEN, **overrides}
    shop = await shop_factory(**settings)
    api = shop.api
    await add_product(shop.bus, stock=10)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(ANNA.id, ANNA, "/start"), api.message(BOB.id, BOB, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25"))
    await shop.settle()
    return shop


async def _order_of(shop: Shop, user: FakeUser) -> str:
    orders = await shop.bus.deps.store.orders(None, None)
    (ref,) = [o.ref for o in orders if o.identity == f"telegram:{user.id}"]
    return ref


async def _answer(api: FakeBotApi, update: dict[str, object]) -> dict[str, object]:
    query = update["pre_checkout_query"]
    assert isinstance(query, dict)
    await until(lambda: query["id"] in api.pre_checkout_answers, what="the pre-checkout answer")
    return api.pre_checkout_answers[query["id"]]


async def test_a_claim_gets_an_invoice_and_is_paid_in_telegram(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _drop(shop_factory)
    # Telegram only sends the pre-checkout queries a bot asks for.
    assert "pre_checkout_query" in api.of("getUpdates")[-1].params["allowed_updates"]
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    ref = await _order_of(shop, ANNA)

    (invoice,) = api.invoices
    assert int(invoice["chat_id"]) == ANNA.id
    assert invoice["payload"] == ref
    assert invoice["currency"] == "EUR"
    assert invoice["prices"] == [{"label": "1 × TEE product", "amount": 2500}]
    assert invoice["provider_token"] == PROVIDER_TOKEN
    assert invoice["title"] == "TEE product"
    assert invoice["need_shipping_address"] == "true"  # not digital: it is shipped
    # A short text before it, in Anna's language; no Checkout link anywhere.
    (text,) = api.texts_to(ANNA.id)[1:]
    assert text == (
        "Du hast 1 × TEE product für €25.00. Bezahle innerhalb 10m mit der Rechnung unten."
    )
    assert not any("checkout" in t for t in api.texts_to(ANNA.id) + api.texts_to(GROUP))
    assert shop.payments.opened == []  # no Checkout session was opened for it
    order = await shop.bus.deps.store.order(ref)
    assert order.status is OrderStatus.RESERVED and order.checkout_url is None

    # Anna presses Pay: the core says yes, at once.
    asked = api.pre_checkout(ANNA, ref, 2500)
    started = time.monotonic()
    await shop.processed(asked)
    answer = await _answer(api, asked)
    assert answer["ok"] is True and not answer["error_message"]
    assert float(str(answer["at"])) - started < 2.0

    # Telegram reports the payment; it is delivered twice (same update id).
    paid = api.successful_payment(
        ANNA, ref, 2500, provider_charge_id="ch_3Abc", telegram_charge_id="tg_1"
    )
    await shop.processed(paid)
    await shop.processed(paid)
    await shop.settle()
    order = await shop.bus.deps.store.order(ref)
    assert order.status is OrderStatus.PAID
    assert order.payment_ref == "ch_3Abc"  # refunds go through Stripe with the charge id
    # What Anna typed on the invoice (order_info), which only the bot is told: kept for the
    # seller, in one line.
    assert order.ship_to == "Anna, Street 1, 10115 Berlin, DE"
    paid_texts = [t for t in api.texts_to(ANNA.id) if t.startswith("Zahlung erhalten")]
    assert paid_texts == [f"Zahlung erhalten: Bestellung {ref}, 1 × TEE product. Danke!"]
    board = api.board(GROUP)
    assert board is not None
    assert board.text.endswith("Last buyers: @anna ✓")  # the group sees it sold
    assert shop.payments.refunds == []

    # The same payment reported under another update id changes nothing either.
    again = api.successful_payment(
        ANNA, ref, 2500, provider_charge_id="ch_3Abc", telegram_charge_id="tg_1"
    )
    await shop.processed(again)
    assert (await shop.bus.deps.store.order(ref)).status is OrderStatus.PAID
    assert shop.payments.refunds == []
    # A second invoice paid for an order paid already goes back.
    await shop.processed(
        api.successful_payment(
            ANNA, ref, 2500, provider_charge_id="ch_3Dup", telegram_charge_id="tg_2"
        )
    )
    assert [r[0] for r in shop.payments.refunds] == ["ch_3Dup"]
    assert (await shop.bus.deps.store.order(ref)).payment_ref == "ch_3Abc"


async def test_an_expired_hold_is_refused_at_pre_checkout(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _drop(shop_factory)
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    await shop.settle()
    ref = await _order_of(shop, BOB)
    assert len(api.invoices) == 1

    await shop.later(minutes=11)
    await shop.bus.handle(ExpireHolds())
    await shop.settle()
    assert (await shop.bus.deps.store.order(ref)).status is OrderStatus.EXPIRED

    asked = api.pre_checkout(BOB, ref, 2500)
    started = time.monotonic()
    await shop.processed(asked)
    answer = await _answer(api, asked)
    assert answer["ok"] is False
    assert answer["error_message"] == (
        "This hold has expired; type #buy again while the drop is live."
    )
    assert float(str(answer["at"])) - started < 2.0  # Telegram allows 10 s


async def test_pre_checkout_refuses_other_amounts_and_other_buyers(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _drop(shop_factory)
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    ref = await _order_of(shop, BOB)

    wrong_amount = api.pre_checkout(BOB, ref, 100)
    not_bob = api.pre_checkout(CARL, ref, 2500)
    unknown = api.pre_checkout(BOB, "NOPE42", 2500)
    await shop.processed(wrong_amount, not_bob, unknown)
    assert (await _answer(api, wrong_amount))["error_message"] == (
        "This invoice is out of date; /orders shows your orders."
    )
    assert (await _answer(api, not_bob))["error_message"] == (
        "This order belongs to someone else."
    )
    assert (await _answer(api, unknown))["error_message"] == "This order does not exist."

    # A payment of another amount than the order's is left for a human to review.
    await shop.processed(api.successful_payment(BOB, ref, 100, currency="EUR"))
    reviewed = await shop.bus.deps.store.order(ref)
    assert reviewed.status is OrderStatus.NEEDS_REVIEW
    assert reviewed.ship_to == "Bob, Street 1, 10115 Berlin, DE"  # sorting it out needs it


async def test_a_buyer_who_never_started_the_bot_gets_the_invoice_from_the_deep_link(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _drop(shop_factory)
    await shop.processed(api.message(GROUP, CARL, "#buy"))
    await shop.settle()
    ref = await _order_of(shop, CARL)
    assert api.invoices == []
    deep = [m for m in api.messages_in(GROUP) if m.buttons and "url" in m.buttons[0]]
    assert deep[0].buttons[0]["url"] == f"https://t.me/livebuy_bot?start=pay-{ref}"

    await shop.processed(api.message(CARL.id, CARL, f"/start pay-{ref}"))
    await shop.settle()
    (invoice,) = api.invoices
    assert int(invoice["chat_id"]) == CARL.id and invoice["payload"] == ref
    assert api.texts_to(CARL.id)[0].startswith("You have 1 × TEE product for €25.00. Pay with")


async def test_without_the_token_a_claim_gets_a_link_as_before(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _drop(shop_factory, telegram_payment_provider_token=None)
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    await shop.settle()
    ref = await _order_of(shop, BOB)
    assert api.invoices == []
    assert f"/pay/{ref}?t=" in api.texts_to(BOB.id)[1]


async def test_the_buy_button_and_a_promotion_from_the_waitlist_get_invoices(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory(telegram_payment_provider_token=PROVIDER_TOKEN)
    await add_product(shop.bus, stock=10)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(ANNA.id, ANNA, "/start"), api.message(BOB.id, BOB, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 1 25"))
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None
    await shop.processed(api.press(board, ANNA))  # wins the one unit
    await shop.processed(api.message(GROUP, BOB, "#buy"))  # waitlisted
    await shop.settle()
    anna_ref = await _order_of(shop, ANNA)
    assert [(int(i["chat_id"]), i["payload"]) for i in api.invoices] == [(ANNA.id, anna_ref)]

    await shop.processed(api.message(ANNA.id, ANNA, "/pass"))  # Bob's turn
    await shop.settle()
    bob_ref = await _order_of(shop, BOB)
    assert [(int(i["chat_id"]), i["payload"]) for i in api.invoices][1:] == [(BOB.id, bob_ref)]
    assert any(t.startswith("Your turn: 1 × TEE product") for t in api.texts_to(BOB.id))
    assert not any("checkout" in t for t in api.texts_to(BOB.id))


async def test_an_auction_winner_gets_an_invoice(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory(telegram_payment_provider_token=PROVIDER_TOKEN)
    await add_product(shop.bus, "CARD", stock=1)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(BOB.id, BOB, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/auction CARD start 1 for 50s"))
    await shop.processed(api.message(GROUP, BOB, "#bid 5"))
    await shop.later(seconds=61)
    await shop.bus.handle(CloseDueAuctions())
    await shop.settle()
    (invoice,) = api.invoices
    assert int(invoice["chat_id"]) == BOB.id
    assert invoice["prices"] == [{"label": "1 × CARD product", "amount": 500}]
    assert "You won CARD product for €5.00. Pay with the invoice below" in api.texts_to(BOB.id)[-1]


async def test_pre_checkout_after_the_hold_ran_out_or_the_order_was_paid(
    shop_factory: ShopFactory, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = await _drop(shop_factory)
    await shop.processed(api.message(GROUP, ANNA, "#buy"), api.message(GROUP, BOB, "#buy"))
    anna, bob = await _order_of(shop, ANNA), await _order_of(shop, BOB)
    await shop.processed(api.successful_payment(ANNA, anna, 2500))
    paid_already = api.pre_checkout(ANNA, anna, 2500)
    await shop.processed(paid_already)
    assert (await _answer(api, paid_already))["error_message"] == (
        "Diese Bestellung ist schon bezahlt."
    )

    await shop.later(minutes=11)  # the sweeper has not come by: still refused
    ran_out = api.pre_checkout(BOB, bob, 2500)
    await shop.processed(ran_out)
    assert (await _answer(api, ran_out))["error_message"] == (
        "This hold has expired; type #buy again while the drop is live."
    )

    # A core too slow to answer in time: refused rather than left unanswered.
    monkeypatch.setattr(payments_module, "PRE_CHECKOUT_BUDGET", 0.0)
    slow = api.pre_checkout(BOB, bob, 2500)
    await shop.processed(slow)
    assert (await _answer(api, slow))["error_message"] == (
        "The shop could not check your order in time. Please try again."
    )


async def test_a_payment_is_recorded_after_a_passing_fault(
    shop_factory: ShopFactory,
    api: FakeBotApi,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    shop = await _drop(shop_factory)
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    ref = await _order_of(shop, BOB)
    store = shop.bus.deps.store
    real = store.order
    faults = [RuntimeError("database restarting")]

    async def flaky(ref: str) -> OrderView:
        if faults:
            raise faults.pop()
        return await real(ref)

    monkeypatch.setattr(payments_module, "PAYMENT_RETRIES", (0.0,))
    monkeypatch.setattr(store, "order", flaky)
    await shop.processed(api.successful_payment(BOB, ref, 2500, provider_charge_id="ch_9"))
    assert (await real(ref)).status is OrderStatus.PAID

    # A payment for no order of ours is logged with its charge ids, for a human.
    await shop.processed(api.successful_payment(BOB, "NOPE42", 2500, provider_charge_id="ch_x"))
    assert any("ch_x" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")
