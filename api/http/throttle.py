"""The one gate in front of every call that can run crypt(): login, register, password change.

Two limits, both before any SQL:

- **Budgets** (a fixed one-minute window per key, `login_rate_per_minute`). Every attempt is charged to
  its client address and, for an authenticated caller, to its user id. Failures only are charged to the
  username, or, when the attempt presents a valid device token for that username, to that device: a
  stranger's failures never spend the budget of a user on a device that has logged in before, and a
  user's own successes never spend it. A request refused for one key is charged to none.
- **Hashing slots** (`crypt_slots`, fewer than the pool's connections): the attempts admitted wait for a
  slot (at most `pool_timeout_seconds`, then 503), so password hashing can never hold every connection and
  the other routes keep answering while someone floods this one.

The budgets live in each API process. With W workers (`strongroom serve --workers W` tells each one W) every
worker allows its share, ceil(rate / W), so a client whose connections spread over the workers gets about
the configured rate and never W times it; a client on one kept-alive connection reaches one worker and gets
its share only (the safe side). The crypt() slots are per worker too, each bounding its own pool. The limit
that holds exactly across processes is the lockout in SQL (private.authenticate: per device, per account,
and a hard limit of consecutive failures), which lives in PostgreSQL.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from api.http.errors import Problem

WINDOW = 60.0
MAX_KEYS = 100_000


@dataclass
class Attempt:
    """One admitted attempt: `failed()` charges its failure key (the username's or the device's)."""

    gate: Gate
    failure_key: str | None
    charged: bool = field(default=False)

    def failed(self) -> None:
        if self.failure_key and not self.charged:
            self.charged = True
            self.gate._charge(self.failure_key, time.monotonic())


class Gate:
    def __init__(self, per_minute: int, crypt_slots: int, slot_wait: float) -> None:
        self.per_minute = per_minute
        self.slot_wait = slot_wait
        self._windows: dict[str, tuple[float, int]] = {}
        self._slots = asyncio.Semaphore(crypt_slots)

    def _wait(self, key: str, now: float) -> float:
        """The seconds to wait if the key has spent its budget in this window, else 0 (charges nothing)."""
        start, count = self._windows.get(key, (now, 0))
        if now - start >= WINDOW or count < self.per_minute:
            return 0.0
        return WINDOW - (now - start)

    def _charge(self, key: str, now: float) -> None:
        start, count = self._windows.get(key, (now, 0))
        if now - start >= WINDOW:
            start, count = now, 0
        self._windows[key] = (start, count + 1)

    def admit(self, client_addr: str | None, *, username: str | None = None, device_id: str | None = None,
              user_id: int | None = None) -> Attempt:
        """Refuse (429 with Retry-After) when any key is spent, charging none; else charge the per-attempt keys."""
        now = time.monotonic()
        if len(self._windows) > MAX_KEYS:
            self._windows = {k: v for k, v in self._windows.items() if now - v[0] < WINDOW}
        every = [f"addr:{client_addr}"] + ([f"uid:{user_id}"] if user_id is not None else [])
        failure = f"dev:{device_id}" if device_id else f"name:{username.lower()}" if username else None
        wait = max(self._wait(key, now) for key in [*every, *([failure] if failure else [])])
        if wait > 0:
            raise Problem(429, "rate_limited", "Too many attempts: wait before trying again.",
                          headers={"Retry-After": str(max(1, math.ceil(wait)))})
        for key in every:
            self._charge(key, now)
        return Attempt(self, failure)

    @asynccontextmanager
    async def crypt(self, client_addr: str | None, *, username: str | None = None, device_id: str | None = None,
                    user_id: int | None = None) -> AsyncIterator[Attempt]:
        """Admit the attempt, then hold a hashing slot around its SQL call; an error counts as a failure."""
        attempt = self.admit(client_addr, username=username, device_id=device_id, user_id=user_id)
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self.slot_wait)
        except TimeoutError:
            raise Problem(503, "busy", "Too many password checks at once: retry in a moment.",
                          headers={"Retry-After": "1"}) from None
        try:
            yield attempt
        except Exception:
            attempt.failed()
            raise
        finally:
            self._slots.release()
