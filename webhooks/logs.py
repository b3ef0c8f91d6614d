"""Logging for `livebuy run`: plain lines for a terminal or one JSON object per line, and
never a secret: every configured token and key is masked wherever it appears (libraries log
request URLs, and a Telegram bot token is part of every Bot API URL)."""

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from commerce.config import Settings

# Context that handlers pass with `extra=`; they show up as JSON fields.
CONTEXT = ("drop", "order", "event", "session", "chat", "platform", "worker")
BOT_TOKEN = re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}\b")  # Telegram's shape, even unconfigured


class Redact(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self.secrets:
            text = text.replace(secret, "***")
        record.msg, record.args = BOT_TOKEN.sub("***", text), None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry |= {key: getattr(record, key) for key in CONTEXT if hasattr(record, key)}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(settings: Settings, as_json: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Redact(secrets_of(settings)))
    handler.setFormatter(
        JsonFormatter()
        if as_json
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # One line per HTTP request of the chat libraries is noise (and carried the bot token).
    for noisy in ("httpx", "httpcore", "aiohttp.access", "discord.gateway"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def secrets_of(settings: Settings) -> list[str]:
    values = [getattr(settings, name) for name in type(settings).model_fields]
    return [v.get_secret_value() for v in values if hasattr(v, "get_secret_value")]
