"""The poller, the sender and the line rules on their own, against the fake YouTube: what
each failure costs in waiting, that it is logged once, and 200-character lines."""

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bots.aloud.core import lines
from bots.aloud.texts import TEXTS
from bots.youtube.api import Credentials, YouTubeApi
from bots.youtube.core import MAX_LINE, Options, short_id
from bots.youtube.poller import FIRST_BACKOFF, Poller
from bots.youtube.sender import YouTubeSender
from commerce.service_layer.outbox import Outgoing, RetryLater, Undeliverable
from tests.youtube.fake_youtube import (
    BROADCAST_ID,
    CLIENT_ID,
    CLIENT_SECRET,
    LIVE_CHAT_ID,
    REFRESH_TOKEN,
    FakeYouTube,
)


class Pages:
    def __init__(self) -> None:
        self.state: dict[str, tuple[str | None, int]] = {}

    async def load(self, chat: str) -> tuple[str | None, int]:
        return self.state.get(chat, (None, 0))

    async def save(self, chat: str, token: str | None, seq: int) -> None:
        self.state[chat] = (token, seq)

    async def ours(self, chat: str, text: str) -> bool:
        return False


class Inbox:
    """What the poller hands on: the core's `receive`."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int, dict[str, Any]]] = []

    async def receive(self, chat: str, rows: list[tuple[str, int, str]]) -> int:
        self.rows += [(m, seq, json.loads(p)) for m, seq, p in rows]
        return len(rows)


@pytest.fixture
async def fake() -> AsyncIterator[FakeYouTube]:
    fake = FakeYouTube()
    await fake.start()
    yield fake
    await fake.stop()


def api_for(fake: FakeYouTube, refresh_token: str = REFRESH_TOKEN) -> YouTubeApi:
    credentials = Credentials(CLIENT_ID, CLIENT_SECRET, refresh_token)
    return YouTubeApi(credentials, fake.api_url, fake.token_url)


def poller_for(fake: FakeYouTube, api: YouTubeApi, **options: Any) -> tuple[Poller, Inbox]:
    inbox = Inbox()
    config = Options(**({"live_chat_id": LIVE_CHAT_ID} | options))
    return Poller(api, inbox, Pages(), config), inbox  # type: ignore[arg-type]


async def test_history_is_not_answered_and_the_next_page_is(fake: FakeYouTube) -> None:
    api = api_for(fake)
    poller, inbox = poller_for(fake, api)
    fake.say(fake.viewer("early"), "#buy TEE")
    assert await poller.step() == fake.polling_ms / 1000
    assert inbox.rows == []
    later = fake.viewer("later")
    fake.say(later, "#buy TEE")
    await api.insert(LIVE_CHAT_ID, "Type #buy TEE")  # the bot's own line, as the owner
    await poller.step()
    assert [row[2]["authorDetails"]["channelId"] for row in inbox.rows] == [later.channel]
    assert inbox.rows[0][1] == 2
    await api.close()


async def test_quota_exceeded_waits_the_quota_backoff_and_is_logged_once(
    fake: FakeYouTube, caplog: pytest.LogCaptureFixture
) -> None:
    api = api_for(fake)
    poller, _ = poller_for(fake, api, quota_backoff=900.0)
    await poller.step()
    fake.fail_reads("quotaExceeded", "quotaExceeded", "quotaExceeded")
    caplog.set_level(logging.INFO, logger="bots.youtube")
    assert [await poller.step() for _ in range(3)] == [900.0, 900.0, 900.0]
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert await poller.step() == fake.polling_ms / 1000
    assert "reading the live chat again" in caplog.text
    await api.close()


async def test_server_errors_back_off_doubling_up_to_a_limit(fake: FakeYouTube) -> None:
    api = api_for(fake)
    poller, _ = poller_for(fake, api, error_backoff=4.0)
    fake.fail_reads(*["backendError"] * 5)
    waits = [await poller.step() for _ in range(5)]
    assert waits == [FIRST_BACKOFF, 2.0, 4.0, 4.0, 4.0]
    assert await poller.step() == fake.polling_ms / 1000
    assert poller.backoff == FIRST_BACKOFF
    await api.close()


async def test_the_minimum_interval_spares_the_quota(fake: FakeYouTube) -> None:
    api = api_for(fake)
    poller, _ = poller_for(fake, api, min_poll=5.0)
    assert await poller.step() == 5.0
    await api.close()


async def test_a_broadcast_id_finds_its_chat_and_an_ended_chat_is_looked_up_again(
    fake: FakeYouTube,
) -> None:
    api = api_for(fake)
    poller, _ = poller_for(fake, api, live_chat_id="", broadcast_id=BROADCAST_ID)
    await poller.step()
    assert poller.live_chat_id == LIVE_CHAT_ID
    assert fake.reads[-1]["liveChatId"] == LIVE_CHAT_ID
    fake.fail_reads("liveChatEnded")
    assert await poller.step() == poller.options.chat_gone_backoff
    assert poller.live_chat_id is None  # the broadcast may have a new chat
    await poller.step()
    assert poller.live_chat_id == LIVE_CHAT_ID
    await api.close()


async def test_a_refused_refresh_token_is_logged_once_without_the_secret(
    fake: FakeYouTube, caplog: pytest.LogCaptureFixture
) -> None:
    api = api_for(fake, refresh_token="1//revoked-secret-token")
    poller, _ = poller_for(fake, api)
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        await poller.step()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "YOUTUBE_REFRESH_TOKEN" in errors[0].getMessage()
    assert "revoked-secret-token" not in caplog.text and CLIENT_SECRET not in caplog.text
    await api.close()


async def test_the_sender_turns_youtube_errors_into_the_couriers_terms(
    fake: FakeYouTube,
) -> None:
    api = api_for(fake)
    sender = YouTubeSender(api, quota_wait=900.0)
    line = Outgoing("youtube", LIVE_CHAT_ID, "x" * 250)
    message_id = await sender.send(line)
    assert fake.lines() == ["x" * 200]
    posted = api.posted[-1]  # YouTube's id, kept whole to know the line when read back
    assert len(posted) > 64 and message_id == short_id(posted) and len(message_id) <= 64
    fake.failing_inserts += ["quotaExceeded", "backendError", "liveChatEnded"]
    with pytest.raises(RetryLater) as quota:
        await sender.send(line)
    assert quota.value.seconds == 900.0
    with pytest.raises(RetryLater) as server:
        await sender.send(line)
    assert server.value.seconds == 0
    with pytest.raises(Undeliverable):
        await sender.send(line)
    await sender.edit(Outgoing("youtube", LIVE_CHAT_ID, "board"), message_id)
    assert fake.lines()[-1] == "board"  # no edits in a live chat: a new line
    await api.close()


def test_lines_are_one_line_of_200_characters_at_most() -> None:
    assert lines("Paid.\nThanks!", MAX_LINE) == ["Paid. · Thanks!"]
    long = " ".join(["word"] * 100) + " https://shop.example/pay/ABC?t=xyz"
    pieces = lines(long, MAX_LINE)
    assert all(len(p) <= MAX_LINE for p in pieces)
    assert " ".join(pieces) == long  # nothing lost, the link whole
    assert pieces[-1].endswith("https://shop.example/pay/ABC?t=xyz")
    assert lines("y" * 450, MAX_LINE) == ["y" * 200, "y" * 200, "y" * 50]


def test_every_locale_has_the_same_youtube_texts() -> None:
    keys = {locale: set(texts) for locale, texts in TEXTS.items()}
    assert all(k == keys["en"] for k in keys.values())
    for texts in TEXTS.values():  # a won line with a pay link fits one chat line
        won = texts["won"].format(
            who="@" + "a" * 30, qty=1, item="x" * 40, amount="€1,000.00", url="u" * 70
        )
        assert len(won) <= MAX_LINE


async def test_reading_goes_on_after_an_unexpected_failure(fake: FakeYouTube) -> None:
    """A failure the poller does not know (the database away) pauses it; it does not end."""

    class Flaky(Pages):
        failures = 1

        async def load(self, chat: str) -> tuple[str | None, int]:
            if Flaky.failures:
                Flaky.failures -= 1
                raise RuntimeError("the database is restarting")
            return await super().load(chat)

    api = api_for(fake)
    inbox = Inbox()
    config = Options(live_chat_id=LIVE_CHAT_ID, error_backoff=0.05)
    poller = Poller(api, inbox, Flaky(), config)  # type: ignore[arg-type]
    task = asyncio.create_task(poller.run())
    try:
        for _ in range(200):
            if len(fake.reads) >= 2:
                break
            await asyncio.sleep(0.02)
        assert len(fake.reads) >= 2 and not task.done()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await api.close()
