"""The Twitch adapter starts only with its settings complete (the banner saying why not is
tested in tests/e2e/test_cli_ops.py)."""

from tests.conftest import test_settings
from tests.twitch.fake_twitch import BOT_ID, CHANNEL_LOGIN, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN
from webhooks.app import create_app

COMPLETE = {
    "twitch_client_id": CLIENT_ID,
    "twitch_client_secret": CLIENT_SECRET,
    "twitch_bot_user_id": BOT_ID,
    "twitch_bot_refresh_token": REFRESH_TOKEN,
    "twitch_channels": CHANNEL_LOGIN,
}


def installed(**settings: object) -> bool:
    app = create_app(test_settings("sqlite:///x.db", **settings))
    return any(getattr(ctx, "__name__", "") == "twitch_chat" for ctx in app.cleanup_ctx)


def test_the_adapter_is_installed_only_when_configured() -> None:
    assert not installed()
    assert not installed(**(COMPLETE | {"twitch_bot_refresh_token": None}))
    assert not installed(**(COMPLETE | {"twitch_channels": " , #"}))
    assert installed(**COMPLETE)


def test_channels_are_read_as_logins_or_ids() -> None:
    settings = test_settings(
        "sqlite:///x.db", **(COMPLETE | {"twitch_channels": "#Annas_Cards, @bo ,141981764,"})
    )
    assert settings.twitch_channel_list == ("annas_cards", "bo", "141981764")
    assert "TWITCH_CHANNELS" in (
        test_settings("sqlite:///x.db", **(COMPLETE | {"twitch_channels": ""})).twitch_off or ""
    )
