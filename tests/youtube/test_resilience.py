"""The YouTube adapter through restarts and failures: a restarted worker resumes from the
stored page token and answers no message twice (not even when it reads a page again), an
access token refused with 401 is renewed, and quotaExceeded, an ended chat and 5xx answers
are logged once, backed off, and never stop the application."""

import asyncio
import dataclasses
import itertools
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from commerce.adapters.page_tokens import SqlPageTokens
from commerce.service_layer import queries
from tests.integration.helpers import add_product
from tests.youtube.conftest import CHAT, ShopFactory, until
from tests.youtube.fake_youtube import LIVE_CHAT_ID, FakeYouTube


async def test_a_restarted_worker_resumes_from_its_page_token_and_answers_once(
    open_shop: ShopFactory, engine: AsyncEngine
) -> None:
    fake = FakeYouTube()
    await fake.start()
    try:
        anna, bo = fake.viewer("anna"), fake.viewer("bo")
        async with open_shop(fake) as shop:
            await add_product(shop.bus, stock=10)
            first_page = fake.reads[-1]["pageToken"]  # read after the history
            fake.say(fake.owner, "/drop TEE 5 25")
            fake.say(anna, "#buy TEE")
            await until(lambda: fake.lines_for(anna), what="anna's link")
        # While no worker runs, the show goes on.
        fake.say(bo, "#buy TEE")
        stored, _ = await SqlPageTokens(engine).load(LIVE_CHAT_ID)
        assert stored is not None and stored != first_page

        reads_before = len(fake.reads)
        async with open_shop(fake, wait_ready=False) as shop:
            await until(lambda: fake.lines_for(bo), what="bo's link after the restart")
            resumed = fake.reads[reads_before]
            assert resumed["pageToken"] == stored  # not the history again
        # A worker that died after storing the messages but before the token moved on reads
        # the same page again: the same messages, answered once.
        await SqlPageTokens(engine).save(LIVE_CHAT_ID, first_page, 0)
        reads_before = len(fake.reads)
        async with open_shop(fake, wait_ready=False) as shop:
            await until(lambda: len(fake.reads) > reads_before + 3, what="reads again")
            assert fake.reads[reads_before]["pageToken"] == first_page
            runner_done = shop.client.server.app
            assert runner_done is not None
            await asyncio.sleep(0.5)  # what was stored of the page again would be decided
            orders = await queries.orders(shop.bus.reads)
        assert sorted(o.identity for o in orders) == sorted(
            [f"youtube:{anna.channel}", f"youtube:{bo.channel}"]
        )
        assert len([t for t in fake.lines_for(anna) if "is yours for" in t]) == 1
        assert len([t for t in fake.lines_for(bo) if "is yours for" in t]) == 1
        assert sum("Type #buy TEE" in t for t in fake.lines()) == 1  # /drop decided once
        # The owner bought nothing: the bot's own "Type #buy TEE", read back as the owner's
        # after the restart, is known as the bot's.
        assert all(o.identity != f"youtube:{fake.owner.channel}" for o in orders)
        assert (await queries.live_drops(shop.bus.reads, CHAT))[0].remaining == 3
    finally:
        await fake.stop()


async def test_a_refused_access_token_is_renewed(open_shop: ShopFactory) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        assert len(fake.token_requests) == 1
        assert fake.token_requests[0]["grant_type"] == "refresh_token"
        fake.revoke_access_tokens()  # expired early, or revoked: the API answers 401
        viewer = fake.viewer("anna")
        fake.say(viewer, "/help")
        await until(lambda: fake.lines_for(viewer), what="the answer with a new token")
        assert len(fake.token_requests) == 2


async def test_a_used_up_quota_is_logged_once_and_waited_out(
    open_shop: ShopFactory, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        poller = shop.youtube.poller
        poller.options = dataclasses.replace(poller.options, quota_backoff=0.5)
        caplog.set_level(logging.INFO, logger="bots.youtube")
        fake.fail_reads("quotaExceeded", "quotaExceeded", "quotaExceeded")
        viewer = fake.viewer("anna")
        fake.say(viewer, "/help")
        await until(lambda: fake.lines_for(viewer), what="the answer after the quota")
        quota = [r for r in caplog.records if "quota" in r.getMessage()]
        assert len(quota) == 1 and quota[0].levelno == logging.ERROR
        assert "reading the live chat again" in caplog.text
        # Waited out: the three refused reads were at least the back-off apart.
        refused = [i for i, o in enumerate(fake.read_outcomes) if o == "quotaExceeded"]
        assert len(refused) == 3
        after = [*refused, refused[-1] + 1]  # and the read that worked again
        gaps = [fake.read_times[b] - fake.read_times[a] for a, b in itertools.pairwise(after)]
        assert all(gap >= 0.45 for gap in gaps), gaps


@pytest.mark.parametrize("reason", ["backendError", "liveChatEnded", "forbidden"])
async def test_failures_back_off_and_the_chat_is_read_again(
    open_shop: ShopFactory, caplog: pytest.LogCaptureFixture, reason: str
) -> None:
    async with open_shop() as shop:
        fake = shop.fake
        poller = shop.youtube.poller
        poller.options = dataclasses.replace(poller.options, chat_gone_backoff=0.3)
        caplog.set_level(logging.ERROR, logger="bots.youtube")
        fake.fail_reads(reason, reason, reason)
        viewer = fake.viewer("anna")
        fake.say(viewer, "/help")
        await until(lambda: fake.lines_for(viewer), what="the answer after the failures")
        errors = [r for r in caplog.records if r.name.startswith("bots.youtube")]
        assert len(errors) == 1, [r.getMessage() for r in errors]  # once, not per retry
        assert shop.client.server.app is not None  # still serving
        response = await shop.client.get("/healthz")
        assert response.status == 200


async def test_one_worker_reads_the_chat_and_another_takes_over(open_shop: ShopFactory) -> None:
    """Two workers on one database: one holds the chat (the lease) and reads it, the other
    does not spend quota; when the holder stops, the other reads on from the stored token."""
    fake = FakeYouTube()
    await fake.start()
    holding, standing_by = open_shop(fake), open_shop(fake, wait_ready=False)
    try:
        holder = await holding.__aenter__()
        standby = await standing_by.__aenter__()
        await asyncio.sleep(1.0)  # many of YouTube's polling intervals (0.05 s here)
        assert holder.youtube.poller.reads > 0
        assert standby.youtube.poller.reads == 0  # never both: the quota is spent once
        anna = fake.viewer("anna")
        fake.say(anna, "/help")
        await until(lambda: fake.lines_for(anna), what="the holder's answer")
        await asyncio.sleep(0.5)  # every line of it
        answered = len(fake.lines_for(anna))
        await holding.__aexit__(None, None, None)
        read_by_holder = len(fake.reads)
        bo = fake.viewer("bo")
        fake.say(bo, "/help")
        await until(lambda: fake.lines_for(bo), what="the answer after the take-over")
        assert standby.youtube.poller.reads > 0
        assert fake.reads[read_by_holder].get("pageToken")  # on from the stored token
        assert len(fake.lines_for(anna)) == answered  # not answered again
    finally:
        await standing_by.__aexit__(None, None, None)
        await fake.stop()
