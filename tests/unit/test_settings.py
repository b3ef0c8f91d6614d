"""Settings come only from the environment (or .env), and .env.example lists exactly them."""

import re
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from commerce.config import Settings
from commerce.domain.money import Money

ROOT = Path(__file__).resolve().parents[2]


def example_keys() -> list[str]:
    text = (ROOT / ".env.example").read_text()
    return re.findall(r"^\s*#?\s*([A-Z][A-Z0-9_]+)=", text, re.M)


def test_env_example_lists_exactly_the_settings() -> None:
    keys = example_keys()
    assert len(keys) == len(set(keys)), "a setting is listed twice"
    assert set(keys) == {name.upper() for name in Settings.model_fields}


def test_every_setting_has_a_comment() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^\s*#?\s*[A-Z][A-Z0-9_]+=", line):
            assert lines[index - 1].startswith("# ") and "=" not in lines[index - 1], line


def test_dotenv_is_ignored_by_git() -> None:
    result = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=ROOT, capture_output=True, check=False
    )
    assert result.returncode == 0


def test_only_settings_read_the_environment() -> None:
    for folder in ("src/commerce", "bots", "webhooks"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert "os.environ" not in text and "getenv" not in text, path


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LIVEBUY_LOCALE", "xx"),
        ("LIVEBUY_SELLERS", "bogus"),
        ("LIVEBUY_CURRENCY", "euro"),
        ("LIVEBUY_HOLD", "0s"),
        ("LIVEBUY_PORT", "http"),
    ],
)
def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_defaults_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_supersecret")
    monkeypatch.setenv("LIVEBUY_SELLERS", "telegram:1, Discord:2")
    monkeypatch.setenv("LIVEBUY_CURRENCY", "EUR")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert "sk_test_supersecret" not in repr(settings)
    assert settings.sellers == frozenset({"telegram:1", "discord:2"})
    assert settings.livebuy_currency == "eur"
    assert settings.hold.total_seconds() == 600
    assert not settings.stripe_emulated


def test_public_url_follows_the_address_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.public_base_url == "http://127.0.0.1:8080"
    assert settings.serving("0.0.0.0", 9000).public_base_url == "http://127.0.0.1:9000"  # noqa: S104
    assert settings.serving(None, None) == settings
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://shop.example/")
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_x")
    public = Settings(_env_file=None)  # type: ignore[call-arg]
    moved = public.serving("127.0.0.1", 9001)
    assert moved.public_base_url == "https://shop.example"
    assert moved.livebuy_port == 9001
    assert moved.stripe_secret_key is not None
    assert moved.stripe_secret_key.get_secret_value() == "sk_test_x"


def test_giveaway_shipping_is_an_amount_in_the_shop_currency() -> None:
    def shipping(value: str, currency: str = "eur") -> object:
        return Settings(
            _env_file=None,  # type: ignore[call-arg]
            livebuy_giveaway_shipping=value,
            livebuy_currency=currency,
        ).giveaway_shipping

    assert shipping("") is None and shipping("0") is None  # prizes are free
    assert shipping("4,90") == Money(490, "eur")
    assert shipping("500", "jpy") == Money(500, "jpy")
    for bad, currency in (("abc", "eur"), ("-1", "eur"), ("4.905", "eur"), ("4.5", "jpy")):
        with pytest.raises(ValidationError, match="LIVEBUY_GIVEAWAY_SHIPPING"):
            shipping(bad, currency)
