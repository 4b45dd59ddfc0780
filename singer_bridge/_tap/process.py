"""The tap process: spawn from argv (never a shell), drain stderr, time out, stop the group.

>>> with TapProcess(["echo", '{"type": "STATE", "value": {}}']) as tap:
...     lines = list(tap.stdout_lines())
...     code = tap.wait()  # inside: leaving the block stops a tap that is still running
>>> (lines, code)
([[b'{"type": "STATE", "value": {}}']], 0)
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import fcntl
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import IO

from singer_bridge._writer import widen_pipe
from singer_bridge.errors import BridgeError, TapError

STDERR_TAIL_LINES = 40
_MAX_STDERR_LINE = 64 * 1024
# A longer stderr line is read this far and masked whole before it is cut to _MAX_STDERR_LINE
# (a secret across the cut would not be recognised); the rest of it is dropped.
_STDERR_LINE_READ = 4 * _MAX_STDERR_LINE
_PIPE_BUFFER = _READ_BUFFER = 1 << 20
# A tap that flushes every message (singer-python, singer-sdk) trickles: a read right after the
# last one finds a few lines, and waking for each few lines costs the bridge more CPU than
# the lines themselves. So after small reads the pipe is left to fill a while before the next
# read: first _TRICKLE_WAIT, doubled while reads stay small, at most _MAX_WAIT (the latency a
# message can gain); kept while reads are fair-sized; none once a read takes half the pipe
# (the tap is fast: read straight on, it must never block on a full pipe). "Small" is under
# _TRICKLE_BYTES, or an eighth of the pipe if it is smaller (it could not be widened).
_TRICKLE_BYTES = 64 * 1024
_TRICKLE_WAIT = 0.004
_MAX_WAIT = 0.016
_GRACE_SECONDS = 5.0

StderrHandler = Callable[[str], None]
_STREAM_NAME = re.compile(rb'"stream"\s*:\s*"([^"\\]{1,200})"')


class TapProcess:
    """A running tap. Use as a context manager: leaving it always reaps the whole group."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        on_stderr: StderrHandler | None = None,
        idle_timeout: float | None = None,
        timeout: float | None = None,
        mask: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.argv = list(argv)
        self._env = dict(env) if env is not None else None
        self._on_stderr = on_stderr
        self._idle_timeout = idle_timeout
        self._timeout = timeout
        self._mask = mask
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self.timed_out = False
        self.stopped_by: str | None = None
        self.read_error: BridgeError | None = None  # why a reader of stdout gave up on it
        self._progress = 0
        self._done = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> TapProcess:
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._env,
                bufsize=_PIPE_BUFFER,  # stderr's; stdout is read from its fd directly
                start_new_session=True,  # its own process group, so we can stop all of it
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            raise TapError(
                f"cannot start the tap {self.argv[0]!r}: {exc.strerror or exc}",
                internal_message=f"argv: {self.argv!r}",
            ) from exc
        if self._proc.stdout is not None:
            widen_pipe(self._proc.stdout.fileno(), _PIPE_BUFFER)
        self._start_thread(self._drain_stderr)
        if self._idle_timeout or self._timeout:
            self._start_thread(self._watch_time)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.stop("the bridge stopped before the tap finished")
        self._done.set()
        if self._proc is not None:
            self._wait_quietly()
        # The tap is gone, so its stderr ends: let the drain thread finish before closing.
        for thread in self._threads:
            thread.join(timeout=_GRACE_SECONDS)
        if self._proc is not None:
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def _start_thread(self, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=f"tap-{target.__name__}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stdout_lines(self) -> Iterator[list[bytes]]:
        """Complete stdout lines (without newlines), a list per chunk read from the pipe."""
        for block in self.stdout_blocks():
            yield bytes(block).split(b"\n")

    def stdout_blocks(self, max_line_bytes: int | None = None) -> Iterator[bytes | bytearray]:
        """Stdout in blocks of complete lines: each block's lines joined by newlines.

        Reading chunks and handling them whole is several times cheaper per line than
        ``readline``. The chunks are read into one reused buffer (no large allocation per
        read), and when reads return little (a tap writing and flushing one message at a
        time) the pipe is left to fill for a few milliseconds before the next read (see
        ``trickle_wait``): the lines already read are handed on first, so nothing read waits,
        and a silent tap just blocks the read as before (the idle timeout stops it). A line
        longer than the buffer is gathered in one growing bytearray (handed on as it is, never
        copied again), up to ``max_line_bytes``: a longer one stops the tap and raises
        ``TapError`` naming its stream (a tap that never writes a newline would otherwise
        fill the memory).
        """
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        buf = bytearray(_READ_BUFFER)
        view = memoryview(buf)
        size, fill = len(buf), 0
        long_line: bytearray | None = None
        pipe = pipe_size(fd)
        wait, small_before = 0.0, False
        readv, rfind, sleep = os.readv, buf.rfind, time.sleep
        try:
            while n := readv(fd, [view[fill:]]):
                self._progress += 1
                start, fill = fill, fill + n
                end = rfind(b"\n", start, fill)  # what came before has no newline
                if end == -1:
                    if fill == size:  # a line longer than the buffer
                        if long_line is None:
                            long_line = bytearray()
                        long_line += view
                        fill = 0
                        self._check_line(long_line, max_line_bytes)
                    continue
                head: bytes | bytearray
                if long_line is not None:
                    long_line += view[:end]
                    self._check_line(long_line, max_line_bytes)
                    head, long_line = long_line, None
                else:
                    head = bytes(view[:end])
                rest = fill - end - 1
                if rest:
                    view[:rest] = view[end + 1 : fill]
                fill = rest
                yield head
                wait, small_before = trickle_wait(n, wait, small_before, pipe)
                if wait:
                    sleep(wait)
            if long_line is not None or fill:  # a last line without its newline (died?)
                tail = long_line if long_line is not None else bytearray()
                tail += view[:fill]
                yield tail
        finally:
            view.release()

    def _check_line(self, line: bytearray, limit: int | None) -> None:
        if limit is None or len(line) <= limit:
            return
        found = _STREAM_NAME.search(bytes(line[:4096]))
        name = f" of stream '{found.group(1).decode('utf-8', 'replace')}'" if found else ""
        self.stop(f"the tap wrote a line longer than {limit} bytes")
        raise TapError(
            f"the tap wrote a line{name} longer than {limit} bytes without a newline; the read "
            "was stopped (raise max_line_bytes in the bridge config if such records are real)"
        )

    def read_stdout(self, limit: int = 256 * 1024 * 1024) -> bytes:
        """All of stdout (for discover and about), bounded by ``limit`` bytes."""
        assert self._proc is not None and self._proc.stdout is not None
        chunks, size = [], 0
        for chunk in self.stdout_chunks():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                self.stop(f"the tap wrote more than {limit} bytes")
                break
        return b"".join(chunks)

    def stdout_chunks(self) -> Iterator[bytes]:
        """Stdout as it comes, read into a reused buffer (each chunk a copy of what was read)."""
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        buf = bytearray(_READ_BUFFER)
        view = memoryview(buf)
        try:
            while n := os.readv(fd, [buf]):
                self._progress += 1
                yield bytes(view[:n])
        finally:
            view.release()

    def wait(self, timeout: float | None = None) -> int:
        """Exit code (negative for a signal) once the tap and its stderr are done."""
        assert self._proc is not None
        try:
            code = self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop("the tap did not exit after closing its output")
            code = self._wait_quietly()
        for thread in self._threads:
            if thread.name == "tap-_drain_stderr":
                thread.join(timeout=_GRACE_SECONDS)
        return code

    def stop(self, reason: str) -> None:
        """SIGTERM the tap's process group, then SIGKILL it after a grace period."""
        if self.stopped_by is None:
            self.stopped_by = reason
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._kill_group(signal.SIGKILL)  # children may outlive the leader
            return
        self._kill_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_GRACE_SECONDS)
        self._kill_group(signal.SIGKILL)

    def _kill_group(self, sig: signal.Signals) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _wait_quietly(self) -> int:
        assert self._proc is not None
        try:
            return self._proc.wait(timeout=_GRACE_SECONDS * 2)
        except subprocess.TimeoutExpired:
            self._kill_group(signal.SIGKILL)
            return self._proc.wait()

    def _drain_stderr(self) -> None:
        # Never let stderr fill up: a tap blocked on a full stderr pipe would hang the sync.
        assert self._proc is not None and self._proc.stderr is not None
        stream: IO[bytes] = self._proc.stderr
        with contextlib.suppress(ValueError, OSError):  # closed under us: nothing more to read
            self._drain(stream)

    def _drain(self, stream: IO[bytes]) -> None:
        while line := stream.readline(_STDERR_LINE_READ):
            if not line.endswith(b"\n"):
                while (more := stream.readline(_STDERR_LINE_READ)) and not more.endswith(b"\n"):
                    pass  # the rest of an over-long line
            text = self._mask(line.decode("utf-8", errors="replace").rstrip("\r\n"))
            text = text[:_MAX_STDERR_LINE]  # masked, then cut
            if not text.strip():
                continue
            self.stderr_tail.append(text)
            if self._on_stderr is not None:
                try:
                    self._on_stderr(text)
                except Exception:  # keep draining even if logging fails
                    self._on_stderr = None  # (stdout closed, say): the tap must never block

    def _watch_time(self) -> None:
        started = last_seen = time.monotonic()
        last = self._progress
        tick = min(t for t in (self._idle_timeout, self._timeout, 4.0) if t) / 4
        while not self._done.wait(tick):
            now = time.monotonic()
            if self._progress != last:
                last, last_seen = self._progress, now
            if self._timeout and now - started >= self._timeout:
                reason = f"the tap did not finish within {self._timeout:g} seconds"
            elif self._idle_timeout and now - last_seen >= self._idle_timeout:
                reason = f"the tap wrote nothing for {self._idle_timeout:g} seconds"
            else:
                continue
            self.timed_out = True
            self.stop(reason)
            return


_PR_SET_PDEATHSIG = 1


def die_with_parent() -> Callable[[], None] | None:
    """On Linux, a function for the child (between fork and exec) that has the kernel SIGKILL
    the tap when the bridge dies, even by SIGKILL, when no ``finally`` of ours runs; else None.

    It only calls ``prctl`` (looked up before the fork) and ``getppid``: nothing that takes a
    lock another thread of the bridge could hold at the fork. The signal comes when the
    *thread* that started the tap ends; taps are started by the thread that reads them.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    kill, parent = int(signal.SIGKILL), os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, kill, 0, 0, 0)
        if os.getppid() != parent:  # the bridge died before prctl: nobody will read us
            os._exit(1)

    return in_child


def trickle_wait(read: int, wait: float, small_before: bool, pipe: int) -> tuple[float, bool]:
    """How long to let the pipe fill after a read of ``read`` bytes, given the wait after the
    read before and whether that read was small: (the wait, whether this read was small).

    >>> trickle_wait(1 << 20, 0.004, False, 1 << 20)  # half the pipe or more: read straight on
    (0.0, False)
    >>> trickle_wait(200, 0.0, False, 1 << 20)  # one small read: a fast tap caught mid-write
    (0.0, True)
    >>> trickle_wait(200, 0.0, True, 1 << 20)  # small again: the tap trickles
    (0.004, True)
    >>> trickle_wait(200, 0.004, True, 1 << 20), trickle_wait(200, 0.016, True, 1 << 20)
    ((0.008, True), (0.016, True))
    >>> trickle_wait(100_000, 0.008, True, 1 << 20)  # a fair-sized read: the wait is right
    (0.008, False)
    """
    if read >= pipe // 2:
        return 0.0, False
    if read >= min(_TRICKLE_BYTES, pipe // 8):
        return wait, False
    if not wait and not small_before:
        return 0.0, True
    return min(max(wait * 2, _TRICKLE_WAIT), _MAX_WAIT), True


def pipe_size(fd: int) -> int:
    """The pipe's capacity in bytes (Linux); 64 KiB, the usual default, where it is unknown."""
    get_size = getattr(fcntl, "F_GETPIPE_SZ", None)
    if get_size is not None:
        with contextlib.suppress(OSError):
            return int(fcntl.fcntl(fd, get_size))
    return 64 * 1024


def tap_environment(
    extra: Mapping[str, str], inherit: bool, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The tap's environment: stated explicitly, never the bridge's own settings."""
    base = os.environ if base is None else base
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "SSL_CERT_FILE")
    if inherit:
        env = {k: v for k, v in base.items() if not k.startswith("SINGER_BRIDGE_")}
    else:
        env = {k: base[k] for k in keep if k in base}
    env.update(extra)
    return env
