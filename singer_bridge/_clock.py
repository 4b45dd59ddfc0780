"""The wall clock, in whole milliseconds since the epoch: what ``emitted_at`` and trace times
carry. The pure core never reads it; the edges pass it in."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
