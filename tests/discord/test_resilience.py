"""Perks, rate limits, a reconnect in the middle of a drop, redelivered interactions,
restarts and a second worker."""

import asyncio

from commerce.service_layer.outbox import Outbox
from tests.discord.conftest import Shop, ShopFactory, until
from tests.discord.fake_discord import (
    CHANNEL_ID,
    GUILD_ID,
    OWNER_ID,
    PERK_ROLE_ID,
    FakeDiscord,
    RoleRef,
)
from tests.discord.test_drop import LINK, board, board_text, ephemeral_answer
from tests.e2e.stripe_signing import event_body
from tests.integration.helpers import add_product, start_drop
from webhooks.keys import OUTBOX


async def perk_paid(shop: Shop) -> tuple[int, str]:
    """A product with a role perk, bought and paid by Anna: her member id and order."""
    fake = shop.fake
    await add_product(shop.bus)
    perk = await ephemeral_answer(
        shop, await fake.slash(OWNER_ID, "perk", sku="tee", role=RoleRef(PERK_ROLE_ID))
    )
    assert f"<@&{PERK_ROLE_ID}>" in perk
    await start_drop(shop.bus, quantity=3, channels=(f"discord:{CHANNEL_ID}",))
    anna = fake.add_member("anna")
    link = LINK.search(await ephemeral_answer(shop, await fake.slash(anna, "buy")))
    assert link is not None
    await shop.pay(link[1])
    await until(lambda: PERK_ROLE_ID in fake.members[anna].roles, what="the role")
    assert fake.calls_to("PUT", f"/guilds/{GUILD_ID}/members/{anna}/roles/")
    return anna, link[1]


async def test_a_role_is_granted_on_payment_and_removed_on_full_refund(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        anna, ref = await perk_paid(shop)
        nobody = fake.add_member("nobody")
        refused = await ephemeral_answer(
            shop, await fake.slash(nobody, "perk", sku="TEE", role=RoleRef(PERK_ROLE_ID))
        )
        assert "only sellers" in refused

        refund = await ephemeral_answer(shop, await fake.slash(OWNER_ID, "refund", order=ref))
        assert "Refund of order" in refund and shop.payments.refunds
        await shop.refunded(ref)
        await until(lambda: PERK_ROLE_ID not in fake.members[anna].roles, what="role removal")
        dms = await until(lambda: len(fake.dms_to(anna)) >= 2 and fake.dms_to(anna))
        assert "Payment received" in dms[0]["content"] and "refunded" in dms[1]["content"]


async def test_a_dispute_takes_the_role_back_and_a_won_dispute_gives_it_again(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        anna, ref = await perk_paid(shop)
        dispute = {"id": "dp_1", "object": "dispute", "payment_intent": f"pi_{ref}",
                   "amount": 2500, "metadata": {"order_ref": ref}}  # fmt: skip
        await shop._webhook(event_body("evt_dp_open", "charge.dispute.created",
                                       dispute | {"status": "needs_response"}))  # fmt: skip
        await until(lambda: PERK_ROLE_ID not in fake.members[anna].roles, what="role removal")
        await shop._webhook(event_body("evt_dp_won", "charge.dispute.closed",
                                       dispute | {"status": "won"}))  # fmt: skip
        await until(lambda: PERK_ROLE_ID in fake.members[anna].roles, what="the role again")


async def test_a_429_is_waited_out_and_nothing_is_lost_or_doubled(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus)
        fake.rate_limit_next("POST", f"/channels/{CHANNEL_ID}/messages", 0.3)
        token = await fake.slash(OWNER_ID, "drop", sku="TEE", quantity=2, price="25.00")
        await ephemeral_answer(shop, token)
        await until(lambda: "2 of 2 left" in board_text(shop), what="the board")
        posts = fake.calls_to("POST", f"/channels/{CHANNEL_ID}/messages")
        assert [c.status for c in posts] == [429, 200]
        assert len([m for m in fake.channel_messages() if m["embeds"]]) == 1


async def test_a_reconnect_in_the_middle_of_a_drop_loses_no_buyer(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus)
        await ephemeral_answer(
            shop, await fake.slash(OWNER_ID, "drop", sku="TEE", quantity=3, price="25.00")
        )
        message = await until(lambda: board(shop), what="the board")
        anna, bo = fake.add_member("anna"), fake.add_member("bo")
        await ephemeral_answer(shop, await fake.click(anna, message["id"], "livebuy:buy:TEE"))

        await fake.drop_connection()
        # Bo clicks while the bot is away: Discord replays the event when the bot resumes.
        token = await fake.click(bo, message["id"], "livebuy:buy:TEE")
        answer = await ephemeral_answer(shop, token)
        assert LINK.search(answer)
        assert fake.resumed == 1 and len(fake.identified) == 1  # resumed, not a new session
        await until(lambda: "1 of 3 left" in board_text(shop), what="the board after resume")

        # Discord delivers an interaction twice: it is answered (and claims) once.
        again = fake.interaction(
            bo,
            3,
            {"custom_id": "livebuy:buy:TEE", "component_type": 2},
            fake.messages[message["id"]],
        )
        await fake.dispatch("INTERACTION_CREATE", again)
        await fake.dispatch("INTERACTION_CREATE", again)
        await until(lambda: len(fake.responses(str(again["token"]))) >= 3)
        responses = fake.responses(str(again["token"]))
        assert [r.get("type") for r in responses].count(5) == 2  # both acknowledged
        orders = await shop.bus.deps.store.orders(None, None)
        assert len(orders) == 3


async def test_the_buy_button_works_after_a_restart(open_shop: ShopFactory) -> None:
    fake = FakeDiscord()
    async with open_shop(fake) as shop:
        await add_product(shop.bus)
        await ephemeral_answer(
            shop, await fake.slash(OWNER_ID, "drop", sku="TEE", quantity=2, price="25.00")
        )
        message = await until(lambda: board(shop), what="the board")
        # (Stopped between Discord's answer and the outbox's record, the board would be
        # posted again after a restart: delivery is at least once.)
        outbox = shop.client.server.app[OUTBOX]
        await until(lambda: _sent(outbox), what="the board recorded as sent")
    async with open_shop(fake) as shop:  # a new process: no view was remembered
        anna = fake.add_member("anna")
        answer = await ephemeral_answer(
            shop, await fake.click(anna, message["id"], "livebuy:buy:TEE")
        )
        assert LINK.search(answer)
        await until(lambda: "1 of 2 left" in board_text(shop), what="the same board edited")


async def _sent(outbox: Outbox) -> bool:
    return (await outbox.counts("discord")).sent >= 1


async def test_one_worker_holds_the_gateway_and_another_takes_over(
    open_shop: ShopFactory,
) -> None:
    fake = FakeDiscord()
    await fake.start()
    try:
        first = open_shop(fake)
        one = await first.__aenter__()
        try:
            async with open_shop(fake, wait_ready=False) as two:
                await add_product(two.bus)
                await asyncio.sleep(0.5)  # the second worker's first look at the lease
                assert two.service.bot is None and len(fake.identified) == 1
                # ...and the first one stops: the second takes the gateway over. (It waits for
                # on_ready, which discord.py dispatches 2 s after connecting: closed before,
                # discord.py would still dispatch it, on a closed client.)
                bot = one.service.bot
                await until(lambda: bot is not None and bot.is_ready(), what="on_ready")
                await first.__aexit__(None, None, None)
                one = None
                await until(two.connected, what="the second worker's gateway")
                assert len(fake.identified) == 2
                await start_drop(two.bus, quantity=2, channels=(f"discord:{CHANNEL_ID}",))
                answer = await ephemeral_answer(two, await fake.slash(fake.add_member("a"), "buy"))
                assert LINK.search(answer)
                await until(lambda: "1 of 2 left" in board_text(two), what="its board")
        finally:
            if one is not None:
                await first.__aexit__(None, None, None)
    finally:
        await fake.stop()
