"""Auctions and polls in a Twitch channel: bids decided in the order they arrived."""

from commerce.service_layer import queries
from tests.integration.helpers import add_product
from tests.twitch.conftest import ShopFactory, until


async def test_bids_are_decided_in_the_order_they_arrived(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await fake.say(fake.broadcaster, "/auction TEE start 10 for 10m sudden")
        await until(lambda: any("Auction TEE" in t for t in fake.lines()), what="the auction")
        bidders = [fake.viewer(f"bidder{n}") for n in range(6)]
        # The same amount, one right after the other: the first leads. (Decided side by side,
        # as claims are, the later ones won the race for the auction 2 times in 6.)
        for bidder in bidders:
            await fake.say(bidder, "#bid 15")
        late = bidders[1:]
        await until(lambda: all(fake.lines_for(b) for b in late), what="every late bidder told")
        (auction,) = await queries.auctions(shop.bus.reads, "live")
        assert auction.leader == f"twitch:{bidders[0].id}"
        assert auction.bids == 1
        assert any("@bidder0 leads TEE" in t for t in fake.lines())
        for bidder in late:
            assert any("the next bid is at least" in t for t in fake.lines_for(bidder))
        anna = fake.viewer("anna")
        await fake.say(anna, "#bid 20")
        await until(lambda: any("@anna leads TEE" in t for t in fake.lines()), what="anna leads")
        # Outbid: told in the channel, by name (a bot has no usable whispers).
        await until(
            lambda: any("outbid on TEE" in t for t in fake.lines_for(bidders[0])),
            what="the first bidder told they were outbid",
        )


async def test_a_poll_runs_in_the_channel(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await fake.say(fake.broadcaster, '/poll "Next colour?" red blue')
        await until(lambda: any("Next colour?" in t for t in fake.lines()), what="the poll")
        voter = fake.viewer("voter")
        await fake.say(voter, "#2")
        await until(lambda: fake.lines_for(voter), what="the vote's answer")
        assert "blue" in fake.lines_for(voter)[0]
        await fake.say(fake.broadcaster, "/poll end")
        await until(lambda: any("Poll closed" in t for t in fake.lines()), what="the result")
        (closed,) = [t for t in fake.lines() if "Poll closed" in t]
        assert "#2 blue: 1" in closed
        # The bot's own "Vote with #1 to #2", sent back by the subscription, is no vote.
        assert "#1 red: 0" in closed
