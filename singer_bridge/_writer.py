"""The one writer that owns stdout: encoded protocol lines only, safe across threads."""

from __future__ import annotations

import contextlib
import fcntl
import io
import threading
from collections.abc import Callable, Iterator
from typing import IO


def widen_pipe(fd: int, size: int) -> None:
    """Ask for a larger pipe buffer (Linux; a no-op elsewhere or for files and terminals).

    With 64 KiB pipes a fast producer and its reader wake each other for every few lines;
    a 1 MiB pipe cuts those context switches, measurably so on the RECORD path.
    """
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, set_size, size)


# Lines that carry the bridge's or the tap's words (never record data): masked on the way out.
_MASKED_PREFIXES = (b'{"type":"LOG"', b'{"type":"TRACE"', b'{"type":"CONNECTION_STATUS"')
_MASKED_MARKERS = (b'{"type":"LOG"', b'{"type":"TRACE","trace":{"type":"ERROR"', b"CONNECTION_ST")
_LARGE = 4 << 20


class Writer:
    """Writes whole lines under a lock so stderr LOGs never split a RECORD line.

    Once ``mask_with`` gives it the secrets' masker, every LOG, TRACE and CONNECTION_STATUS
    line is masked here, the one place every message passes, whoever wrote it.
    """

    __slots__ = ("_lock", "_mask", "_out")

    def __init__(self, out: IO[bytes] | None = None, buffer_size: int = 1 << 20) -> None:
        if out is None:
            widen_pipe(1, buffer_size)
            out = io.BufferedWriter(io.FileIO(1, "wb", closefd=False), buffer_size=buffer_size)
        self._out = out
        self._lock = threading.Lock()
        self._mask: Callable[[str], str] | None = None

    def mask_with(self, mask: Callable[[str], str]) -> None:
        """Mask secrets in every LOG, TRACE and CONNECTION_STATUS line from now on."""
        self._mask = mask

    def mask_text(self, text: str) -> str:
        """``text`` masked as a LOG line would be: for callers that cut it to a preview,
        which must mask first (a secret cut in two would no longer be recognised)."""
        return text if self._mask is None else self._mask(text)

    def _masked(self, line: bytes) -> bytes:
        if self._mask is None or not line.startswith(_MASKED_PREFIXES):
            return line
        return self._mask(line.decode("utf-8", "replace")).encode("utf-8")

    def _pieces(self, item: bytes) -> Iterator[bytes | memoryview]:
        """An item, masked where it holds a LOG/TRACE line (a RUNNING status may come ahead
        of a record): those lines masked, the others as views of the item, never copied."""
        if self._mask is None or not item.startswith(_MASKED_PREFIXES):
            yield item
            return
        start, size = 0, len(item)
        with memoryview(item) as view:
            while start < size:
                end = item.find(b"\n", start) + 1 or size
                if item.startswith(_MASKED_PREFIXES, start):
                    yield self._masked(bytes(view[start:end]))
                else:
                    yield view[start:end]
                start = end

    def write(self, line: bytes) -> None:
        with self._lock:
            for piece in self._pieces(line):
                self._out.write(piece)

    def write_all(self, lines: list[bytes], *, plain: bool = False, small: bool = False) -> None:
        """Write ``lines`` in one go. ``plain``: the caller vouches that they are RECORD lines
        and the bridge's own stream statuses and warnings, none carrying text to mask, so
        they are not searched for LOG/TRACE lines; ``small``: that they add up to a few MB at
        most, so they are joined without adding up their sizes (the hot path's case)."""
        if not small and sum(map(len, lines)) >= _LARGE:  # no copy of a huge record to join
            with self._lock:
                for item in lines:
                    for piece in self._pieces(item):
                        self._out.write(piece)
            return
        data = b"".join(lines)
        if not plain and self._mask is not None and any(m in data for m in _MASKED_MARKERS):
            data = b"".join(self._masked(line) for line in data.splitlines(keepends=True))
        with self._lock:
            self._out.write(data)

    def flush(self) -> None:
        with self._lock:
            self._out.flush()
