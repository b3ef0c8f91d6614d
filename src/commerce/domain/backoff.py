"""When a call to the payment provider made in the background is tried again, if ever.

Pure rules: the sweeper and reconciliation record each failure on the order (attempts, the
time before which nobody calls again) and ask here how long to wait, or whether to stop.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum


class Verdict(StrEnum):
    RETRY = "retry"  # the provider could not answer now: later, with backoff
    GIVE_UP = "give_up"  # the same request fails the same way: a human looks at it


def verdict(status: int | None, should_retry: bool | None) -> Verdict:
    """Stripe's own word first (`Stripe-Should-Retry`), then the status: no answer at all
    (a connection error or timeout), 409 (a conflict, e.g. an idempotent request still
    running), 429 (rate limited) and 5xx are tried again; any other 4xx is not, since the
    request itself is refused and would be refused again."""
    if should_retry is not None:
        return Verdict.RETRY if should_retry else Verdict.GIVE_UP
    if status is None or status in (409, 429) or status >= 500:
        return Verdict.RETRY
    return Verdict.GIVE_UP


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter: after the n-th failure the next try waits about
    base * factor**(n-1), at most `cap`, between half of it and all of it (so that orders
    that failed together do not come back together), and never less than the provider's
    `Retry-After`."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=30)
    factor: float = 2.0

    def delay(
        self,
        attempt: int,
        retry_after: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> timedelta:
        """How long to wait after failed attempt number `attempt` (1 after the first)."""
        exponent = max(0, attempt - 1)
        # Capped before multiplying out: a large attempt count never overflows.
        full = self.cap.total_seconds()
        if exponent < 64:
            full = min(full, self.base.total_seconds() * self.factor**exponent)
        wait = full / 2 + full / 2 * rand()
        if retry_after is not None and retry_after > wait:
            wait = retry_after
        return timedelta(seconds=wait)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """The `Retry-After` header in seconds: a number of seconds or an HTTP date; None when
    missing or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def should_retry_header(value: str | None) -> bool | None:
    """`Stripe-Should-Retry: true|false`; None when absent or anything else."""
    if value is None:
        return None
    text = value.strip().lower()
    return True if text == "true" else False if text == "false" else None
