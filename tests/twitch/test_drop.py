"""A drop in a Twitch channel: the broadcaster's /drop, viewers' #buy answered in the chat
itself naming them with their pay links (a bot has no usable private messages on Twitch),
exactly the drop's units sold, and one stock shared with the web chat."""

import re

from commerce.domain.commands import ChatMessage
from commerce.service_layer import queries
from tests.integration.helpers import add_product, start_drop
from tests.twitch.conftest import CHAT, ShopFactory, until
from tests.twitch.fake_twitch import FakeTwitch

LINK = re.compile(r"https?://\S+/p/\w+\?t=\S+")  # the claimant's link (not /pay/)


async def test_a_drop_sells_exactly_its_units_in_the_channel(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await fake.say(fake.broadcaster, "/drop TEE 3 25")
        await until(lambda: any("#buy TEE" in line for line in fake.lines()), what="the drop")
        viewers = [fake.viewer(f"buyer{n}") for n in range(5)]
        for viewer in viewers:
            await fake.say(viewer, "#buy TEE")
        await until(lambda: all(fake.lines_for(v) for v in viewers), what="every buyer answered")
        won = [v for v in viewers if any("is yours for" in t for t in fake.lines_for(v))]
        assert len(won) == 3
        for viewer in won:
            (line,) = [t for t in fake.lines_for(viewer) if "is yours for" in t]
            assert line.startswith(f"@{viewer.login}: 1 × TEE product is yours for €25.00: ")
            assert LINK.search(line), line
        for viewer in (v for v in viewers if v not in won):
            assert not any("/p/" in t for t in fake.lines_for(viewer))
        orders = await queries.orders(shop.bus.reads)
        assert sorted(o.identity for o in orders) == sorted(f"twitch:{v.id}" for v in won)
        assert {o.chat for o in orders} == {CHAT}
        await until(lambda: any("0 of 3 left" in t for t in fake.lines()), what="the board")
        assert all(len(line) <= 500 for line in fake.lines())
        assert not fake.violations and not fake.dropped
        # The bot's own lines came back through the subscription ("type #buy TEE") and
        # were not taken for anyone's #buy.
        assert len(orders) == 3


async def test_a_drop_across_twitch_and_the_web_chat_shares_one_stock(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=4, channels=(CHAT, "web:demo"))
        viewers = [fake.viewer(f"tw{n}") for n in range(3)]
        for number, viewer in enumerate(viewers):  # by turns: Twitch, then the web chat
            await fake.say(viewer, "#buy TEE")
            await until(lambda v=viewer: fake.lines_for(v), what="the Twitch answer")
            web = ChatMessage(
                key=f"web:demo:{number}",
                chat="web:demo",
                identity=f"web:w{number}",
                text="#buy TEE",
                display_name=f"w{number}",
            )
            await shop.bus.handle(web)
        orders = await queries.orders(shop.bus.reads)
        assert len(orders) == 4
        twitch_won = {o.identity for o in orders if o.identity.startswith("twitch:")}
        web_won = {o.identity for o in orders if o.identity.startswith("web:")}
        assert twitch_won == {f"twitch:{v.id}" for v in viewers[:2]}
        assert web_won == {"web:w0", "web:w1"}
        assert not any("/p/" in t for t in fake.lines_for(viewers[2]))  # sold out by then
        (drop,) = await queries.live_drops(shop.bus.reads, CHAT)
        assert drop.remaining == 0


async def test_the_broadcaster_and_moderators_run_drops_viewers_do_not(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        viewer, moderator = fake.viewer("viewer"), fake.viewer("mod")
        await fake.say(viewer, "/drop TEE 2 25")
        await until(lambda: fake.lines_for(viewer), what="the viewer's answer")
        assert not await queries.live_drops(shop.bus.reads, CHAT)
        await fake.say(moderator, "/drop TEE 2 25", badges=("moderator",))
        (drop,) = await until(lambda: queries.live_drops(shop.bus.reads, CHAT), what="mod drop")
        assert drop.quantity == 2
        await fake.say(moderator, "/end", badges=("moderator",))
        await until(
            lambda: any("the drop has ended" in t for t in fake.lines()), what="the drop ended"
        )
        await fake.say(fake.broadcaster, "/drop TEE 1 25")
        (drop,) = await until(lambda: queries.live_drops(shop.bus.reads, CHAT), what="drop")
        assert drop.quantity == 1
        assert await queries.is_seller(shop.bus.reads, f"twitch:{fake.broadcaster.id}")
        assert not await queries.is_seller(shop.bus.reads, f"twitch:{moderator.id}")


async def test_the_channel_is_found_by_its_login_and_subscribed_as_twitch_documents(
    open_shop: ShopFactory,
) -> None:
    fake = FakeTwitch()
    await fake.start()
    try:
        async with open_shop(fake):
            (request,) = fake.subscription_requests
            assert request["type"] == "channel.chat.message"
            assert request["version"] == "1"
            assert request["condition"] == {
                "broadcaster_user_id": fake.broadcaster.id,
                "user_id": "900000001",
            }
            assert request["transport"]["method"] == "websocket"
            assert request["transport"]["session_id"] == fake.sessions[0].id
    finally:
        await fake.stop()
