"""One request budget for a client, shared by every thread that uses it.

Two things spend it: a fixed limit (at most ``calls`` requests in any ``period`` seconds, when
given) and what the server says: a ``429``/``Retry-After`` or ``RateLimit-Remaining: 0`` /
``X-RateLimit-Remaining: 0`` with its reset pauses every thread, not only the one that got it.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Mapping

_EPOCH_FLOOR = 1_000_000_000  # an X-RateLimit-Reset above this is a Unix time, not seconds


def reset_seconds(headers: Mapping[str, str], now_wall: float) -> float | None:
    """Seconds until the server's window resets when it says none are left, else ``None``.

    >>> reset_seconds({"RateLimit-Remaining": "0", "RateLimit-Reset": "7"}, 0.0)
    7.0
    >>> reset_seconds({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000030"}, 1700000000)
    30.0
    >>> reset_seconds({"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "30"}, 0.0) is None
    True
    """
    for prefix in ("RateLimit-", "X-RateLimit-"):
        remaining, reset = headers.get(prefix + "Remaining"), headers.get(prefix + "Reset")
        if remaining is None or reset is None:
            continue
        try:
            left, when = float(remaining), float(reset)
        except ValueError:
            return None
        if left > 0:
            return None
        return max(0.0, when - now_wall if when > _EPOCH_FLOOR else when)
    return None


class RateLimiter:
    def __init__(
        self,
        calls: int | None,
        period: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if (calls is not None and calls < 1) or period <= 0:
            raise ValueError("a rate limit needs calls >= 1 and period > 0")
        self.calls, self.period = calls, period
        self._clock, self._sleep, self._wall = clock, sleep, wall
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._paused_until = float("-inf")

    def pause(self, seconds: float) -> None:
        """No thread sends before ``seconds`` from now (a 429, or the server's budget spent)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Read the server's budget headers off a response; pause everyone if it is spent."""
        seconds = reset_seconds(headers, self._wall())
        if seconds:
            self.pause(seconds)

    def acquire(self) -> float:
        """Wait until a request may go; return the seconds waited."""
        with self._lock:
            paused = self._paused_until - self._clock()
        waited = 0.0
        if paused > 0:  # slept outside the lock: the other threads wait out the same pause
            self._sleep(paused)
            waited += paused
        if self.calls is None:
            return waited
        with self._lock:  # one waiter at a time keeps the window exact
            now = self._clock()
            while self._sent and now - self._sent[0] >= self.period:
                self._sent.popleft()
            if len(self._sent) >= self.calls:
                pause = self._sent[0] + self.period - now
                self._sleep(pause)
                waited += pause
                now = self._clock()
                self._sent.popleft()
            self._sent.append(now)
        return waited
