"""A drop in a Telegram group, end to end: python-telegram-bot against the fake Bot API,
the core on SQLite and PostgreSQL, Stripe's signed webhooks for the payments."""

import re

from commerce.domain.commands import ExpireHolds
from commerce.domain.orders import OrderStatus
from tests.e2e.stripe_signing import event_body, session, sign
from tests.integration.helpers import add_product
from tests.telegram.conftest import GROUP, Shop, ShopFactory, until
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser

SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna", "de")
BOB = FakeUser(12, "Bob", "bob")
CARL = FakeUser(13, "Carl", "carl", "fr")


async def pay(shop: Shop, ref: str) -> None:
    body = event_body(f"evt_{ref}", "checkout.session.completed", session(ref, f"cs_{ref}"))
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
    response = await shop.client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status == 200


async def order_ref(shop: Shop, user: FakeUser) -> str:
    orders = await shop.bus.deps.store.orders(None, None)
    (ref,) = [o.ref for o in orders if o.identity == f"telegram:{user.id}"]
    return ref


async def test_start_up_registers_commands_and_polls(shop_factory: ShopFactory) -> None:
    shop = await shop_factory()
    api = shop.api
    assert len(api.of("getMe")) == 1
    # Polling (which first removes any webhook) starts once this worker holds the poller's
    # lease: at once, with no other worker.
    await until(lambda: len(api.of("deleteWebhook")) == 1, what="the poller's lease")
    await until(lambda: len(api.of("setMyCommands")) == 12, what="the command menus")
    commands = api.of("setMyCommands")
    assert {c.params.get("language_code") for c in commands} == {None, "de", "fr", "es"}
    # Buyers everywhere, the card commands in private chats, sellers for chat admins; four
    # languages.
    assert len(commands) == 12
    scopes = {c.params["scope"]["type"] for c in commands}
    assert scopes == {"default", "all_private_chats", "all_chat_administrators"}
    private = [c for c in commands if c.params["scope"]["type"] == "all_private_chats"]
    assert "confirm" in [command["command"] for command in private[0].params["commands"]]
    await until(lambda: bool(api.of("getUpdates")), what="long polling")


async def test_a_drop_in_a_group(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    shop = await shop_factory()
    await add_product(shop.bus, stock=10)
    api.admins[GROUP] = {SELLER.id}

    # Anna and Bob have started the bot in private; Carl never has.
    await shop.processed(api.message(ANNA.id, ANNA, "/start"), api.message(BOB.id, BOB, "/start"))

    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 3 25"))
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None
    assert board.text == "TEE product · €25.00\n3 of 3 left"
    assert board.buttons == [{"text": "Buy", "callback_data": "buy:TEE"}]

    # Three buyers: by text, by the Buy button, by command (addressed to the bot).
    await shop.processed(api.message(GROUP, ANNA, "omg yes #buy"))
    await shop.processed(api.press(board, BOB))
    await shop.processed(api.message(GROUP, CARL, "/buy@livebuy_bot"))
    await shop.settle()
    assert board.text == "TEE product · €25.00\nSold out. Buy joins the waitlist.\n" + (
        "Last buyers: @anna, @bob, @carl"
    )
    (answer,) = api.of("answerCallbackQuery")
    assert "@bob" in answer.params["text"]

    anna_ref, bob_ref, carl_ref = [await order_ref(shop, u) for u in (ANNA, BOB, CARL)]
    # Carl never started the bot: the group gets a short reply with a deep link.
    deep = [m for m in api.messages_in(GROUP) if m.buttons and "url" in m.buttons[0]]
    (carl_reply,) = deep
    assert carl_reply.text.startswith("@carl : 1 × TEE product est à toi")
    assert carl_reply.buttons[0]["url"] == f"https://t.me/livebuy_bot?start=pay-{carl_ref}"
    # ... which opens the private chat and delivers the payment link there.
    await shop.processed(api.message(CARL.id, CARL, f"/start pay-{carl_ref}"))
    await shop.settle()

    # Anna and Bob pay (signed Stripe webhooks); Carl's hold runs out.
    await pay(shop, anna_ref)
    await pay(shop, bob_ref)
    await shop.later(minutes=11)
    await shop.bus.handle(ExpireHolds())
    await shop.settle()
    refs = (anna_ref, bob_ref, carl_ref)
    status = {r: (await shop.bus.deps.store.order(r)).status for r in refs}
    assert status == {
        anna_ref: OrderStatus.PAID,
        bob_ref: OrderStatus.PAID,
        carl_ref: OrderStatus.EXPIRED,
    }
    assert board.text == "TEE product · €25.00\n1 of 3 left\nLast buyers: @anna ✓, @bob ✓"

    await shop.processed(api.message(GROUP, SELLER, "/end"))
    await shop.settle()
    assert board.text == (
        "TEE product · €25.00\nDrop TEE has ended: 2 of 3 sold.\nLast buyers: @anna ✓, @bob ✓"
    )
    assert board.buttons == []

    # Each buyer's private chat, in their language.
    anna = api.texts_to(ANNA.id)
    assert anna[0].startswith("Kaufen mit #buy")  # /start: the help
    assert re.fullmatch(
        rf"Du hast 1 × TEE product für €25.00\. Zahle innerhalb 10m: "
        rf"http://127\.0\.0\.1:8080/pay/{anna_ref}\?t=\S+",
        anna[1],
    ), anna[1]
    assert anna[2] == f"Zahlung erhalten: Bestellung {anna_ref}, 1 × TEE product. Danke!"
    assert len(anna) == 3
    bob = api.texts_to(BOB.id)
    assert bob[1].startswith("You have 1 × TEE product for €25.00. Pay within")
    assert f"/pay/{bob_ref}?t=" in bob[1]
    assert bob[2].startswith("Payment received")
    carl = api.texts_to(CARL.id)
    assert f"/pay/{carl_ref}?t=" in carl[0]
    assert carl[1] == f"Ta réservation de TEE product (commande {carl_ref}) a expiré."
    assert len(carl) == 2
