"""The Telegram Login Widget's check, as https://core.telegram.org/widgets/login documents it:
data_check_string = the fields but hash, `key=value`, sorted by key, joined by '\\n';
secret_key = SHA256(bot_token); hash = hex(HMAC_SHA256(data_check_string, secret_key))."""

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from webhooks.signin.telegram_login import LoginRefused, data_check_string, verify_login

TOKEN = "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"
NOW = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


def signed(fields: dict[str, str]) -> dict[str, str]:
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items())).encode()
    key = hashlib.sha256(TOKEN.encode()).digest()
    return {**fields, "hash": hmac.new(key, check, hashlib.sha256).hexdigest()}


def login(**extra: str) -> dict[str, str]:
    fields = {"id": "99", "first_name": "Tina", "auth_date": str(int(NOW.timestamp()))}
    return signed({**fields, **extra})


def test_the_data_check_string_is_the_sorted_fields_but_the_hash() -> None:
    fields = {"username": "t", "id": "99", "auth_date": "1700000000", "hash": "x"}
    assert data_check_string(fields) == "auth_date=1700000000\nid=99\nusername=t"


def test_a_login_signed_with_the_bots_token_names_its_user() -> None:
    assert (
        verify_login(login(username="tina", photo_url="https://t.me/i/a.jpg"), TOKEN, NOW) == "99"
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda f: {**f, "hash": f["hash"][:-1] + ("0" if f["hash"][-1] != "0" else "1")},
        lambda f: {**f, "first_name": "Eve"},  # any field changed after signing
        lambda f: {**f, "admin": "1"},  # a field Telegram never sends
        lambda f: {k: v for k, v in f.items() if k != "hash"},
    ],
)
def test_anything_else_is_refused(change) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LoginRefused):
        verify_login(change(login()), TOKEN, NOW)


def test_a_login_older_than_a_day_is_refused() -> None:
    assert verify_login(login(), TOKEN, NOW + timedelta(hours=23)) == "99"
    with pytest.raises(LoginRefused, match="too old"):
        verify_login(login(), TOKEN, NOW + timedelta(days=1, seconds=1))
