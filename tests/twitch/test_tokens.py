"""The bots' access tokens (bots.aloud.tokens, authlib's OAuth 2 client) against the fake
token endpoints of Twitch and Google: one renewal at a time, ahead of expiry, the newest
refresh token kept, a refusal raised as the platform's error."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from bots.twitch.api import Credentials, Helix, TokenRefused
from bots.youtube import api as youtube
from tests.twitch.fake_twitch import BOT_ID, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeTwitch
from tests.youtube import fake_youtube


@pytest.fixture
async def twitch() -> AsyncIterator[FakeTwitch]:
    fake = FakeTwitch()
    await fake.start()
    yield fake
    await fake.stop()


def helix_for(fake: FakeTwitch, refresh_token: str = REFRESH_TOKEN) -> Helix:
    credentials = Credentials(CLIENT_ID, CLIENT_SECRET, refresh_token, BOT_ID)
    return Helix(credentials, fake.api_url, fake.oauth_url)


async def test_callers_at_once_share_one_renewal(twitch: FakeTwitch) -> None:
    helix = helix_for(twitch)
    try:
        tokens = await asyncio.gather(*(helix.access_token() for _ in range(20)))
        assert len(set(tokens)) == 1 and tokens[0] in twitch.access_tokens
        assert twitch.token_grants == 1 and helix.renewals == 1
        # Two calls refused with the same stale token renew it once between them.
        helix.token.expire(tokens[0])
        helix.token.expire(tokens[0])
        again = await asyncio.gather(*(helix.access_token() for _ in range(5)))
        assert len(set(again)) == 1 and again[0] != tokens[0]
        assert twitch.token_grants == 2
        helix.token.expire(tokens[0])  # stale: the current token stays
        assert await helix.access_token() == again[0] and twitch.token_grants == 2
    finally:
        await helix.close()


async def test_the_newest_refresh_token_is_used_and_kept(twitch: FakeTwitch) -> None:
    helix = helix_for(twitch)
    try:
        first = await helix.access_token()
        twitch.refresh_tokens.discard(REFRESH_TOKEN)  # only the one handed out works now
        helix.token.expire(first)
        await helix.access_token()
        await helix.close()  # and after a close, too
        twitch.revoke_access_tokens()
        await helix.user_ids(["annas_cards"])
        assert twitch.token_grants == 3 and twitch.token_refusals == 0
    finally:
        await helix.close()


async def test_a_renewal_after_waiting_for_another_sends_the_newest_refresh_token(
    twitch: FakeTwitch,
) -> None:
    """Callers at once, the first to get the new token finding it refused at once (revoked
    early): the next renewal, by a caller that waited meanwhile, sends the refresh token the
    last renewal handed out, never the one its caller saw before it waited (a refresh token
    works once here, as Twitch may rotate them)."""
    twitch.rotate = True
    helix = helix_for(twitch)
    refused_once: list[str] = []

    async def use() -> str:
        token = await helix.access_token()
        if not refused_once:  # the API refuses the first new token (no await in between)
            refused_once.append(token)
            helix.token.expire(token)
        return token

    try:
        tokens = await asyncio.gather(*(use() for _ in range(10)), return_exceptions=True)
        assert not [t for t in tokens if isinstance(t, BaseException)], tokens
        assert twitch.token_refusals == 0 and twitch.token_grants == 2
        assert twitch.refresh_tokens_sent[0] == REFRESH_TOKEN
        assert twitch.refresh_tokens_sent[1] != REFRESH_TOKEN  # the one the first renewal gave
        assert set(tokens[1:]) == {await helix.access_token()} != {refused_once[0]}
    finally:
        await helix.close()


async def test_a_refused_refresh_token_is_the_platforms_error(twitch: FakeTwitch) -> None:
    helix = helix_for(twitch, refresh_token="revoked-secret")
    try:
        with pytest.raises(TokenRefused) as refused:
            await helix.access_token()
        assert refused.value.status == 400 and refused.value.message == "Invalid refresh token"
        assert "revoked-secret" not in str(refused.value)
    finally:
        await helix.close()


async def test_a_token_is_renewed_a_minute_before_it_runs_out() -> None:
    fake = fake_youtube.FakeYouTube(token_lifetime=59)  # within the minute at once
    await fake.start()
    credentials = youtube.Credentials(
        fake_youtube.CLIENT_ID, fake_youtube.CLIENT_SECRET, fake_youtube.REFRESH_TOKEN
    )
    api = youtube.YouTubeApi(credentials, fake.api_url, fake.token_url)
    try:
        first = await api.access_token()
        second = await api.access_token()
        assert first != second and len(fake.token_requests) == 2
        fake.token_lifetime = 3599
        assert await api.access_token() == await api.access_token()
        assert len(fake.token_requests) == 3
        form = {
            "grant_type": "refresh_token",
            "refresh_token": fake_youtube.REFRESH_TOKEN,
            "client_id": fake_youtube.CLIENT_ID,
            "client_secret": fake_youtube.CLIENT_SECRET,
        }
        assert fake.token_requests == [form] * 3  # RFC 6749 6, form-encoded, nothing more
    finally:
        await api.close()
        await fake.stop()


async def test_googles_refusal_is_a_youtube_error_with_its_reason() -> None:
    fake = fake_youtube.FakeYouTube()
    await fake.start()
    credentials = youtube.Credentials(fake_youtube.CLIENT_ID, fake_youtube.CLIENT_SECRET, "1//x")
    api = youtube.YouTubeApi(credentials, fake.api_url, fake.token_url)
    try:
        with pytest.raises(youtube.TokenRefused) as refused:
            await api.access_token()
        assert (refused.value.status, refused.value.reason) == (400, "invalid_grant")
    finally:
        await api.close()
        await fake.stop()
