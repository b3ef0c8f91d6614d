"""One-message buying in Telegram, end to end: python-telegram-bot against the fake Bot API,
the real stripe library against the built-in Stripe emulator (a first checkout keeps the card,
off-session charges with Stripe's test cards), on SQLite and PostgreSQL."""

import re
from datetime import timedelta

from aiohttp import ClientSession

from commerce.domain.commands import ChatMessage, ExpireHolds, StartDrop
from commerce.domain.drops import DropPolicy, DropTerms
from commerce.domain.money import Money
from commerce.domain.orders import OrderStatus
from commerce.service_layer import chat
from commerce.service_layer.results import (
    OrderView,
    PaymentFellBack,
    PaymentOutcome,
    PaymentResult,
)
from tests.e2e.conftest import checkout_page, emulator_auth
from tests.integration.helpers import add_product, give_address
from tests.telegram.conftest import GROUP, Shop, ShopFactory, until
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser, Posted
from webhooks.keys import ENGINE

OK, DECLINES = "4242424242424242", "4000000000000341"
PROVIDER_TOKEN = "284685063:TEST:provider-token"
SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna")
BOB = FakeUser(12, "Bob", "bob", "de")
HOLD = timedelta(minutes=10)


async def _shop(shop_factory: ShopFactory, **overrides: object) -> Shop:
    shop = await shop_factory(emulator=True, **overrides)
    for sku in ("FIRST", "TEE"):
        await add_product(shop.bus, sku, stock=20)
    shop.api.admins[GROUP] = {SELLER.id}
    return shop


async def _order(shop: Shop, user: FakeUser, sku: str) -> OrderView:
    orders = await shop.bus.deps.store.orders(None, None)
    (order,) = [o for o in orders if o.identity == f"telegram:{user.id}" and o.drop_code == sku]
    return order


async def _until_status(shop: Shop, ref: str, status: OrderStatus) -> OrderView:
    async def reached() -> bool:
        return (await shop.bus.deps.store.order(ref)).status is status

    await until(reached, what=f"order {ref} {status}")
    return await shop.bus.deps.store.order(ref)


async def _emulator_pay(shop: Shop, session: str, card: str) -> None:
    """A buyer pays a Checkout session (payment or setup) on the emulator's page."""
    url = f"http://127.0.0.1:{shop.client.server.port}/stripe-emulator/_test/pay/{session}"
    auth = await emulator_auth(shop.client.server.app[ENGINE])
    async with ClientSession(headers=auth) as http, http.post(url, data={"card": card}) as got:
        assert got.status == 200, await got.text()


async def _opened(shop: Shop, order: OrderView) -> OrderView:
    """The buyer opens the order's pay link: its Checkout session is made."""
    assert order.checkout_url is not None
    async with ClientSession() as http:
        await checkout_page(http, order.checkout_url)
    return await shop.bus.deps.store.order(order.ref)


async def _drop(shop: Shop, sku: str) -> None:
    await shop.processed(shop.api.message(GROUP, SELLER, f"/drop {sku} 3 25"))
    await shop.settle()


async def _end(shop: Shop) -> None:
    await shop.processed(shop.api.message(GROUP, SELLER, "/end"))
    await shop.settle()


async def _saved_card(shop: Shop, user: FakeUser, card: str = OK) -> None:
    """The user starts the bot and buys once through the link, which keeps the card."""
    api = shop.api
    await shop.processed(api.message(user.id, user, "/start"))
    await _drop(shop, "FIRST")
    await shop.processed(api.message(GROUP, user, "#buy"))
    await shop.settle()
    first = await _order(shop, user, "FIRST")
    assert first.checkout_url is not None
    assert api.texts_to(user.id)[-1].endswith(first.checkout_url)  # a new buyer: the link
    first = await _opened(shop, first)
    assert first.checkout_session is not None
    await _emulator_pay(shop, first.checkout_session, card)
    await _until_status(shop, first.ref, OrderStatus.PAID)
    saved = f"Visa •••• {card[-4:]}"  # "… is saved", in the buyer's language
    await until(
        lambda: any(t.startswith(saved) for t in api.texts_to(user.id)) or _nudge(shop),
        what="the card-saved message",
    )
    await _end(shop)


async def _card_by_setup(shop: Shop, user: FakeUser, card: str) -> None:
    """/card, the setup page paid with `card` (it asks for no address), and the address an
    earlier paid order would have left: what a buyer with invoices on has before a buy."""
    api = shop.api
    await shop.processed(api.message(user.id, user, "/card"))
    await shop.settle()
    text = api.texts_to(user.id)[-1]
    setup = re.search(r"(http://\S+)$", text)
    assert text.startswith("You have no saved card.") and setup is not None
    await _emulator_pay(shop, setup.group(1).rsplit("/", 1)[1], card)
    saved = f"Visa •••• {card[-4:]} is saved"
    await until(
        lambda: api.texts_to(user.id)[-1].startswith(saved) or _nudge(shop),
        what="the card-saved message",
    )
    await give_address(shop.client.server.app[ENGINE], f"telegram:{user.id}")


async def _delivered(shop: Shop) -> None:
    """Every webhook the emulator sent so far reached the app (none runs into teardown)."""
    url = f"http://127.0.0.1:{shop.client.server.port}/stripe-emulator/_test/deliveries"

    auth = await emulator_auth(shop.client.server.app[ENGINE])

    async def done() -> bool:
        async with ClientSession(headers=auth) as http, http.get(url) as got:
            return all(d["delivered"] for d in await got.json())

    await until(done, what="the emulator's webhooks")
    await shop.settle()


def _nudge(shop: Shop) -> bool:
    courier = shop.runtime.courier
    assert courier is not None
    shop.clock.advance(seconds=1.5)  # over the private chat's pacing
    courier.wake()
    return False


def _board(api: FakeBotApi, sku: str) -> Posted:
    """The drop's board: the group's message about it that was posted with a Buy button."""
    (board,) = [m for m in api.messages_in(GROUP) if m.text.startswith(f"{sku} product ·")]
    return board


def _last_to(api: FakeBotApi, user: FakeUser) -> Posted:
    return api.messages_in(user.id)[-1]


async def test_first_checkout_saves_the_card_then_a_group_buy_takes_one_tap(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _shop(shop_factory)
    await _saved_card(shop, ANNA)
    assert api.texts_to(ANNA.id)[-1] == (
        "Visa •••• 4242 is saved: next time, buy with one message and a tap. /unlink forgets it."
    )

    await _drop(shop, "TEE")
    group_before = len(api.texts_to(GROUP))
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    order = await _order(shop, ANNA, "TEE")
    assert order.status is OrderStatus.RESERVED and order.checkout_url is None
    # The group sees the claim on the board (no reply per claim: a drop must not flood it).
    board = _board(api, "TEE")
    assert board.text.endswith("Last buyers: @anna")
    assert len(api.texts_to(GROUP)) == group_before
    # Privately: the confirm question with its button.
    question = _last_to(api, ANNA)
    assert question.text == (
        "1 × TEE product for €25.00 with Visa •••• 4242: confirm? Tap Confirm or type "
        "#confirm within 5 min.\n"
        # Where the first checkout's page said it ships to.
        "Ships to: Jenny Rosen, Teststraße 1, 10115 Berlin, DE."
    )
    assert question.buttons == [{"text": "Confirm", "callback_data": f"confirm:{order.ref}"}]

    await shop.processed(api.press(question, ANNA))
    paid = await _until_status(shop, order.ref, OrderStatus.PAID)
    assert paid.payment_ref is not None and paid.payment_ref.startswith("pi_")
    assert paid.ship_to == "Jenny Rosen, Teststraße 1, 10115 Berlin, DE"  # for the seller
    await shop.settle()
    (toast,) = api.of("answerCallbackQuery")
    assert toast.params["text"] == "Paid ✓"
    assert "Charged €25.00 to Visa •••• 4242 for 1 × TEE product." in api.texts_to(ANNA.id)
    # The link's payment was told "Payment received"; the charge's answer is its only word.
    assert sum("Payment received" in t for t in api.texts_to(ANNA.id)) == 1
    assert board.text.endswith("Last buyers: @anna ✓")
    assert question.buttons == []  # a confirm is used once: its button went

    # A second press (an app that had not refreshed) finds nothing to confirm: nothing is
    # charged twice.
    await shop.processed(api.press(question, ANNA, f"confirm:{order.ref}"))
    await shop.settle()
    assert api.of("answerCallbackQuery")[-1].params["text"] == "Not charged: see my message"
    assert "nothing waits for your confirm" in api.texts_to(ANNA.id)[-1]
    assert (await shop.bus.deps.store.order(order.ref)).status is OrderStatus.PAID
    await _delivered(shop)


async def test_buy_and_confirm_typed_in_the_private_chat(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _shop(shop_factory)
    await _saved_card(shop, BOB)
    # A drop started from the dashboard runs in every chat, the private ones too.
    terms = DropTerms("TEE", 3, Money(2500, "eur"), None, None, DropPolicy.HOLD, HOLD)
    await shop.bus.handle(StartDrop(terms))
    await shop.processed(api.message(BOB.id, BOB, "#buy TEE"))
    await shop.settle()
    order = await _order(shop, BOB, "TEE")
    # Only the question (in Bob's language), not the group's "check your messages" as well.
    question = _last_to(api, BOB)
    assert question.text.startswith("1 × TEE product für €25.00 mit Visa •••• 4242: bestätigen?")
    assert question.buttons == [{"text": "Bestätigen", "callback_data": f"confirm:{order.ref}"}]
    assert not any("reserviert" in t for t in api.texts_to(BOB.id))

    await shop.processed(api.message(BOB.id, BOB, "#confirm"))
    await _until_status(shop, order.ref, OrderStatus.PAID)
    await shop.settle()
    assert "€25.00 von Visa •••• 4242 abgebucht für 1 × TEE product." in api.texts_to(BOB.id)
    await _delivered(shop)


async def test_a_card_that_declines_off_session_falls_back_to_the_link(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _shop(shop_factory)
    await _saved_card(shop, ANNA, DECLINES)  # the checkout pays; later charges decline
    await _drop(shop, "TEE")
    await shop.processed(api.press(_board(api, "TEE"), ANNA))  # the board's Buy button
    await shop.settle()
    order = await _order(shop, ANNA, "TEE")
    question = _last_to(api, ANNA)
    assert question.buttons == [{"text": "Confirm", "callback_data": f"confirm:{order.ref}"}]

    await shop.processed(api.press(question, ANNA))
    await shop.settle()
    held = await shop.bus.deps.store.order(order.ref)
    assert held.status is OrderStatus.CHECKOUT_OPEN and held.checkout_url is not None
    assert api.of("answerCallbackQuery")[-1].params["text"] == (
        "Your card could not pay: see my message"
    )
    fallback = api.texts_to(ANNA.id)[-1]
    assert fallback.startswith("Your card could not pay (")
    assert fallback.endswith(f"here instead: {held.checkout_url}")
    assert f"/pay/{held.ref}?t=" in held.checkout_url

    # A charge the provider declines later (its webhook) reaches the buyer the same way.
    await shop.runtime.adapter.notify(  # type: ignore[union-attr]
        PaymentFellBack(PaymentResult(PaymentOutcome.FALLBACK, held, reason="card_declined"))
    )
    await shop.settle()
    told = api.texts_to(ANNA.id)[-1]
    assert told.startswith("Your card could not pay (card_declined). Pay within ")
    assert told.endswith(f" here instead: {held.checkout_url}") and told != fallback


async def test_a_declined_card_gets_the_invoice_when_invoices_are_on(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _shop(shop_factory, telegram_payment_provider_token=PROVIDER_TOKEN)
    # Invoices pay inside Telegram and keep no card: /card saves one (a setup checkout).
    await _card_by_setup(shop, ANNA, DECLINES)
    await _drop(shop, "TEE")
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    order = await _order(shop, ANNA, "TEE")
    assert api.invoices == []  # a confirm first, not an invoice
    question = _last_to(api, ANNA)
    await shop.processed(api.press(question, ANNA))
    await shop.settle()
    (invoice,) = api.invoices
    assert invoice["payload"] == order.ref and int(invoice["chat_id"]) == ANNA.id
    texts = api.texts_to(ANNA.id)
    assert texts[-1].startswith("Your card could not pay (")
    assert texts[-1].endswith("Pay 1 × TEE product (€25.00) with the invoice below within 10m.")
    held = await shop.bus.deps.store.order(order.ref)
    assert held.status is OrderStatus.RESERVED and held.checkout_url is None


async def test_link_and_card_commands(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    shop = await _shop(shop_factory)
    await _saved_card(shop, ANNA)

    # /card is personal: refused in the group, publicly; answered in the private chat.
    await shop.processed(api.message(GROUP, ANNA, "/card"))
    await shop.settle()
    assert api.texts_to(GROUP)[-1] == "@anna: send /card to me in a private chat."
    await shop.processed(api.message(ANNA.id, ANNA, "/card"))
    await shop.settle()
    shown = api.texts_to(ANNA.id)[-1]
    assert shown.startswith("Your card: Visa •••• 4242.")
    assert re.search(r"Replace it here: http://127\.0\.0\.1:\d+/stripe-emulator/\S+\n", shown)
    assert shown.endswith("\nShips to: Jenny Rosen, Teststraße 1, 10115 Berlin, DE.")

    # /link gives a code privately; the web chat redeems it.
    await shop.processed(api.message(ANNA.id, ANNA, "/link"))
    await shop.settle()
    issued = api.texts_to(ANNA.id)[-1]
    found = re.fullmatch(r"Your code: (\w+)\. Type /link \1 on your other platform .*", issued)
    assert found is not None, issued
    code = found.group(1)
    command = ChatMessage("web:demo:1", "web:demo", "web:anna", f"/link {code}", "anna", True)
    linked = await shop.bus.handle(command)
    assert isinstance(linked, chat.IdentitiesLinked)
    assert set(linked.identities) == {"telegram:11", "web:anna"}
    assert str(linked.card) == "Visa •••• 4242"  # the web chat buys with Anna's card now

    # /link CODE typed in Telegram joins the other way round.
    web_code = await shop.bus.handle(
        ChatMessage("web:demo:2", "web:demo", "web:zoe", "/link", "zoe", True)
    )
    assert isinstance(web_code, chat.LinkCodeIssued)
    await shop.processed(api.message(BOB.id, BOB, f"/link {web_code.code}"))
    await shop.settle()
    joined = api.texts_to(BOB.id)[-1]
    assert joined.startswith("Verknüpft: ") and "web:zoe" in joined and "telegram:12" in joined

    # /unlink forgets Anna's card (privately).
    await shop.processed(api.message(ANNA.id, ANNA, "/unlink"))
    await shop.settle()
    assert api.texts_to(ANNA.id)[-1].startswith("Visa •••• 4242 is forgotten")
    assert await shop.bus.deps.cards.card("telegram:11") is None  # type: ignore[union-attr]


async def test_a_buyer_the_bot_cannot_message_gets_the_question_through_the_deep_link(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _shop(shop_factory)
    await _saved_card(shop, ANNA)
    await shop.runtime.adapter.contacts.stopped("telegram", "telegram:11")  # type: ignore[union-attr]
    await _drop(shop, "TEE")
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    order = await _order(shop, ANNA, "TEE")
    (deep,) = [m for m in api.messages_in(GROUP) if m.buttons and "url" in m.buttons[0]]
    assert deep.buttons[0]["url"] == f"https://t.me/livebuy_bot?start=pay-{order.ref}"

    await shop.processed(api.message(ANNA.id, ANNA, f"/start pay-{order.ref}"))
    await shop.settle()
    question = _last_to(api, ANNA)
    assert question.text.startswith("1 × TEE product for €25.00 with Visa •••• 4242: confirm?")
    assert question.buttons == [{"text": "Confirm", "callback_data": f"confirm:{order.ref}"}]
    await shop.processed(api.press(question, ANNA))
    await _until_status(shop, order.ref, OrderStatus.PAID)
    await _delivered(shop)


async def test_a_waitlisted_card_holder_gets_the_question_when_a_unit_frees_up(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await _shop(shop_factory)
    await _saved_card(shop, ANNA)
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 1 25"))
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    await shop.processed(api.message(GROUP, ANNA, "#buy"))  # sold out: anna waits
    await shop.settle()
    await shop.processed(api.message(GROUP, BOB, "/pass"))
    await shop.settle()
    order = await _order(shop, ANNA, "TEE")
    await until(
        lambda: _last_to(api, ANNA).text.startswith("Your turn!") or _nudge(shop),
        what="anna's turn",
    )
    question = _last_to(api, ANNA)
    assert question.text.startswith(
        "Your turn! 1 × TEE product for €25.00 with Visa •••• 4242: confirm?"
    )
    assert question.buttons == [{"text": "Confirm", "callback_data": f"confirm:{order.ref}"}]
    assert api.invoices == [] and order.checkout_url is None  # one tap, no link
    await shop.processed(api.press(question, ANNA))
    await _until_status(shop, order.ref, OrderStatus.PAID)
    await _delivered(shop)


async def test_a_promoted_card_holder_whose_card_declines_gets_the_invoice(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    """Invoices on, a drop that charges without a confirm (above €100 only): the promoted
    buyer's card is charged at once, declines, and the invoice for the held unit follows."""
    shop = await _shop(shop_factory, telegram_payment_provider_token=PROVIDER_TOKEN)
    await _card_by_setup(shop, ANNA, DECLINES)
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 1 25 confirm above 100"))
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    await shop.processed(api.message(GROUP, ANNA, "#buy"))  # sold out: anna waits
    await shop.settle()
    await shop.processed(api.message(GROUP, BOB, "/pass"))
    await shop.settle()
    order = await _order(shop, ANNA, "TEE")
    await until(lambda: bool(api.invoices) or _nudge(shop), what="anna's invoice")
    (invoice,) = api.invoices
    assert invoice["payload"] == order.ref and int(invoice["chat_id"]) == ANNA.id
    assert any(t.startswith("Your card could not pay (") for t in api.texts_to(ANNA.id))
    held = await shop.bus.deps.store.order(order.ref)
    assert held.status is OrderStatus.RESERVED and held.checkout_url is None
    await _delivered(shop)


async def test_an_auction_won_by_a_card_holder_takes_one_tap(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    """Invoices on: the winner with a saved card (and an address) gets the confirm, not an
    invoice."""
    shop = await _shop(shop_factory, telegram_payment_provider_token=PROVIDER_TOKEN)
    await _card_by_setup(shop, ANNA, OK)
    await shop.processed(api.message(GROUP, SELLER, "/auction TEE 1 30s"))
    await shop.processed(api.message(GROUP, ANNA, "#bid 4"))
    await shop.settle()
    await shop.later(seconds=31)
    await shop.bus.handle(ExpireHolds())
    await shop.settle()
    won = [o for o in await shop.bus.deps.store.orders(None, None) if o.amount.minor == 400]
    assert len(won) == 1
    await until(
        lambda: _last_to(api, ANNA).text.startswith("You won TEE product!") or _nudge(shop),
        what="anna's win",
    )
    question = _last_to(api, ANNA)
    assert "€4.00 with Visa •••• 4242: confirm?" in question.text
    assert question.buttons == [{"text": "Confirm", "callback_data": f"confirm:{won[0].ref}"}]
    assert api.invoices == []
    await shop.processed(api.press(question, ANNA))
    await _until_status(shop, won[0].ref, OrderStatus.PAID)
    await _delivered(shop)
