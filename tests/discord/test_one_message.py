"""One-message buying on Discord: a buyer whose first payment kept the card buys with /buy (or
the board's Buy button, or `#buy` typed) and one press of Confirm; /card, /unlink and /link
are ephemeral; a card declined later sends the link by DM; /link joins a web chat viewer."""

import asyncio
import re
from typing import Any

from commerce.adapters.cards import SqlCards
from commerce.domain.orders import OrderStatus
from commerce.service_layer.ports import ChargeStatus, SavedCard
from tests.discord.conftest import Shop, ShopFactory, until
from tests.discord.fake_discord import CHANNEL_ID, EPHEMERAL
from tests.discord.test_drop import LINK, board, buy_button, ephemeral_answer
from tests.integration.helpers import ADDRESS, add_product, give_address, start_drop
from tests.live_events import read_events
from webhooks.keys import ENGINE, OUTBOX

DISCORD_CHAT = f"discord:{CHANNEL_ID}"
CONFIRM = re.compile(r"livebuy:confirm:([A-Z0-9]+)")


def card(member: str) -> SavedCard:
    return SavedCard("cus_test", f"pm_{member}", "visa", "4242")


def confirm_button(message: dict[str, Any]) -> str:
    (row,) = message["components"]
    (button,) = row["components"]
    assert button["label"] == "Confirm"
    return str(button["custom_id"])


async def answered(shop: Shop, token: str) -> tuple[str, dict[str, Any]]:
    """An interaction's ephemeral answer, and the message it is (for its buttons)."""
    text = await ephemeral_answer(shop, token)
    [message] = [m for m in shop.fake.messages.values() if m.get("interaction_token") == token]
    assert message["flags"] & EPHEMERAL
    return text, message


async def pressed_confirm(shop: Shop, token: str) -> str:
    """A Confirm press is deferred as an update of the question's message (its button can
    go), then answered by an ephemeral follow-up."""
    followups = await until(
        lambda: [r for r in shop.fake.responses(token) if "content" in r], what="the answer"
    )
    callback = shop.fake.responses(token)[0]
    assert callback["type"] == 6  # deferred update of the question's message
    assert followups[-1]["flags"] & EPHEMERAL
    return str(followups[-1]["content"])


async def status(shop: Shop, ref: str, wanted: OrderStatus) -> None:
    async def reached() -> bool:
        return (await shop.bus.deps.store.order(ref)).status is wanted

    await until(reached, what=f"order {ref} to be {wanted}")


async def test_the_first_payment_keeps_the_card_then_buy_and_confirm(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=5, channels=(DISCORD_CHAT,))
        anna, bo = fake.add_member("anna"), fake.add_member("bo")

        # Buy #1: a link; its payment keeps the card (told by DM).
        first = LINK.search(await ephemeral_answer(shop, await fake.slash(anna, "buy")))
        assert first is not None
        shop.payments.cards[f"pi_{first[1]}"] = card(anna)
        await shop.pay(first[1])
        dms = await until(lambda: len(fake.dms_to(anna)) >= 2 and fake.dms_to(anna), what="DMs")
        texts = [m["content"] for m in dms]
        assert any("Payment received" in t for t in texts)
        assert any("Visa •••• 4242 is saved" in t for t in texts)

        # Buy #2 with /buy: the question, ephemeral, with its Confirm button.
        question, message = await answered(shop, await fake.slash(anna, "buy"))
        assert "1 × TEE product for €25.00 with Visa •••• 4242: confirm?" in question
        assert "Check your messages" not in question
        custom_id = confirm_button(message)
        ref = CONFIRM.fullmatch(custom_id)
        assert ref is not None
        await status(shop, ref[1], OrderStatus.RESERVED)
        assert not shop.payments.charges  # nothing is charged before the confirm

        # Bo cannot confirm anna's order (the core only confirms the presser's own).
        refused = await pressed_confirm(shop, await fake.click(bo, message["id"], custom_id))
        assert "nothing waits for your confirm" in refused
        assert message["components"], "a refused press leaves the button"
        token = await fake.click(anna, message["id"], custom_id)
        paid = await pressed_confirm(shop, token)
        assert "Charged €25.00 to Visa •••• 4242 for 1 × TEE product" in paid
        await status(shop, ref[1], OrderStatus.PAID)
        assert message["components"] == []  # the question is answered: its button went
        # The same press delivered again (a resumed gateway) is answered once, charged once.
        answers = len(fake.responses(token))  # deferred, the button taken away, answered
        await fake.dispatch("INTERACTION_CREATE", fake.events[-1]["d"])
        await until(lambda: len(fake.responses(token)) > answers, what="the replayed callback")
        await asyncio.sleep(0.2)
        assert len(fake.responses(token)) == answers + 1  # deferred again, nothing more
        assert [c.order_ref for c in shop.payments.charges] == [ref[1]]
        # The answer said it was charged: no second "Payment received" by DM (the first
        # payment's is the only one) once everything the charge caused has gone out.
        outbox = shop.client.server.app[OUTBOX]

        async def delivered() -> bool:
            shop.wake()
            return (await outbox.counts("discord")).pending == 0

        await until(delivered, what="the outbox to empty")
        assert sum("Payment received" in m["content"] for m in fake.dms_to(anna)) == 1

        # Buy #3 with the board's Buy button: the same question and button.
        await until(lambda: board(shop), what="the board")
        drop_board = board(shop)
        assert drop_board is not None
        by_button, message = await answered(
            shop, await fake.click(anna, drop_board["id"], buy_button(drop_board))
        )
        assert "with Visa •••• 4242: confirm?" in by_button
        third = CONFIRM.fullmatch(confirm_button(message))
        assert third is not None and third[1] != ref[1]
        confirmed = await ephemeral_answer(shop, await fake.slash(anna, "confirm"))
        assert "Charged €25.00" in confirmed
        await status(shop, third[1], OrderStatus.PAID)

        # /card and /unlink are ephemeral; afterwards /buy gives a link again.
        shown = await ephemeral_answer(shop, await fake.slash(anna, "card"))
        assert "Your card: Visa •••• 4242" in shown and "https://checkout.test/setup/1" in shown
        assert shop.payments.card_setups[0][0] == f"discord:{anna}"
        forgotten = await ephemeral_answer(shop, await fake.slash(anna, "unlink"))
        assert "Visa •••• 4242 is forgotten" in forgotten
        assert shop.payments.detached == [f"pm_{anna}"]
        assert "You have no saved card" in await ephemeral_answer(
            shop, await fake.slash(anna, "card")
        )
        assert LINK.search(await ephemeral_answer(shop, await fake.slash(anna, "buy")))
        # Nothing personal was ever posted in the channel itself.
        public = [
            m["content"] or "" for m in fake.channel_messages() if not m.get("interaction_token")
        ]
        assert not [t for t in public if "4242" in t or "/pay/" in t]


async def test_typed_buy_asks_by_dm_and_a_declined_card_sends_the_link(
    open_shop: ShopFactory,
) -> None:
    async with open_shop(discord_message_content=True) as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=5, channels=(DISCORD_CHAT,))
        anna = fake.add_member("anna")
        cards = SqlCards(shop.client.server.app[ENGINE])
        await cards.save_card(f"discord:{anna}", card(anna), shop.bus.deps.clock.now())
        await give_address(shop.client.server.app[ENGINE], f"discord:{anna}")

        await fake.post_message(anna, "#buy TEE")
        [dm] = await until(lambda: fake.dms_to(anna), what="the question by DM")
        assert "with Visa •••• 4242: confirm?" in dm["content"]
        assert dm["content"].endswith(f"Ships to: {ADDRESS}.")
        ref = CONFIRM.fullmatch(confirm_button(dm))
        assert ref is not None
        held = await until(
            lambda: [m for m in fake.channel_messages() if "held for you" in (m["content"] or "")],
            what="the public reply",
        )
        assert f"<@{anna}>" in held[0]["content"] and "4242" not in held[0]["content"]
        # `#card` in the channel is refused there; the slash command is ephemeral.
        await fake.post_message(anna, "#card")
        await until(
            lambda: [m for m in fake.channel_messages() if "/card to me" in (m["content"] or "")],
            what="the refusal",
        )

        # The card is declined later (a processing charge, then the webhook): link by DM.
        shop.payments.outcomes[f"pm_{anna}"] = ChargeStatus.PROCESSING
        pressed = await pressed_confirm(shop, await fake.click(anna, dm["id"], confirm_button(dm)))
        assert "under way" in pressed
        assert fake.messages[dm["id"]]["components"] == []  # a DM's button goes too
        await shop.charge_failed(ref[1])
        fell = await until(
            lambda: [m for m in fake.dms_to(anna) if "could not pay" in m["content"]],
            what="the fallback DM",
        )
        assert LINK.search(fell[0]["content"])
        await status(shop, ref[1], OrderStatus.CHECKOUT_OPEN)

        # `#confirm` typed, for a held order: answered by DM.
        shop.payments.outcomes.clear()
        await fake.post_message(anna, "#buy")
        asked = await until(
            lambda: [m for m in fake.dms_to(anna) if "confirm?" in m["content"]][1:],
            what="the second question",
        )
        second = CONFIRM.fullmatch(confirm_button(asked[0]))
        assert second is not None
        await fake.post_message(anna, f"#confirm {second[1]}")
        await until(
            lambda: [m for m in fake.dms_to(anna) if "Charged €25.00" in m["content"]],
            what="the charge by DM",
        )
        await status(shop, second[1], OrderStatus.PAID)


async def test_link_a_web_viewer_and_share_one_limit(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake, web = shop.fake, shop.client
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=5, limit=1, channels=("web:demo", DISCORD_CHAT))
        anna = fake.add_member("anna")

        assert (await web.get("/chat/demo")).status == 200
        seen: list[dict[str, Any]] = []
        reader = asyncio.create_task(read_events(await web.get("/chat/demo/events"), seen))
        try:
            said = await web.post("/chat/demo/messages", data={"name": "anna", "text": "/link"})
            assert said.status == 200
            issued = await until(
                lambda: [e for e in seen if "Your code:" in e.get("text", "")], what="the code"
            )
            assert issued[0]["type"] == "private"
            code = re.search(r"Your code: (\S+)\.", issued[0]["text"])
            assert code is not None

            linked = await ephemeral_answer(shop, await fake.slash(anna, "link", code=code[1]))
            assert "Linked:" in linked and f"discord:{anna}" in linked and "web:" in linked

            bought = await web.post("/chat/demo/messages", data={"name": "anna", "text": "#buy"})
            assert bought.status == 200
            await until(lambda: [e for e in seen if "Pay within" in e.get("text", "")])
            refused = await ephemeral_answer(shop, await fake.slash(anna, "buy"))
            assert "the limit is 1 per buyer" in refused
            orders = await shop.bus.deps.store.orders(None, None)
            assert [o.identity.split(":")[0] for o in orders] == ["web"]
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
