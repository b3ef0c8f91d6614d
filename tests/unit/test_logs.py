"""Logs: JSON lines with context fields, and secrets masked wherever they appear."""

import io
import json
import logging
from collections.abc import Iterator

import pytest

from commerce.config import Settings
from webhooks import logs


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def capture(as_json: bool, **secrets: str) -> tuple[logging.Logger, io.StringIO]:
    settings = Settings(_env_file=None, **secrets)  # type: ignore[call-arg]
    logs.configure(settings, as_json)
    out = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(out)
    return logging.getLogger("livebuy.test"), out


def test_json_lines_carry_context_and_no_secrets() -> None:
    token = "123456789:AAE-secret-token-of-the-telegram-bot-xyz"
    log, out = capture(True, telegram_bot_token=token, stripe_secret_key="sk_live_abcdef123")
    log.info("POST https://api.telegram.org/bot%s/getUpdates", token, extra={"drop": "TEE"})
    log.warning("key %s and an unconfigured bot 987654321:%s", "sk_live_abcdef123", "x" * 35)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["msg"] == "POST https://api.telegram.org/bot***/getUpdates"
    assert (first["level"], first["logger"], first["drop"]) == ("info", "livebuy.test", "TEE")
    assert second["msg"] == "key *** and an unconfigured bot ***"
    assert "secret" not in out.getvalue()


def test_text_lines_for_a_terminal_and_quiet_http_libraries() -> None:
    log, out = capture(False)
    log.info("hello %s", "anna")
    assert out.getvalue().rstrip().endswith("INFO livebuy.test hello anna")
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING


async def test_notices_and_payment_events_log_their_ids(caplog: pytest.LogCaptureFixture) -> None:
    from datetime import UTC, datetime

    from commerce.adapters.clock import LogNotifier
    from commerce.domain.money import Money
    from commerce.domain.orders import OrderStatus
    from commerce.service_layer.results import OrderPaid, OrderView

    order = OrderView("K7P2QX9M", "TEE", "TEE", "Tee", "", "telegram:42", "telegram:-1", 1,
                      Money(2500, "eur"), OrderStatus.PAID, None, datetime.now(UTC))  # fmt: skip
    with caplog.at_level(logging.INFO):
        await LogNotifier().notify(OrderPaid(order))
    [record] = caplog.records
    assert getattr(record, "order") == "K7P2QX9M"  # noqa: B009
    assert "telegram:42" not in record.getMessage()
