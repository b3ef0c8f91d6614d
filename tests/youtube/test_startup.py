"""The YouTube adapter starts only with its settings complete, and the banner says why not."""

from tests.conftest import test_settings
from tests.youtube.fake_youtube import CLIENT_ID, CLIENT_SECRET, LIVE_CHAT_ID, REFRESH_TOKEN
from webhooks.app import create_app
from webhooks.cli.serve import banner

COMPLETE = {
    "youtube_client_id": CLIENT_ID,
    "youtube_client_secret": CLIENT_SECRET,
    "youtube_refresh_token": REFRESH_TOKEN,
    "youtube_live_chat_id": LIVE_CHAT_ID,
}


def line(text: str) -> str:
    (youtube,) = [t for t in text.splitlines() if t.strip().startswith("youtube")]
    return youtube


def test_the_banner_says_whether_youtube_is_on_and_why_not() -> None:
    off = test_settings("sqlite:///x.db")
    assert line(banner(off, "127.0.0.1", 8080)).split() == [
        "youtube",
        "off",
        "(YOUTUBE_CLIENT_ID,",
        "YOUTUBE_CLIENT_SECRET,",
        "YOUTUBE_REFRESH_TOKEN,",
        "YOUTUBE_LIVE_CHAT_ID",
        "or",
        "YOUTUBE_BROADCAST_ID",
        "not",
        "set)",
    ]
    no_chat = test_settings("sqlite:///x.db", **(COMPLETE | {"youtube_live_chat_id": ""}))
    assert "off (YOUTUBE_LIVE_CHAT_ID or YOUTUBE_BROADCAST_ID not set)" in line(
        banner(no_chat, "127.0.0.1", 8080)
    )
    on = test_settings("sqlite:///x.db", **COMPLETE)
    said = line(banner(on, "127.0.0.1", 8080))
    assert said.split()[:2] == ["youtube", "on"] and LIVE_CHAT_ID in said
    assert REFRESH_TOKEN not in banner(on, "127.0.0.1", 8080)  # secrets are never shown
    by_broadcast = test_settings(
        "sqlite:///x.db",
        **(COMPLETE | {"youtube_live_chat_id": "", "youtube_broadcast_id": "abc123XYZ_-"}),
    )
    assert "of broadcast abc123XYZ_-" in line(banner(by_broadcast, "127.0.0.1", 8080))


def installed(**settings: object) -> bool:
    app = create_app(test_settings("sqlite:///x.db", **settings))
    return any(getattr(ctx, "__name__", "") == "youtube_chat" for ctx in app.cleanup_ctx)


def test_the_adapter_is_installed_only_when_configured() -> None:
    assert not installed()
    assert not installed(**(COMPLETE | {"youtube_refresh_token": None}))
    assert installed(**COMPLETE)
