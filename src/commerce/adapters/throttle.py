"""Flood control: a moving window per key (the `limits` library, kept in memory).

Each worker process counts on its own: with several workers a person gets the rate once per
worker their messages reach, and a restart forgets. That bounds a flood; it is not a ban list.
"""

import time
from collections import Counter

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from commerce.domain.pace import Rate

WARN_AGAIN_AFTER = 60.0  # seconds: one "slow down" per person and chat within this
MAX_WARNED = 10_000  # remembered warnings (memory stays bounded)


class MemoryThrottle:
    def __init__(self, rate: Rate) -> None:
        self.item = RateLimitItemPerSecond(rate.count, rate.seconds)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.warned: dict[str, float] = {}  # key -> when it was last told to slow down
        self.counted: Counter[str] = Counter()  # platform -> messages dropped

    def allows(self, key: str) -> bool:
        """Counts a message under `key`; False once the key is over its rate."""
        return self.limiter.hit(self.item, key)

    def retry_after(self, key: str) -> int:
        """Seconds until `key` may send again (at least 1)."""
        reset = self.limiter.get_window_stats(self.item, key).reset_time
        return max(1, int(reset - time.time() + 0.999))

    def refused(self, key: str, platform: str) -> bool:
        """A message under `key` was dropped: True when its sender should be told (the first
        time within WARN_AGAIN_AFTER), False to drop it silently."""
        self.counted[platform] += 1
        now = time.monotonic()
        last = self.warned.get(key)
        if last is not None and now - last < WARN_AGAIN_AFTER:
            return False
        if len(self.warned) >= MAX_WARNED:
            self.warned = {k: t for k, t in self.warned.items() if now - t < WARN_AGAIN_AFTER}
        self.warned[key] = now
        return True

    def dropped(self) -> dict[str, int]:
        """Messages dropped so far by this process, per platform."""
        return dict(self.counted)
