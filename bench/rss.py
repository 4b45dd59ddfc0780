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
