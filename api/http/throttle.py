"""Login and register throttling, before any crypt() runs: per client address and per username.

Kept in the API process (a fixed one-minute window per key), because its job is to spare the database's
CPU: a request refused here never reaches PostgreSQL. Each API process counts on its own, so N processes
allow N times the rate; the account lockout in SQL (api.login) is the limit that holds across processes.
"""

from __future__ import annotations

import math
import time

from api.http.errors import Problem

WINDOW = 60.0
MAX_KEYS = 100_000


class Throttle:
    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows: dict[str, tuple[float, int]] = {}

    def _take(self, key: str, now: float) -> float:
        """Count one attempt; the seconds to wait if the key is over its limit, else 0."""
        start, count = self._windows.get(key, (now, 0))
        if now - start >= WINDOW:
            start, count = now, 0
        if count >= self.per_minute:
            return WINDOW - (now - start)
        self._windows[key] = (start, count + 1)
        return 0.0

    def check(self, client_addr: str | None, username: str) -> None:
        """Raise 429 with Retry-After when the address or the username is over the limit."""
        now = time.monotonic()
        if len(self._windows) > MAX_KEYS:
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < WINDOW}
        wait = max(self._take(f"addr:{client_addr}", now), self._take(f"user:{username.lower()}", now))
        if wait > 0:
            raise Problem(429, "rate_limited", "Too many attempts: wait before trying again.",
                          headers={"Retry-After": str(max(1, math.ceil(wait)))})
