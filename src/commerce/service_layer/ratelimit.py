"""A small in-process rate limit: at most one event per key in a time window.

Used for notices that must not flood a buyer (the outbid DM in a bidding war): a notice
inside the window is dropped, not delayed, because the next board update says the same.
Each worker keeps its own; with several workers a buyer may rarely get one more.
"""

from collections import OrderedDict
from collections.abc import Hashable
from datetime import datetime, timedelta


class RateLimit:
    def __init__(self, every: timedelta, size: int = 10_000) -> None:
        self.every = every
        self.size = size
        self._last: OrderedDict[Hashable, datetime] = OrderedDict()

    def allow(self, key: Hashable, now: datetime) -> bool:
        """Whether an event for `key` may happen at `now` (and records it if so)."""
        last = self._last.get(key)
        if last is not None and now - last < self.every:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.size:  # the oldest keys go first
            self._last.popitem(last=False)
        return True
