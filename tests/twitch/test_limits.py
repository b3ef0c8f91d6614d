"""Twitch's limits, kept through the outbox: never more than the channel's messages per
window (20 per 30 s for a bot that is no moderator; the fake counts a short window so the test
runs in seconds, and the sender paces by the same numbers), no line repeated within 30 s, no
line over 500 characters."""

from datetime import timedelta

from commerce.service_layer import queries
from commerce.service_layer.outbox import Outgoing
from tests.integration.helpers import add_product, start_drop
from tests.twitch.conftest import CHAT, ShopFactory, until
from tests.twitch.fake_twitch import CHANNEL_ID, FakeTwitch


async def test_a_200_buyer_drop_never_exceeds_the_channels_message_limit(
    open_shop: ShopFactory,
) -> None:
    # A quarter-second window (20 lines in it, as Twitch allows in 30 s): the sender paces by
    # the same numbers, so the 200 answers and the boards take seconds, not minutes.
    fake = FakeTwitch(per_window=20, window=0.25)
    await fake.start()
    try:
        async with open_shop(fake) as shop:
            await add_product(shop.bus, stock=100)
            # 200 answers and the boards: ten windows' worth of lines, asked for in an instant.
            await start_drop(shop.bus, quantity=60, channels=(CHAT,))
            viewers = [fake.viewer(f"buyer{n:03}") for n in range(200)]
            for viewer in viewers:  # as fast as the chat delivers them
                await fake.say(viewer, "#buy TEE")
            await until(
                lambda: all(fake.lines_for(v) for v in viewers),
                within=120,
                what="every buyer answered",
            )
            won = [v for v in viewers if any("is yours for" in t for t in fake.lines_for(v))]
            assert len(won) == 60
            orders = await queries.orders(shop.bus.reads)
            assert len(orders) == 60
            assert fake.violations == []  # Twitch never had to refuse a line (429)
            assert fake.most_in_a_window() <= 20
            # The board's updates were merged: far fewer board lines than claims.
            boards = [t for t in fake.lines() if "left at" in t]
            assert 1 <= len(boards) < 60
            assert not fake.dropped
    finally:
        await fake.stop()


async def test_a_line_repeating_the_previous_one_is_not_dropped_by_twitch(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        core = shop.twitch.core
        same = "Giveaway at the end of the stream!"
        await core.put(Outgoing("twitch", CHANNEL_ID, same))
        await core.put(Outgoing("twitch", CHANNEL_ID, same))
        await core.put(Outgoing("twitch", CHANNEL_ID, same))
        await until(lambda: len(fake.lines()) == 3, what="three lines")
        first, second, third = fake.lines()
        assert first == same and third == same  # the second one differs, invisibly
        assert second != same and second.startswith(same)
        assert not fake.dropped
        # A board that says again what the chat saw last is not sent again.
        board = "TEE: 3 of 5 left at €25.00, type #buy TEE"
        await core.put(Outgoing("twitch", CHANNEL_ID, board, board="drop:1"))
        await until(lambda: fake.lines()[-1] == board, what="the board")
        shop.twitch.outbox.board_every = timedelta(0)
        await core.put(Outgoing("twitch", CHANNEL_ID, board, board="drop:1"))
        await core.put(Outgoing("twitch", CHANNEL_ID, "after the board"))
        await until(lambda: fake.lines()[-1] == "after the board", what="the next line")
        assert fake.lines().count(board) == 1
        assert not fake.dropped


async def test_a_long_answer_is_cut_into_lines_of_500_characters(
    open_shop: ShopFactory,
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        words = " ".join(f"word{n}" for n in range(200))  # about 1,300 characters
        await shop.twitch.core.put(Outgoing("twitch", CHANNEL_ID, words))
        await until(lambda: len(fake.lines()) >= 3, what="the lines")
        assert all(len(line) <= 500 for line in fake.lines())
        assert " ".join(fake.lines()) == words
