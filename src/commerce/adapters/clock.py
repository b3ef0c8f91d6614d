"""The real clock and a notifier that logs, until the chat adapters deliver notices."""

import logging
from datetime import UTC, datetime

from commerce.service_layer.results import Notice

log = logging.getLogger("livebuy.notices")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class LogNotifier:
    """Writes notices to the log (order refs and drop codes only, no personal data)."""

    async def notify(self, notice: Notice) -> None:
        log.info("notice %s", type(notice).__name__)
