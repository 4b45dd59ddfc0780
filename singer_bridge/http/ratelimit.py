"""A rate limit per period: at most ``calls`` requests in any ``period`` seconds, thread-safe."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        calls: int,
        period: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1 or period <= 0:
            raise ValueError("a rate limit needs calls >= 1 and period > 0")
        self.calls, self.period = calls, period
        self._clock, self._sleep = clock, sleep
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Wait until a request may go; return the seconds waited."""
        waited = 0.0
        with self._lock:  # one waiter at a time keeps the window exact
            now = self._clock()
            while self._sent and now - self._sent[0] >= self.period:
                self._sent.popleft()
            if len(self._sent) >= self.calls:
                pause = self._sent[0] + self.period - now
                self._sleep(pause)
                waited = pause
                now = self._clock()
                self._sent.popleft()
            self._sent.append(now)
        return waited
