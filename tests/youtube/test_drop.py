"""A drop in a YouTube live chat: the owner's /drop, viewers' #buy answered in the chat itself
with their pay links (YouTube has no private messages), exactly the drop's units sold, and
one stock shared with the web chat."""

import re

from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.reports import SqlReports
from commerce.domain.commands import ChatMessage
from commerce.service_layer import queries
from commerce.service_layer.chat import Claimed
from tests.integration.helpers import add_product, start_drop
from tests.youtube.conftest import CHAT, ShopFactory, until
from tests.youtube.fake_youtube import FakeYouTube

LINK = re.compile(r"https?://\S+/p/(\w+)\?t=\S+")  # the claimant's link (not /pay/)


async def test_a_drop_sells_exactly_its_units_in_the_live_chat(open_shop: ShopFactory) -> None:
    fake = FakeYouTube()
    await fake.start()
    early = fake.viewer("early")
    fake.say(early, "/help")  # before the bot first read the chat: history, not answered
    async with open_shop(fake) as shop:
        await add_product(shop.bus, stock=10)
        fake.say(fake.owner, "/drop TEE 3 25")
        await until(lambda: any("Type #buy TEE" in line for line in fake.lines()), what="drop")
        viewers = [fake.viewer(f"buyer{n}") for n in range(5)]
        for viewer in viewers:
            fake.say(viewer, "#buy TEE")
        await until(lambda: all(fake.lines_for(v) for v in viewers), what="every buyer answered")
        won = [v for v in viewers if any("is yours for" in t for t in fake.lines_for(v))]
        assert len(won) == 3  # the drop's units (claims are decided side by side)
        for viewer in won:
            (line,) = [t for t in fake.lines_for(viewer) if "is yours for" in t]
            assert line.startswith(f"{viewer.name}: 1 × TEE product is yours for €25.00: ")
            assert LINK.search(line), line
        for viewer in (v for v in viewers if v not in won):
            assert not any("/p/" in t for t in fake.lines_for(viewer))
        orders = await queries.orders(shop.bus.reads)
        assert sorted(o.identity for o in orders) == sorted(f"youtube:{v.channel}" for v in won)
        assert {o.chat for o in orders} == {CHAT}
        (drop,) = await queries.live_drops(shop.bus.reads, CHAT)
        assert drop.remaining == 0
        assert all(len(line) <= 200 for line in fake.lines())
        # The board: one line per update, merged, never edited (YouTube cannot edit).
        await until(lambda: any("0 of 3 left" in t for t in fake.lines()), what="the board")
        assert not fake.lines_for(early)
    await fake.stop()


async def test_a_drop_across_youtube_and_the_web_chat_shares_one_stock(
    open_shop: ShopFactory, engine: AsyncEngine
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=4, channels=(CHAT, "web:demo"))
        viewers = [fake.viewer(f"yt{n}") for n in range(3)]
        web_results = []
        for number, viewer in enumerate(viewers):  # by turns: YouTube, then the web chat
            fake.say(viewer, "#buy TEE")
            await until(lambda v=viewer: fake.lines_for(v), what="the YouTube answer")
            web = ChatMessage(
                key=f"web:demo:{number}",
                chat="web:demo",
                identity=f"web:w{number}",
                text="#buy TEE",
                display_name=f"w{number}",
            )
            web_results.append(await shop.bus.handle(web))
        orders = await queries.orders(shop.bus.reads)
        assert len(orders) == 4
        youtube_won = {o.identity for o in orders if o.identity.startswith("youtube:")}
        web_won = {o.identity for o in orders if o.identity.startswith("web:")}
        assert youtube_won == {f"youtube:{v.channel}" for v in viewers[:2]}
        assert web_won == {"web:w0", "web:w1"}
        assert any("is yours for" in t for t in fake.lines_for(viewers[1]))
        assert not any("/p/" in t for t in fake.lines_for(viewers[2]))  # sold out by then
        assert not isinstance(web_results[2], Claimed) or web_results[2].result.order is None
        (drop,) = await queries.live_drops(shop.bus.reads, CHAT)
        assert drop.remaining == 0
        # The dashboard's funnel counts YouTube's claims as YouTube's.
        funnel = {row.platform: row for row in await SqlReports(engine).funnel()}
        assert funnel["youtube"].claims == 3 and funnel["youtube"].checkouts == 0
        assert funnel["web"].claims == 3
