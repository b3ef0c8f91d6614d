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
        log.info("notice %s", type(notice).__name__, extra=_context(notice))


def _context(notice: Notice) -> dict[str, str]:
    """The order or drop a notice is about, as JSON log fields (never who the buyer is)."""
    order = getattr(notice, "order", None)
    drop = getattr(notice, "drop", None)
    context = {"order": order.ref} if order is not None else {}
    return context | ({"drop": drop.code} if drop is not None else {})
