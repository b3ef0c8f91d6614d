"""Sign in with Telegram: the Login Widget's data, checked as Telegram documents it
(https://core.telegram.org/widgets/login#checking-authorization).

The data-check-string is every field but `hash`, as `key=value`, sorted by key and joined
by newlines; the secret key is SHA256 of the bot's token (the digest's bytes); the hash is
the hex HMAC-SHA256 of the data-check-string under that key. A login older than a day is
refused, so a leaked redirect URL cannot sign anyone in later.
"""

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta

MAX_AGE = timedelta(days=1)
SKEW = timedelta(minutes=5)  # a login dated a little ahead of this server's clock is fine
FIELDS = frozenset({"id", "first_name", "last_name", "username", "photo_url", "auth_date"})


class LoginRefused(Exception):
    """The data is not a login Telegram signed for this bot, or is too old."""


def data_check_string(fields: Mapping[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def signature(fields: Mapping[str, str], bot_token: str) -> str:
    secret = hashlib.sha256(bot_token.encode()).digest()
    check = data_check_string(fields).encode()
    return hmac.new(secret, check, hashlib.sha256).hexdigest()


def verify_login(fields: Mapping[str, str], bot_token: str, now: datetime) -> str:
    """The Telegram user id the data proves, or LoginRefused."""
    given = fields.get("hash", "")
    if not given or not fields.get("id") or not fields.get("auth_date"):
        raise LoginRefused("this is not a Telegram login: sign in again")
    if set(fields) - FIELDS - {"hash"}:
        raise LoginRefused("this Telegram login carries fields Telegram does not send")
    if not hmac.compare_digest(signature(fields, bot_token).encode(), given.encode()):
        raise LoginRefused("this Telegram login is not signed by Telegram for this shop")
    try:
        signed_at = datetime.fromtimestamp(int(fields["auth_date"]), now.tzinfo)
    except (ValueError, OverflowError, OSError):
        raise LoginRefused("this Telegram login has no valid date") from None
    if signed_at < now - MAX_AGE or signed_at > now + SKEW:
        raise LoginRefused("this Telegram login is too old: sign in again")
    user_id = fields["id"]
    if not user_id.isdigit() or len(user_id) > 20:
        raise LoginRefused("this Telegram login has no valid user id")
    return user_id
