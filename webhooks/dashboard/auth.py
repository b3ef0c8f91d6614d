"""Dashboard sign-in: the admin token once, then a session cookie; a CSRF token per session.

The cookie carries a random session id; the database keeps its hash with the times and the
client (commerce.adapters.dashboard_sessions), so signing out, `livebuy admin sessions revoke`
and the idle timeout end a session at once. Forms and scripted requests send the CSRF token
(an HMAC of the session id under the admin token) in a `csrf` field or an `X-CSRF-Token`
header. Wrong tokens are throttled per client address.
"""

import hashlib
import hmac
import math
import re
import time
from collections import deque
from collections.abc import Callable

from aiohttp import web

COOKIE = "livebuy_admin"
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{20,100}")


def _mac(token: str, message: str) -> str:
    return hmac.new(token.encode(), message.encode(), hashlib.sha256).hexdigest()


def right_token(token: str, given: str) -> bool:
    return hmac.compare_digest(token.encode(), given.encode())


def session_id_of(request: web.Request) -> str | None:
    """The session id the browser sent, if it looks like one (the database decides the rest)."""
    value = request.cookies.get(COOKIE, "")
    return value if _SESSION_ID.fullmatch(value) else None


def csrf_token(token: str, session_id: str) -> str:
    return _mac(token, "csrf:" + session_id)


def csrf_ok(token: str, session_id: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(token, session_id).encode(), given.encode())


class LoginThrottle:
    """At most `limit` wrong tokens per client address within `window` seconds; then sign-in
    is refused (429) until the oldest of them is a window old.

    Kept in memory per process: with several workers an address gets `limit` tries per worker,
    and a restart forgets. That is enough against guessing a 24+ character token; it is not
    a shared ban list.
    """

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        now: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self.limit, self.window, self.now, self.max_clients = limit, window, now, max_clients
        self.failures: dict[str, deque[float]] = {}

    def _recent(self, ip: str, now: float) -> deque[float]:
        failures = self.failures.get(ip, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def retry_after(self, ip: str) -> int:
        """Seconds until this address may try again; 0: it may try now."""
        now = self.now()
        failures = self._recent(ip, now)
        if len(failures) < self.limit:
            return 0
        return max(1, math.ceil(failures[0] + self.window - now))

    def failed(self, ip: str) -> None:
        now = self.now()
        if ip not in self.failures and len(self.failures) >= self.max_clients:
            # Many addresses at once: forget those with nothing recent (memory stays bounded).
            for known in list(self.failures):
                if not self._recent(known, now):
                    del self.failures[known]
            if len(self.failures) >= self.max_clients:  # all busy: the longest known goes
                del self.failures[next(iter(self.failures))]
        failures = self._recent(ip, now)
        failures.append(now)
        self.failures[ip] = failures

    def succeeded(self, ip: str) -> None:
        self.failures.pop(ip, None)
