"""Seller commands and auctions in a YouTube live chat: the channel owner and its moderators
run drops (viewers may not), bids are decided in the order they were typed, and an outbid
buyer is told in the chat by name."""

from commerce.service_layer import queries
from tests.integration.helpers import add_product
from tests.youtube.conftest import CHAT, ShopFactory, until


async def test_the_owner_and_moderators_run_drops_and_a_viewer_may_not(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        viewer, moderator = fake.viewer("viewer"), fake.viewer("mod", moderator=True)

        fake.say(viewer, "/drop TEE 2 25")
        await until(lambda: fake.lines_for(viewer), what="the viewer's answer")
        assert fake.lines_for(viewer) == ["@viewer: only sellers can do that."]
        assert not await queries.live_drops(shop.bus.reads, CHAT)

        fake.say(moderator, "/drop TEE 2 25")
        await until(lambda: any("Type #buy TEE" in t for t in fake.lines()), what="the drop")
        (drop,) = await queries.live_drops(shop.bus.reads, CHAT)
        assert drop.quantity == 2
        # A moderator runs this chat's drops; the shop's sellers stay the shop's.
        assert not await queries.is_seller(shop.bus.reads, f"youtube:{moderator.channel}")

        fake.say(fake.owner, "/end TEE")
        await until(lambda: any("Drop TEE has ended" in t for t in fake.lines()), what="end")
        assert not await queries.live_drops(shop.bus.reads, CHAT)
        # The channel's owner is the shop's: a seller (owner) since their first message.
        assert await queries.seller_role(shop.bus.reads, f"youtube:{fake.owner.channel}") == (
            "owner"
        )
        # The bot writes as the owner too: its own lines are never read as commands.
        assert sum("Type #buy TEE" in t for t in fake.lines()) == 1


async def test_bids_are_decided_in_the_order_they_were_typed(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        anna, bo, cy = fake.viewer("anna"), fake.viewer("bo"), fake.viewer("cy")
        fake.say(fake.owner, "/auction TEE start 10 for 10m sudden")
        await until(lambda: any("Auction TEE" in t for t in fake.lines()), what="the auction")

        fake.say(anna, "#bid 12")
        await until(lambda: any("@anna leads TEE" in t for t in fake.lines()), what="anna")
        fake.say(bo, "#bid 15")
        await until(lambda: any("@bo leads TEE" in t for t in fake.lines()), what="bo")
        fake.say(cy, "#bid 15")  # as much as the leader, after him: too low
        await until(lambda: fake.lines_for(cy), what="cy's answer")
        assert "the next bid is at least" in fake.lines_for(cy)[0]

        (auction,) = await queries.auctions(shop.bus.reads, "live")
        assert auction.leader == f"youtube:{bo.channel}"
        assert auction.bids == 2
        # Outbid: told in the chat, by name (there are no private messages on YouTube).
        await until(
            lambda: any("You were outbid on TEE" in t for t in fake.lines_for(anna)),
            what="anna told she was outbid",
        )


async def test_a_poll_runs_in_the_live_chat(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        fake.say(fake.owner, '/poll "Next colour?" red blue')
        await until(lambda: any("Next colour?" in t for t in fake.lines()), what="the poll")
        voter = fake.viewer("voter")
        fake.say(voter, "#2")
        await until(lambda: fake.lines_for(voter), what="the vote's answer")
        assert "blue" in fake.lines_for(voter)[0]
        fake.say(fake.owner, "/poll end")
        await until(lambda: any("Poll closed" in t for t in fake.lines()), what="the result")
        (closed,) = [t for t in fake.lines() if "Poll closed" in t]
        assert "#2 blue: 1" in closed
        # The bot's own "Vote with #1 to #2", read back as the owner's, is no vote.
        assert "#1 red: 0" in closed
        assert all(len(t) <= 200 for t in fake.lines())
