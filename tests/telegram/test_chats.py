"""Private chats, buyers the bot cannot message, the waitlist, channels, and faults."""

import asyncio
import logging
import re
from datetime import timedelta

import pytest
from telegram import Bot

from bots.telegram.sender import TelegramSender
from commerce.adapters.inbound import SqlContacts
from commerce.domain.commands import ExpireHolds
from commerce.service_layer.outbox import Button, Outgoing, RetryLater, Undeliverable
from tests.e2e.stripe_signing import charge, event_body, session, sign
from tests.integration.helpers import add_product, start_drop
from tests.telegram.conftest import GROUP, Shop, ShopFactory, until
from tests.telegram.fake_bot_api import FakeBotApi, FakeUser, Fault
from webhooks.keys import ENGINE, OUTBOX
from webhooks.telegram import TelegramOptions

SELLER = FakeUser(1, "Sam", "sam")
ANNA = FakeUser(11, "Anna", "anna")
BOB = FakeUser(12, "Bob", None, "es")


async def stripe_post(shop: Shop, body: bytes) -> None:
    headers = {"Content-Type": "application/json", "Stripe-Signature": sign(body)}
    response = await shop.client.post("/webhooks/stripe", data=body, headers=headers)
    assert response.status == 200


async def pay(shop: Shop, ref: str) -> None:
    body = event_body(f"evt_{ref}", "checkout.session.completed", session(ref, f"cs_{ref}"))
    await stripe_post(shop, body)


async def drop(shop: Shop, api: FakeBotApi, text: str = "/drop TEE 1 25") -> None:
    await add_product(shop.bus)
    api.admins[GROUP] = {SELLER.id}
    await shop.processed(api.message(GROUP, SELLER, text))
    await shop.settle()


async def test_private_chat_commands(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    shop = await shop_factory()
    await drop(shop, api)
    await shop.processed(api.message(ANNA.id, ANNA, "hello?"))
    await shop.processed(api.message(ANNA.id, ANNA, "/orders"))
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    ref = (await shop.bus.deps.store.orders(None, None))[0].ref
    await shop.processed(api.message(ANNA.id, ANNA, "/orders"))
    await shop.processed(api.message(BOB.id, BOB, f"/start pay-{ref}"))  # not Bob's order
    await shop.processed(api.message(ANNA.id, ANNA, "/cancel"))
    await shop.processed(api.message(ANNA.id, ANNA, f"/start pay-{ref}"))  # cancelled now
    await shop.settle()
    anna = api.texts_to(ANNA.id)
    assert anna[0].startswith("Buy with #buy")  # chatter in private: the help
    assert anna[1] == "You have no open orders. Buy with #buy while a drop is live."
    assert anna[2].startswith("You have 1 × TEE product")  # the claim, answered privately
    assert anna[3].startswith(f"Your orders:\n{ref}")
    assert anna[4] == f"Order {ref} cancelled."
    assert anna[5] == f"Your orders:\n{ref}  1 × TEE product  €25.00  cancelled"
    assert api.texts_to(BOB.id) == ["Ese enlace no es para ti. /orders muestra tus pedidos."]


async def test_whoami_tells_a_seller_the_ids_to_configure(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await shop.processed(api.message(GROUP, ANNA, "/whoami"))
    await shop.processed(api.message(ANNA.id, ANNA, "/whoami"))
    await shop.settle()
    in_group, in_private = api.texts_to(ANNA.id)[-2:]
    assert in_group == (
        f"Your id: telegram:{ANNA.id} (for LIVEBUY_SELLERS or livebuy seller add)\n"
        f"This chat: telegram:{GROUP} (for livebuy drop start --channel telegram:{GROUP})"
    )
    assert in_private == f"Your id: telegram:{ANNA.id} (for LIVEBUY_SELLERS or livebuy seller add)"
    assert all(f"telegram:{ANNA.id}" not in text for text in api.texts_to(GROUP))
    menus = [call.params["commands"] for call in api.of("setMyCommands")]
    assert menus and all("whoami" in str(menu) for menu in menus)


async def test_buyers_who_never_started_the_bot(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await shop.processed(api.message(GROUP, ANNA, "#buy"))  # nothing live yet
    await drop(shop, api)
    await shop.processed(api.message(GROUP, ANNA, "/orders"))
    await shop.processed(api.message(GROUP, ANNA, "/help"))
    board = api.board(GROUP)
    assert board is not None
    await shop.processed(api.press(board, BOB))  # Bob: a button press, never started
    await shop.processed(api.press(board, BOB, data="nonsense"))
    await shop.settle()
    texts = [m for m in api.messages_in(GROUP) if m is not board]
    assert texts[0].text == "No drop is live here. Sellers start one with /drop"
    assert texts[1].text == "Open a private chat with me: tap the button."
    assert texts[1].buttons[0]["url"] == "https://t.me/livebuy_bot?start=hi"
    assert texts[2].text.startswith("Buy with #buy")
    assert len(texts) == 3  # Bob's press is answered by the toast's deep link alone
    pressed, nonsense = api.of("answerCallbackQuery")
    ref = (await shop.bus.deps.store.orders(None, None))[0].ref
    assert pressed.params["url"] == f"https://t.me/livebuy_bot?start=pay-{ref}"
    assert "url" not in nonsense.params


async def test_the_waitlist_moves_up(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    shop = await shop_factory()
    await drop(shop, api)
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.processed(api.message(GROUP, BOB, "#buy"))  # sold out: Bob waits
    await shop.settle()
    assert api.texts_to(GROUP)[-1] == "Bob: agotado, eres el número 1 en la lista de espera."
    await shop.later(minutes=11)
    await shop.bus.handle(ExpireHolds())  # Anna's hold runs out: Bob's turn
    await shop.settle()
    orders = await shop.bus.deps.store.orders(None, None)
    (bob_ref,) = [o.ref for o in orders if o.identity == f"telegram:{BOB.id}"]
    promoted = api.messages_in(GROUP)[-1]
    assert promoted.text.startswith("Bob: 1 × TEE product es tuyo")
    assert promoted.buttons[0]["url"] == f"https://t.me/livebuy_bot?start=pay-{bob_ref}"
    assert api.texts_to(ANNA.id)[-1].startswith("Your hold on TEE product")
    board = api.board(GROUP)
    assert board is not None and board.text.endswith("Last buyers: Bob")


async def test_a_drop_in_a_channel(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    """In a channel only admins post: a post by the channel itself starts a drop."""
    shop = await shop_factory()
    await add_product(shop.bus)
    post = api.message(GROUP, ANNA, "/drop TEE 2 25")
    message = post.pop("message")
    del message["from"]
    message["sender_chat"] = message["chat"] = {"id": GROUP, "type": "channel", "title": "Shop"}
    post["channel_post"] = message
    forward = api.message(GROUP, ANNA, "/drop TEE 2 1")
    forward["message"]["sender_chat"] = {"id": -100999, "type": "channel", "title": "Other"}
    await shop.processed(forward, post)
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None and board.text == "TEE product · €25.00\n2 of 2 left"
    assert api.of("getChatMember") == []


async def test_a_blocked_private_chat_is_recorded_and_does_not_stall(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await drop(shop, api, "/drop TEE 2 25")
    contacts = SqlContacts(shop.client.server.app[ENGINE])
    await shop.processed(api.message(ANNA.id, ANNA, "/start"), api.message(BOB.id, BOB, "/start"))
    await shop.settle()
    api.blocked.add(ANNA.id)
    await shop.processed(api.message(GROUP, ANNA, "#buy"), api.message(GROUP, BOB, "#buy"))
    await shop.settle()
    counts = await shop.client.server.app[OUTBOX].counts("telegram")
    assert counts.undeliverable == 1 and counts.pending == 0
    assert not await contacts.has_started("telegram", f"telegram:{ANNA.id}")
    assert api.texts_to(BOB.id)[-1].startswith("Tienes 1 × TEE product")


async def test_the_bot_waits_for_an_unreachable_bot_api(
    shop_factory: ShopFactory, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    shop = await shop_factory(TelegramOptions(per_second=1000, retry_start_every=0.05), False)
    await until(lambda: "unreachable" in caplog.text, what="a warning")
    assert not shop.runtime.ready.is_set()
    await api.start()
    await asyncio.wait_for(shop.runtime.ready.wait(), 10)


async def test_a_refused_token_leaves_the_shop_running(
    shop_factory: ShopFactory, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    await api.start()
    with caplog.at_level(logging.ERROR):
        shop = await shop_factory(ready=False, telegram_bot_token="999:revoked")  # 401
        await until(lambda: "refused" in caplog.text, what="the error")
    assert (await shop.client.get("/healthz")).status in (200, 503)


async def test_the_sender_speaks_the_couriers_language(api: FakeBotApi) -> None:
    await api.start()
    async with Bot(api.token, base_url=f"{api.url}/bot") as bot:
        blocked: list[str] = []

        async def on_blocked(chat: str) -> None:
            blocked.append(chat)

        sender = TelegramSender(bot, on_blocked)
        board = Outgoing("telegram", str(GROUP), "3 left", (Button("Buy", action="buy:T"),))
        ref = await sender.send(board)
        await sender.edit(board, ref)  # "message is not modified": fine
        await sender.edit(Outgoing("telegram", str(GROUP), "2 left"), ref)
        assert api.board(GROUP) is not None
        with pytest.raises(Undeliverable):
            await sender.edit(board, "999")  # message to edit not found
        api.flood({"sendMessage"}, count=1, retry_after=7)
        with pytest.raises(RetryLater) as later:
            await sender.send(Outgoing("telegram", "5", "hi", reply_to="1"))
        assert later.value.seconds == 7
        api.blocked.add(5)
        with pytest.raises(Undeliverable):
            await sender.send(Outgoing("telegram", "5", "hi"))
        assert blocked == ["5"]
        assert (sender.interval("5"), sender.interval(str(GROUP))) == (1.0, 3.0)
        await api.close()
        with pytest.raises(RetryLater) as down:
            await sender.send(Outgoing("telegram", "6", "hi"))
        assert down.value.seconds == 0


async def test_pass_in_the_private_chat_gives_back_the_group_hold(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await drop(shop, api)
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None and board.text.endswith("Last buyers: @anna")
    await shop.processed(api.message(ANNA.id, ANNA, "/pass"))
    await shop.settle()
    assert api.texts_to(ANNA.id)[-1] == "@anna passed; TEE product goes back."
    assert board.text == "TEE product · €25.00\n1 of 1 left"


async def test_a_timed_drop_refunds_and_the_waitlist_let_go(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory(livebuy_sellers=f"telegram:{SELLER.id}")
    await add_product(shop.bus)
    for user in (SELLER, ANNA, BOB):
        await shop.processed(api.message(user.id, user, "/start"))
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 1 25 for 10m"))
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.processed(api.message(GROUP, BOB, "#buy"))
    await shop.processed(api.message(GROUP, ANNA, "🎉"))  # chatter: nothing to do
    sticker = api.message(GROUP, ANNA, "x")
    del sticker["message"]["text"]
    await shop.processed(sticker)
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None
    (live,) = await shop.bus.deps.store.drops()
    assert live.ends_at is not None and live.ends_at - live.starts_at == timedelta(minutes=10)
    ends = live.ends_at.strftime("%H:%M")
    # The time left as of the board's last edit, and when that is.
    assert re.fullmatch(
        rf"Sold out\. Buy joins the waitlist\. · ends in (10|9) min \({ends} UTC\)",
        board.text.splitlines()[1],
    ), board.text
    assert api.texts_to(BOB.id)[-1] == "Bob: agotado, eres el número 1 en la lista de espera."
    (order,) = await shop.bus.deps.store.orders(None, None)
    await pay(shop, order.ref)
    await shop.processed(api.message(GROUP, SELLER, f"/refund {order.ref}"))
    await shop.processed(api.message(GROUP, SELLER, "/stats"))
    refunded = event_body("evt_refund", "charge.refunded", charge(order.ref, 2500, 2500))
    await stripe_post(shop, refunded)
    await shop.processed(api.message(GROUP, SELLER, "/end"))
    await shop.settle()
    seller = api.texts_to(SELLER.id)
    assert seller[-2] == f"Refund of order {order.ref} requested."
    assert seller[-1] == "TEE: 1/1 taken, 0 left, 1 waiting (live)"
    assert api.texts_to(ANNA.id)[-1] == f"Order {order.ref} was refunded (€25.00)."
    assert api.texts_to(BOB.id)[-1] == ("El drop TEE terminó antes de tu turno. ¡La próxima vez!")
    assert api.texts_to(GROUP)[-1] == "Drop TEE has ended: 1 of 1 sold."
    # A drop with a time limit ends by itself, and its board says so.
    await shop.processed(api.message(GROUP, SELLER, "/drop TEE 2 20 for 1m"))
    await shop.settle()
    await shop.later(minutes=2)
    await shop.bus.handle(ExpireHolds())
    await shop.settle()
    second = api.messages_in(GROUP)[-1]
    (timed,) = [d for d in await shop.bus.deps.store.drops() if d.price.minor == 2000]
    assert timed.ends_at is not None
    ended = timed.ends_at.strftime("%H:%M")
    assert second.text.splitlines() == [
        "TEE product · €20.00",
        f"Drop TEE has ended: 0 of 2 sold. · ended {ended} UTC",
    ]


async def test_private_start_payloads(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    shop = await shop_factory()
    await shop.processed(api.message(ANNA.id, ANNA, "/start hi"))
    await shop.processed(api.message(ANNA.id, ANNA, "/start pay-NOSUCH99"))
    await shop.settle()
    help_text, unknown = api.texts_to(ANNA.id)
    assert help_text.startswith("Buy with #buy")
    assert unknown == "That link is not for you. /orders lists your orders."


async def test_a_failing_admin_check_refuses(shop_factory: ShopFactory, api: FakeBotApi) -> None:
    shop = await shop_factory()
    await add_product(shop.bus)
    api.faults.append(Fault(frozenset({"getChatMember"}), 1, 400, "Bad Request: chat not found"))
    await shop.processed(api.message(GROUP, ANNA, "/drop TEE 1 25"))
    await shop.settle()
    assert api.texts_to(GROUP) == ["@anna: only sellers can do that."]


async def test_a_restart_loses_no_queued_message(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await drop(shop, api, "/drop TEE 2 25")
    await shop.processed(api.message(ANNA.id, ANNA, "/start"))
    await shop.settle()
    api.flood({"sendMessage", "editMessageText"}, count=1000, retry_after=30)
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await until(lambda: len(api.of("sendMessage")) >= 3, what="a refused send")
    await shop.client.close()  # the process goes down with its messages still queued
    api.faults.clear()
    again = await shop_factory()
    await again.settle()
    assert api.texts_to(ANNA.id)[-1].startswith("You have 1 × TEE product")
    board = api.board(GROUP)
    assert board is not None and "1 of 2 left" in board.text


async def test_a_drop_started_from_the_dashboard_posts_its_board(
    shop_factory: ShopFactory, api: FakeBotApi
) -> None:
    shop = await shop_factory()
    await add_product(shop.bus)
    await start_drop(shop.bus, quantity=2, channels=(f"telegram:{GROUP}",))
    await shop.settle()
    board = api.board(GROUP)
    assert board is not None and board.text == "TEE product · €25.00\n2 of 2 left"
    await shop.processed(api.message(GROUP, ANNA, "#buy"))
    await shop.settle()
    assert api.board(GROUP) is board and board.text.startswith("TEE product · €25.00\n1 of 2")
