"""One request budget for a client, shared by every thread that uses it.

Two things spend it: a fixed limit (at most ``calls`` requests in any ``period`` seconds, when
given) and what the server says: a ``429``/``Retry-After`` or ``RateLimit-Remaining: 0`` /
``X-RateLimit-Remaining: 0`` with its reset pauses every thread, not only the one that got it.

A source read by several processes at once (the bridge's parallel tap processes, which name
each one in ``SINGER_BRIDGE_TAP_PROCESS=i/N``) has one API budget among them: each process
gets its share of the fixed limit, so together they never send more than ``calls`` a period.
"""

from __future__ import annotations

import collections
import os
import re
import threading
import time
from collections.abc import Callable, Mapping

_EPOCH_FLOOR = 1_000_000_000  # an X-RateLimit-Reset above this is a Unix time, not seconds
# "i/N": process i (from 1) of N reading at once; set by singer_bridge._read.parallel
PROCESS_VARIABLE = "SINGER_BRIDGE_TAP_PROCESS"
_PROCESS = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


def process_share(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """Which of the processes reading the source at once this is, from 1: ``(i, N)``.

    >>> process_share({"SINGER_BRIDGE_TAP_PROCESS": "2/3"})
    (2, 3)
    >>> process_share({}), process_share({"SINGER_BRIDGE_TAP_PROCESS": "4/3"})
    ((1, 1), (1, 1))
    """
    match = _PROCESS.fullmatch(
        (os.environ if environ is None else environ).get(PROCESS_VARIABLE, "")
    )
    if match is None:
        return 1, 1
    index, count = int(match[1]), int(match[2])
    return (index, count) if 1 <= index <= count else (1, 1)


def share_of_limit(calls: int, period: float, index: int, count: int) -> tuple[int, float, float]:
    """Process ``index`` of ``count``'s part of "``calls`` per ``period``": its own calls,
    period, and how long it waits before its first request.

    With at least as many calls as processes the calls are divided (the first ones get the
    remainder), so the processes never send more than ``calls`` in any window together; with
    fewer, each sends one call per ``period * count / calls``, started one after the other.

    >>> [share_of_limit(10, 1.0, i, 3) for i in (1, 2, 3)]
    [(4, 1.0, 0.0), (3, 1.0, 0.0), (3, 1.0, 0.0)]
    >>> [share_of_limit(1, 1.0, i, 2) for i in (1, 2)]
    [(1, 2.0, 0.0), (1, 2.0, 1.0)]
    """
    if count <= 1:
        return calls, period, 0.0
    if calls >= count:
        return calls // count + (1 if index <= calls % count else 0), period, 0.0
    return 1, period * count / calls, (index - 1) * period / calls


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
        process: tuple[int, int] | None = None,
    ) -> None:
        """At most ``calls`` requests in any ``period`` seconds (``None``: no fixed limit), for
        all the processes reading the source at once: ``process`` is ``(i, N)``, read from
        ``SINGER_BRIDGE_TAP_PROCESS`` when not given."""
        if (calls is not None and calls < 1) or period <= 0:
            raise ValueError("a rate limit needs calls >= 1 and period > 0")
        self._clock, self._sleep, self._wall = clock, sleep, wall
        self._sent: collections.deque[float] = collections.deque()
        self._lock = threading.Lock()
        self._paused_until = float("-inf")
        start = 0.0
        if calls is not None:
            calls, period, start = share_of_limit(calls, period, *(process or process_share()))
        self.calls, self.period = calls, period
        if start:
            self._paused_until = clock() + start

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
