"""The one writer that owns stdout: encoded protocol lines only, safe across threads."""

from __future__ import annotations

import io
import threading
from typing import IO


class Writer:
    """Writes whole lines under a lock so stderr LOGs never split a RECORD line."""

    __slots__ = ("_lock", "_out")

    def __init__(self, out: IO[bytes] | None = None, buffer_size: int = 1 << 20) -> None:
        if out is None:
            out = io.BufferedWriter(io.FileIO(1, "wb", closefd=False), buffer_size=buffer_size)
        self._out = out
        self._lock = threading.Lock()

    def write(self, line: bytes) -> None:
        with self._lock:
            self._out.write(line)

    def write_all(self, lines: list[bytes]) -> None:
        with self._lock:
            self._out.write(b"".join(lines))

    def flush(self) -> None:
        with self._lock:
            self._out.flush()
