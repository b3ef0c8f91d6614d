"""Settings, read once from the environment (or `.env`) in the entry point and passed down.

Field names are the environment variable names in lower case; `.env.example` lists exactly
these (a test checks it).
"""

import ipaddress
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from commerce.domain.drops import parse_duration
from commerce.domain.errors import InvalidInput
from commerce.domain.identity import Identity
from commerce.domain.money import Money, normalise_currency, parse_amount
from commerce.domain.pace import Rate, parse_rate

LOCALES = ("en", "de", "fr", "es")
MIN_ADMIN_TOKEN = 24  # characters: long enough that guessing it over HTTP is hopeless


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    database_url: str = "sqlite:///./livebuy.db"
    livebuy_host: str = "127.0.0.1"
    livebuy_port: int = 8080
    public_base_url: str = ""  # empty: http://LIVEBUY_HOST:LIVEBUY_PORT
    livebuy_admin_token: SecretStr | None = None
    # A dashboard session ends after this long without a request (and 7 days after sign-in).
    livebuy_session_idle: str = "12h"
    # Reverse proxies (comma-separated IPs or networks) whose X-Forwarded-For names the client.
    livebuy_trusted_proxies: str = ""
    # Bearer token for GET /metrics; without it only loopback peers may read the metrics.
    livebuy_metrics_token: SecretStr | None = None

    stripe_secret_key: SecretStr | None = None
    # Several secrets, comma-separated, while a webhook secret is rolled.
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    # Local mode: the Stripe test emulator answers anyone who reaches the server, not only
    # this machine (loopback). Anyone could then "pay" without money.
    livebuy_emulator_public: bool = False

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org"
    telegram_payment_provider_token: SecretStr | None = None

    discord_bot_token: SecretStr | None = None
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg"
    discord_guild_ids: str = ""
    discord_seller_role: str = ""
    discord_message_content: bool = False

    # Twitch (README, "Twitch"): the application (dev.twitch.tv console), the bot account's
    # user id and refresh token (scopes user:read:chat user:write:chat user:bot), and the
    # channels to sell in: broadcaster logins or ids, comma-separated.
    twitch_client_id: str = ""
    twitch_client_secret: SecretStr | None = None
    twitch_bot_user_id: str = ""
    twitch_bot_refresh_token: SecretStr | None = None
    twitch_channels: str = ""
    twitch_api_base_url: str = "https://api.twitch.tv/helix"
    twitch_eventsub_ws_url: str = "wss://eventsub.wss.twitch.tv/ws"
    twitch_oauth_base_url: str = "https://id.twitch.tv"
    # Messages the bot may send per 30 seconds in one channel: 20 for a bot that is neither
    # the broadcaster nor a moderator there (100 for a moderator: raise it only then).
    twitch_messages_per_30s: int = Field(default=20, ge=1, le=100)

    # Sign-in for web chat viewers (#18): each one is off until configured. Sign in with
    # Telegram needs TELEGRAM_BOT_TOKEN and the bot's username (the domain set with
    # BotFather's /setdomain); the widget's script URL changes only for tests.
    telegram_login_bot: str = ""
    telegram_login_widget_url: str = "https://telegram.org/js/telegram-widget.js?22"
    # Sign in with Discord (OAuth2, scope identify): the application's id and secret; its
    # redirect is PUBLIC_BASE_URL/auth/discord/callback. The authorize page and the token
    # endpoint are at DISCORD_OAUTH_BASE_URL, the user at DISCORD_API_BASE_URL/users/@me.
    discord_client_id: str = ""
    discord_client_secret: SecretStr | None = None
    discord_oauth_base_url: str = "https://discord.com"
    # Email links: smtp://user:pass@host:587 (STARTTLS) or smtps://user:pass@host:465.
    # Unset in local mode: links go to the server log and the local /dev/mail page.
    smtp_url: SecretStr | None = None
    livebuy_mail_from: str = "livebuy@localhost"

    # YouTube Live: the channel's OAuth client and refresh token (README, "YouTube Live"),
    # and its live chat (or the broadcast whose chat it is).
    youtube_client_id: str = ""
    youtube_client_secret: SecretStr | None = None
    youtube_refresh_token: SecretStr | None = None
    youtube_live_chat_id: str = ""
    youtube_broadcast_id: str = ""
    youtube_api_base_url: str = "https://www.googleapis.com/youtube/v3"
    youtube_oauth_token_url: str = "https://oauth2.googleapis.com/token"  # noqa: S105 (a URL)
    # Google's authorize page, where a YouTube buyer signs in to pay through their /p/ link
    # (redirect PUBLIC_BASE_URL/auth/google/callback, scope youtube.readonly).
    youtube_oauth_authorize_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    # Seconds at least between two reads of the chat (each costs 5 quota units), even when
    # YouTube allows sooner: the daily quota's arithmetic is in the README.
    youtube_min_poll_seconds: float = 5.0

    redis_url: str | None = None
    livebuy_sellers: str = ""
    livebuy_currency: str = "eur"
    livebuy_locale: str = "en"
    livebuy_hold: str = "10m"
    # How long a buyer with a saved card has to confirm a one-message buy (the hold ends then).
    livebuy_confirm_window: str = "5m"
    # How long a delayed payment (SEPA, ...) may stay processing before reconciliation gives
    # the order up (the buyer told); the provider is asked about it until then.
    livebuy_async_payment_wait: str = "3d"
    livebuy_strikes: int = 3  # unpaid holds or wins after which a buyer pays first; 0: never
    # Business days (Monday to Friday) a paid package may wait; later it is marked overdue.
    livebuy_ship_within: int = 2
    # What a giveaway's winner pays for shipping (shop currency); empty or 0: prizes are free.
    livebuy_giveaway_shipping: str = ""
    # A buyer's paid orders to one address outside shows share one package (shipping paid
    # once) within this long of the package's first order.
    livebuy_bundle_window: str = "24h"
    # Stripe Tax computes and adds tax in Checkout (automatic_tax); off: prices include it.
    livebuy_stripe_tax: bool = False
    # What a web chat viewer's claim does: hold (a unit, as on Telegram and Discord),
    # first-paid (holds nothing: the first payment takes the unit; a browser is no account,
    # so fresh cookies cannot hold a drop) or signed-in (refused until the viewer signs in
    # or links an account with /link). Signed-in or linked viewers always hold.
    livebuy_web_claims: Literal["hold", "first-paid", "signed-in"] = "first-paid"
    # A payment whose card (Stripe's fingerprint) or Checkout email already paid for a drop's
    # per-buyer limit under another identity: refunded at once (refund) or kept in
    # needs_review for the seller to decide (review).
    livebuy_limit_breach: Literal["refund", "review"] = "refund"
    # Messages one person may send in one chat (commands or not), e.g. 5/10s; over it one
    # "slow down" answer, then dropped until the rate allows again. Sellers are never slowed.
    livebuy_rate_per_buyer: str = "5/10s"
    # Web chat requests (messages, buttons, new identities) per client address; over it: 429.
    livebuy_rate_per_ip: str = "30/10s"
    # A price typed on the CLI above this (in the price's currency) needs --yes: a typo such
    # as 1e9 would otherwise put a €1,000,000,000 drop live in every chat.
    livebuy_max_price: Decimal = Decimal(10_000)
    # Folder of product pictures uploaded with `product add/edit --image FILE` or the
    # dashboard, served at /media/; empty: a "media" folder next to the SQLite database
    # (./media with PostgreSQL). Several workers must share it.
    livebuy_media_dir: str = ""

    _public_url_derived: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _public_url(self) -> "Settings":
        if not self.public_base_url:
            self._public_url_derived = True
            # Listening on every interface: browsers on this machine reach it on loopback.
            anywhere = self.livebuy_host in ("0.0.0.0", "::", "")  # noqa: S104
            host = "127.0.0.1" if anywhere else self.livebuy_host
            self.public_base_url = f"http://{host}:{self.livebuy_port}"
        self.public_base_url = self.public_base_url.rstrip("/")
        return self

    def serving(self, host: str | None, port: int | None) -> "Settings":
        """These settings for another address (`livebuy run --host/--port`): the public
        URL follows unless PUBLIC_BASE_URL was set on purpose."""
        update: dict[str, object] = {
            "livebuy_host": host or self.livebuy_host,
            "livebuy_port": port or self.livebuy_port,
        }
        if self._public_url_derived:
            update["public_base_url"] = ""
        return type(self).model_validate(self.model_dump() | update)

    @field_validator("livebuy_ship_within")
    @classmethod
    def _ship_within(cls, value: int) -> int:
        if not 0 <= value <= 60:
            raise ValueError("LIVEBUY_SHIP_WITHIN: business days between 0 and 60")
        return value

    @field_validator("livebuy_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        try:
            return normalise_currency(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None

    @field_validator("livebuy_max_price")
    @classmethod
    def _max_price(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value <= 0:
            raise ValueError("must be a positive amount, e.g. 10000")
        return value

    @model_validator(mode="after")
    def _giveaway_shipping(self) -> "Settings":
        if self.livebuy_giveaway_shipping.strip():
            try:
                Money.parse(self.livebuy_giveaway_shipping, self.livebuy_currency)
            except InvalidInput as exc:
                raise ValueError(f"LIVEBUY_GIVEAWAY_SHIPPING: {exc}") from None
        return self

    def live_key_problem(self) -> str | None:
        """Why a live Stripe key (sk_live_/rk_live_) must not be used with these settings,
        or None. A live key only talks to Stripe itself (never an emulator or a proxy that
        would learn it), with a webhook secret to verify what Stripe sends, behind an https
        PUBLIC_BASE_URL (Stripe delivers live events only to https), and never next to a
        public emulator. Test keys may run anywhere."""
        key = self.stripe_secret_key.get_secret_value() if self.stripe_secret_key else ""
        if not key.startswith(("sk_live_", "rk_live_")):
            return None
        if self.stripe_api_base.rstrip("/") != "https://api.stripe.com":
            return "STRIPE_API_BASE must be https://api.stripe.com for a live STRIPE_SECRET_KEY"
        secret = self.stripe_webhook_secret
        if secret is None or not secret.get_secret_value():
            return "a live STRIPE_SECRET_KEY needs STRIPE_WEBHOOK_SECRET (the live endpoint's)"
        if not self.public_base_url.lower().startswith("https://"):
            return "a live STRIPE_SECRET_KEY needs an https:// PUBLIC_BASE_URL"
        if self.livebuy_emulator_public:
            return "a live STRIPE_SECRET_KEY cannot run with LIVEBUY_EMULATOR_PUBLIC"
        return None

    @field_validator("livebuy_locale")
    @classmethod
    def _locale(cls, value: str) -> str:
        if value.lower() not in LOCALES:
            raise ValueError(f"must be one of {', '.join(LOCALES)}")
        return value.lower()

    @field_validator("livebuy_admin_token")
    @classmethod
    def _admin_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_ADMIN_TOKEN:
            raise ValueError(
                f"the admin token must be at least {MIN_ADMIN_TOKEN} characters"
                " (unset it to have one generated)"
            )
        return value

    @field_validator("livebuy_trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for item in filter(None, (v.strip() for v in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"'{item[:40]}' is not an IP address or network") from None
        return value

    @field_validator(
        "livebuy_hold",
        "livebuy_confirm_window",
        "livebuy_session_idle",
        "livebuy_async_payment_wait",
        "livebuy_bundle_window",
    )
    @classmethod
    def _hold(cls, value: str) -> str:
        try:
            parse_duration(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("livebuy_rate_per_buyer", "livebuy_rate_per_ip")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_rate(value)
        except InvalidInput as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("livebuy_sellers")
    @classmethod
    def _sellers(cls, value: str) -> str:
        for item in filter(None, (v.strip() for v in value.split(","))):
            try:
                Identity.typed(item)
            except InvalidInput as exc:
                raise ValueError(str(exc)) from None
        return value

    @property
    def media_dir(self) -> Path:
        """Where product pictures are stored (LIVEBUY_MEDIA_DIR, or next to the SQLite data)."""
        if self.livebuy_media_dir.strip():
            return Path(self.livebuy_media_dir.strip()).expanduser()
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(url.database).expanduser().parent / "media"
        return Path("media")

    @property
    def hold(self) -> timedelta:
        return parse_duration(self.livebuy_hold)

    @property
    def confirm_window(self) -> timedelta:
        return parse_duration(self.livebuy_confirm_window)

    @property
    def async_payment_wait(self) -> timedelta:
        return parse_duration(self.livebuy_async_payment_wait)

    @property
    def bundle_window(self) -> timedelta:
        return parse_duration(self.livebuy_bundle_window)

    @property
    def rate_per_buyer(self) -> Rate | None:
        return parse_rate(self.livebuy_rate_per_buyer)

    @property
    def rate_per_ip(self) -> Rate | None:
        return parse_rate(self.livebuy_rate_per_ip)

    @property
    def session_idle(self) -> timedelta:
        return parse_duration(self.livebuy_session_idle)

    @property
    def trusted_proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(
            ipaddress.ip_network(v.strip(), strict=False)
            for v in self.livebuy_trusted_proxies.split(",")
            if v.strip()
        )

    @property
    def secure_cookies(self) -> bool:
        """Behind TLS (an https PUBLIC_BASE_URL) cookies are sent over https only."""
        return self.public_base_url.lower().startswith("https://")

    @property
    def giveaway_shipping(self) -> Money | None:
        """What a prize's shipping costs, in the shop's currency; None: prizes are free."""
        typed = self.livebuy_giveaway_shipping.strip()
        if not typed or not parse_amount(typed):
            return None
        return Money.parse(typed, self.livebuy_currency)

    @property
    def sellers(self) -> frozenset[str]:
        return frozenset(
            str(Identity.parse(v)) for v in self.livebuy_sellers.split(",") if v.strip()
        )

    @property
    def webhook_secrets(self) -> str:
        """STRIPE_WEBHOOK_SECRET's secrets, comma-separated ("" when none): several while a
        secret is rolled, a signature by any of them is accepted."""
        typed = self.stripe_webhook_secret.get_secret_value() if self.stripe_webhook_secret else ""
        return ",".join(s.strip() for s in typed.split(",") if s.strip())

    @property
    def telegram_sign_in(self) -> bool:
        return self.telegram_bot_token is not None and bool(self.telegram_login_bot.strip())

    @property
    def discord_sign_in(self) -> bool:
        return bool(self.discord_client_id.strip()) and self.discord_client_secret is not None

    @property
    def twitch_sign_in(self) -> bool:
        """Twitch buyers sign in on their /p/ link with the Twitch application's OAuth
        (redirect PUBLIC_BASE_URL/auth/twitch/callback)."""
        return bool(self.twitch_client_id.strip()) and self.twitch_client_secret is not None

    @property
    def youtube_sign_in(self) -> bool:
        """YouTube buyers sign in with Google (redirect PUBLIC_BASE_URL/auth/google/callback)."""
        return bool(self.youtube_client_id.strip()) and self.youtube_client_secret is not None

    @property
    def email_sign_in(self) -> bool:
        """Sent through SMTP_URL, or in local mode shown on /dev/mail (and in the log)."""
        return self.smtp_url is not None or self.stripe_emulated

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = urlsplit(value.get_secret_value().strip())
        if url.scheme not in ("smtp", "smtps") or not url.hostname:
            # The value may hold a password: it is not repeated in the message.
            raise ValueError("must look like smtp://user:pass@host:587 or smtps://host:465")
        return value

    @property
    def youtube_off(self) -> str | None:
        """Why the YouTube adapter is off (None: it is on)."""
        missing = [
            name
            for name, value in (
                ("YOUTUBE_CLIENT_ID", self.youtube_client_id.strip()),
                ("YOUTUBE_CLIENT_SECRET", self.youtube_client_secret),
                ("YOUTUBE_REFRESH_TOKEN", self.youtube_refresh_token),
            )
            if not value
        ]
        if not (self.youtube_live_chat_id.strip() or self.youtube_broadcast_id.strip()):
            missing.append("YOUTUBE_LIVE_CHAT_ID or YOUTUBE_BROADCAST_ID")
        return ", ".join(missing) + " not set" if missing else None

    @property
    def twitch_off(self) -> str | None:
        """Why the Twitch adapter is off (None: it is on)."""
        missing = [
            name
            for name, value in (
                ("TWITCH_CLIENT_ID", self.twitch_client_id.strip()),
                ("TWITCH_CLIENT_SECRET", self.twitch_client_secret),
                ("TWITCH_BOT_USER_ID", self.twitch_bot_user_id.strip()),
                ("TWITCH_BOT_REFRESH_TOKEN", self.twitch_bot_refresh_token),
                ("TWITCH_CHANNELS", self.twitch_channel_list),
            )
            if not value
        ]
        return ", ".join(missing) + " not set" if missing else None

    @property
    def twitch_channel_list(self) -> tuple[str, ...]:
        """TWITCH_CHANNELS as logins (lower case, without '#' or '@') or numeric ids."""
        names = (c.strip().lstrip("#@").lower() for c in self.twitch_channels.split(","))
        return tuple(dict.fromkeys(n for n in names if n))

    @property
    def stripe_emulated(self) -> bool:
        """No Stripe key: local mode serves the built-in Stripe test emulator."""
        return self.stripe_secret_key is None
