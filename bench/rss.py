"""A started process's own peak RSS, for the benchmarks and the memory tests.

Not ``wait4``'s ``ru_maxrss``: Linux counts into it the high-water mark of the memory the
process ran in before its ``exec``, and ``subprocess`` starts a child with ``vfork`` (Python
3.10 and later), in the parent's memory until the ``exec``. So ``ru_maxrss`` is at least the
peak RSS of whatever started the process (a pytest worker late in the suite: 170 MiB), however
little the process used. ``VmHWM`` (``/proc/<pid>/status``) is the process's own since its
``exec``; it is sampled while the process runs (it is gone once the process is reaped).
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time

_EVERY = 0.01


def high_water_mark_kib(pid: int) -> int:
    """The process's own peak RSS so far (``VmHWM``, Linux), in KiB; 0 once it is gone."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status", "rb") as status:
        for line in status:
            if line.startswith(b"VmHWM:"):
                return int(line.split()[1])
    return 0


def wait_with_peak(
    pid: int, timeout: float | None = None
) -> tuple[int, resource.struct_rusage, float]:
    """Wait for ``pid``: (its wait status, its rusage, its own peak RSS in MiB). Without
    procfs the peak is ``ru_maxrss``, an upper bound. Raises ``TimeoutError`` after
    ``timeout`` seconds (the process is left running)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    peak = 0
    while True:
        peak = max(peak, high_water_mark_kib(pid))
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still running after {timeout} s")
        time.sleep(_EVERY)
    if not os.path.exists("/proc/self/status"):
        peak = usage.ru_maxrss
    return status, usage, peak / 1024


class PeakSampler:
    """Samples ``pid``'s ``VmHWM`` on a thread while the caller reads the process's output;
    ``peak_mib`` once the block is left (sampled to the end, before the caller reaps it)."""

    def __init__(self, pid: int) -> None:
        self._pid = pid
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self._peak = max(self._peak, high_water_mark_kib(self._pid))
            if self._stop.wait(_EVERY):
                return

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._peak = max(self._peak, high_water_mark_kib(self._pid))  # a zombie reads 0
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self._peak / 1024
