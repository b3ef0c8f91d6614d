"""The EventSub connection through Twitch's moves and failures: a session_reconnect loses and
doubles nothing, a notification delivered twice is decided once, a connection silent past its
keepalive timeout is replaced (and the channel subscribed again), and an access token Helix
no longer takes is renewed from the refresh token."""

import asyncio

import pytest

from commerce.service_layer import queries
from tests.integration.helpers import add_product, start_drop
from tests.twitch.conftest import CHAT, ShopFactory, until
from tests.twitch.fake_twitch import CLIENT_SECRET, REFRESH_TOKEN, FakeTwitch


async def test_a_session_reconnect_loses_and_doubles_nothing(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=5, channels=(CHAT,))
        before, during, after = fake.viewer("before"), fake.viewer("during"), fake.viewer("after")
        await fake.say(before, "#buy TEE")
        old = await fake.reconnect()
        # Said on the old connection while the bot connects to the new one.
        await fake.say(during, "#buy TEE")
        await until(lambda: len(fake.sessions) == 2 and fake.live(), what="the new connection")
        await until(lambda: old.ws.closed, what="the old connection closed by the bot")
        await fake.say(after, "#buy TEE")
        buyers = (before, during, after)
        await until(lambda: all(fake.lines_for(v) for v in buyers), what="all three answered")
        orders = await queries.orders(shop.bus.reads)
        assert sorted(o.identity for o in orders) == sorted(f"twitch:{v.id}" for v in buyers)
        for viewer in buyers:
            assert sum("is yours for" in t for t in fake.lines_for(viewer)) == 1
        # The subscription moved with the session: it was not made again.
        assert len(fake.subscription_requests) == 1
        assert shop.twitch.eventsub.sessions == 2


async def test_a_notification_delivered_twice_is_decided_once(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=5, channels=(CHAT,))
        anna = fake.viewer("anna")
        message_id = await fake.say(anna, "#buy TEE")
        await until(lambda: fake.lines_for(anna), what="anna's answer")
        await fake.say(anna, "#buy TEE", message_id=message_id)  # Twitch sends it again
        bo = fake.viewer("bo")
        await fake.say(bo, "#buy TEE")
        await until(lambda: fake.lines_for(bo), what="bo's answer")
        assert len(fake.lines_for(anna)) == 1
        orders = await queries.orders(shop.bus.reads)
        expected = sorted([f"twitch:{anna.id}", f"twitch:{bo.id}"])
        assert sorted(o.identity for o in orders) == expected


async def test_a_silent_connection_is_replaced_and_the_channel_subscribed_again(
    open_shop: ShopFactory,
) -> None:
    fake = FakeTwitch(keepalive=1)
    await fake.start()
    try:
        async with open_shop(fake) as shop:
            shop.twitch.eventsub.margin = 0.5
            await add_product(shop.bus, stock=10)
            await start_drop(shop.bus, quantity=5, channels=(CHAT,))
            fake.go_silent()  # no keepalive, no message: the connection is dead to the bot
            await until(lambda: len(fake.subscription_requests) == 2, what="a new subscription")
            assert fake.sessions[0].ws.closed
            anna = fake.viewer("anna")
            await until(lambda: fake.live(), what="the new session")
            await fake.say(anna, "#buy TEE")
            await until(lambda: fake.lines_for(anna), what="anna's answer")
            assert shop.twitch.eventsub.sessions == 2
            assert fake.subscription_requests[1]["transport"]["session_id"] == fake.sessions[1].id
    finally:
        await fake.stop()


async def test_an_access_token_helix_refuses_is_renewed(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        await add_product(shop.bus, stock=10)
        await start_drop(shop.bus, quantity=5, channels=(CHAT,))
        grants = fake.token_grants
        fake.revoke_access_tokens()  # Helix answers 401 to the token the bot holds
        anna = fake.viewer("anna")
        await fake.say(anna, "#buy TEE")
        await until(lambda: fake.lines_for(anna), what="anna's answer, sent with a new token")
        assert fake.unauthorized >= 1
        assert fake.token_grants == grants + 1
        assert any("is yours for" in t for t in fake.lines_for(anna))


async def test_a_refused_refresh_token_is_logged_and_tried_again_never_shown(
    open_shop: ShopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeTwitch()
    await fake.start()
    fake.refresh_tokens.clear()  # the token was revoked
    try:
        async with open_shop(fake, wait_subscribed=False):
            await until(lambda: fake.token_refusals >= 2, what="a second try")
            assert not fake.subscription_requests
            assert "Twitch refused TWITCH_BOT_REFRESH_TOKEN" in caplog.text
            fake.refresh_tokens.add(REFRESH_TOKEN)  # a fixed token: the chat is read again
            await until(lambda: fake.live(), within=60, what="the subscription")
        assert REFRESH_TOKEN not in caplog.text and CLIENT_SECRET not in caplog.text
    finally:
        await fake.stop()


async def test_one_worker_holds_the_eventsub_connection_and_another_takes_over(
    open_shop: ShopFactory,
) -> None:
    """Two workers on one database: one holds the EventSub connection (the lease); two would
    read every message twice. When the holder stops, the other connects and subscribes."""
    fake = FakeTwitch()
    await fake.start()
    holding, standing_by = open_shop(fake), open_shop(fake, wait_subscribed=False)
    try:
        holder = await holding.__aenter__()
        standby = await standing_by.__aenter__()
        await asyncio.sleep(3.0)  # more than a lease renewal
        assert holder.twitch.eventsub.sessions == 1
        assert standby.twitch.eventsub.sessions == 0
        assert len([s for s in fake.sessions if not s.ws.closed]) == 1
        anna = fake.viewer("anna")
        await fake.say(anna, "/help")
        await until(lambda: fake.lines_for(anna), what="the holder's answer")
        await asyncio.sleep(0.5)  # every line of it
        answered = len(fake.lines_for(anna))
        await holding.__aexit__(None, None, None)
        await until(lambda: standby.twitch.eventsub.sessions == 1, what="the take-over")
        await until(lambda: fake.live(), what="the new subscription")
        bo = fake.viewer("bo")
        await fake.say(bo, "/help")
        await until(lambda: fake.lines_for(bo), what="the answer after the take-over")
        assert len(fake.lines_for(anna)) == answered  # not answered again
        assert len(fake.subscription_requests) == 2
    finally:
        await standing_by.__aexit__(None, None, None)
        await fake.stop()


async def test_reading_goes_on_after_an_unexpected_failure(
    open_shop: ShopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        core = shop.twitch.core
        receive = core.receive
        failures = []

        async def failing_once(messages: list[tuple[str, str, int, str]]) -> int:
            if not failures:
                failures.append(messages)
                raise RuntimeError("the database is away")
            return await receive(messages)

        core.receive = failing_once  # type: ignore[method-assign]
        anna, bo = fake.viewer("anna"), fake.viewer("bo")
        await fake.say(anna, "/help")
        await until(lambda: len(fake.subscription_requests) == 2, what="connected again")
        await until(lambda: fake.live(), what="the new subscription")
        await fake.say(bo, "/help")
        await until(lambda: fake.lines_for(bo), what="bo answered after the failure")
        assert "unexpected failure; connecting again" in caplog.text
