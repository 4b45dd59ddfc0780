"""Parallel tap processes: the configured streams shared among N processes of the same tap.

Each process gets a catalog selecting only its share of the streams and the state of only
those streams (plus the shared keys). Every process's stdout is read by a thread of its own
into one bounded queue of line blocks; one thread (the caller's) takes the blocks in the order
they arrived and feeds them, like a single tap's, through the one translator, so every STATE
still follows the records it covers and each stream's ``recordCount`` stays exact. A process's
STATE speaks only for its own streams: it is merged into the whole state (its streams'
bookmarks replaced, shared keys never going backwards) before the translator sees it.

A parent stream and its children (``parent-tap-stream-id`` in the tap's catalog metadata) go
to one process together: a tap syncs the children while it reads the parent, and many refuse
to sync a child without its parent. When every stream is one family, the tap runs whole.

Each process is told which it is in ``SINGER_BRIDGE_TAP_PROCESS=i/N``: a native source's
``RateLimiter`` then spends only its share of the API's budget (``singer_bridge.http``).

A process that fails stops the others; whatever they wrote up to then is still delivered,
and the error names the process and its streams.

>>> from singer_bridge._translate.catalog import parse_singer_catalog, configure
>>> streams = parse_singer_catalog({"streams": [{"tap_stream_id": n, "schema": {}}
...     for n in "abcde"]})
>>> chosen = configure(streams, {"streams": [{"stream": {"name": n},
...     "sync_mode": "full_refresh"} for n in "abcde"]}, "catalog")
>>> [[c.singer.name for c in share] for share in assign(chosen, 2)]
[['a', 'c', 'e'], ['b', 'd']]
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from singer_bridge._protocol import airbyte as messages
from singer_bridge._protocol.events import StateEvent
from singer_bridge._read.pipeline import ReadPlan
from singer_bridge._tap.bridge_config import BridgeConfig
from singer_bridge._tap.discovery import tap_failure
from singer_bridge._tap.process import TapProcess
from singer_bridge._tap.pump import pump
from singer_bridge._tap.runner import TapRunner
from singer_bridge._translate.catalog import ConfiguredStream, SingerStream, stream_metadata
from singer_bridge._translate.logs import StderrParser
from singer_bridge._translate.masking import Masker
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer
from singer_bridge.errors import BridgeError, ConfigError, TapError, TransientError

# Names each process "i/N" for it (read by singer_bridge.http._ratelimit, which is not imported
# here: it would bring httpx into every tap read).
PROCESS_VARIABLE = "SINGER_BRIDGE_TAP_PROCESS"
_QUEUE_BLOCKS_PER_PROCESS = 4  # memory stays flat: a slow translator holds the taps back


def row_count(stream: SingerStream) -> int | None:
    """The ``row-count`` a tap reports in its catalog metadata for a stream, if any."""
    root = stream_metadata(stream.entry).get((), {})
    value = root.get("row-count")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def families(
    configured: Sequence[ConfiguredStream], streams: Sequence[SingerStream] = ()
) -> list[list[int]]:
    """The configured streams (by index) that must share one process, in catalog order.

    A tap syncs a child stream while it reads its parent, and many refuse a child whose
    parent they were not asked for: a parent and its children, transitively, stay together.
    The parent is the tap's ``parent-tap-stream-id`` or the bridge config's ``parent``.
    ``streams`` (the whole catalog) links a grandchild to its grandparent through a parent
    nobody selected.

    >>> from singer_bridge._translate.catalog import parse_singer_catalog, configure
    >>> md = lambda p: [{"breadcrumb": [], "metadata": {"parent-tap-stream-id": p}}] if p else []
    >>> streams = parse_singer_catalog({"streams": [{"tap_stream_id": n, "schema": {},
    ...     "metadata": md(p)} for n, p in [("a", None), ("b", None), ("c", "a")]]})
    >>> chosen = configure(streams, {"streams": [{"stream": {"name": n},
    ...     "sync_mode": "full_refresh"} for n in "abc"]}, "catalog")
    >>> families(chosen)
    [[0, 2], [1]]
    """
    known = [*streams, *(c.singer for c in configured)]
    ids = {n: s.tap_stream_id for s in known for n in (s.name, s.stream, s.tap_stream_id)}
    parents = {s.tap_stream_id: s.parent and ids.get(s.parent, s.parent) for s in known}
    family: dict[str, str] = {}  # union-find: a stream -> a relative nearer the family's root

    def root(stream_id: str) -> str:
        while (up := family.get(stream_id, stream_id)) != stream_id:
            stream_id = up
        return stream_id

    for child, parent in parents.items():
        if parent is not None and root(child) != root(parent):
            family[root(child)] = root(parent)
    found: dict[str, list[int]] = {}  # in order of each family's first configured stream
    for i, c in enumerate(configured):
        found.setdefault(root(c.singer.tap_stream_id), []).append(i)
    return list(found.values())


def assign(
    configured: Sequence[ConfiguredStream],
    processes: int,
    streams: Sequence[SingerStream] = (),
) -> list[list[ConfiguredStream]]:
    """The streams of each process: a stable rule, the same for the same catalog.

    A parent and its children go to one process together (``families``). Largest first to
    the least loaded process when the tap reports every stream's row count; else round-robin
    in catalog order. Within a share, streams keep the catalog's order.
    """
    groups = families(configured, streams)
    count = max(1, min(processes, len(groups)))
    rows = [row_count(c.singer) for c in configured]
    shares: list[list[int]] = [[] for _ in range(count)]
    if configured and all(r is not None for r in rows):
        loads = [0] * count
        sizes = [sum(rows[i] or 0 for i in group) for group in groups]
        for g in sorted(range(len(groups)), key=lambda g: (-sizes[g], groups[g][0])):
            target = min(range(count), key=lambda k: (loads[k], k))
            shares[target] += groups[g]
            loads[target] += sizes[g]
    else:
        for g, group in enumerate(groups):
            shares[g % count] += group
    return [[configured[i] for i in sorted(share)] for share in shares if share]


def split_notes(
    configured: Sequence[ConfiguredStream],
    processes: int,
    streams: Sequence[SingerStream] = (),
) -> list[str]:
    """What the user should know about how the streams were split: families kept together,
    and why a tap runs whole (or with fewer processes than asked for)."""
    groups = [g for g in families(configured, streams) if len(g) > 1]
    notes = [
        "streams "
        + ", ".join(configured[i].singer.name for i in group)
        + " are a parent and its children: they run in one tap process"
        for group in groups
    ]
    count = len(assign(configured, processes, streams))
    if groups and count < min(processes, len(configured)):
        whole = "the tap runs whole, as one process" if count == 1 else f"{count} processes"
        notes.append(
            f"{processes} tap processes were asked for, but the streams split into only "
            f"{count} part(s) that can run apart: {whole}"
        )
    return notes


def refuse_unsafe(config: BridgeConfig, plan: ReadPlan) -> None:
    """Raise ``ConfigError`` where several processes of the tap would not be safe."""
    if not config.parallel_safe:
        raise ConfigError(
            "parallel tap processes were asked for, but the bridge config says "
            "parallel_safe: false for this tap; run it with one process"
        )
    log_based = [c.singer.name for c in plan.configured if c.incremental and c.singer.log_based]
    if log_based:
        raise ConfigError(
            "parallel tap processes are refused for LOG_BASED replication (streams: "
            f"{', '.join(log_based)}): one replication log cannot be read by several "
            "processes; run with one process"
        )


def _keys(share: Sequence[ConfiguredStream]) -> set[str]:
    return {key for c in share for key in (c.singer.tap_stream_id, c.singer.stream)}


def share_state(singer_state: dict[str, Any], share: Sequence[ConfiguredStream]) -> dict[str, Any]:
    """The state for one process: the shared keys and the bookmarks of its streams only."""
    mine = _keys(share)
    state = {k: v for k, v in singer_state.items() if k != "bookmarks"}
    bookmarks = singer_state.get("bookmarks")
    if isinstance(bookmarks, dict):
        state["bookmarks"] = {k: v for k, v in bookmarks.items() if k in mine}
    return state


def _not_older(old: Any, new: Any) -> Any:
    """``new``, unless it is comparable with ``old`` and smaller (a shared key never goes back)."""
    comparable = (isinstance(old, str) and isinstance(new, str)) or (
        isinstance(old, int | float)
        and isinstance(new, int | float)
        and not isinstance(old, bool)
        and not isinstance(new, bool)
    )
    return old if comparable and new < old else new


class StateMerger:
    """The whole Singer state, from STATEs each of which speaks for one process's streams."""

    def __init__(self, singer_state: dict[str, Any], shares: Sequence[Sequence[ConfiguredStream]]):
        bookmarks = singer_state.get("bookmarks")
        self.bookmarks: dict[str, Any] = dict(bookmarks) if isinstance(bookmarks, dict) else {}
        self.shared = {k: v for k, v in singer_state.items() if k != "bookmarks"}
        # the shared keys each process's last STATE held (at first, those it was given)
        self._held = [set(self.shared) for _ in shares]
        self._mine = [_keys(share) for share in shares]
        self._anyone = set().union(*self._mine) if self._mine else set()

    def merge(self, process: int, value: Any) -> Any:
        if not isinstance(value, dict):
            return value  # the translator warns about it
        mine = self._mine[process]
        bookmarks = value.get("bookmarks")
        if isinstance(bookmarks, dict):
            for key in [k for k in self.bookmarks if k in mine and k not in bookmarks]:
                del self.bookmarks[key]  # this process's whole state: removals count
            for key, bookmark in bookmarks.items():
                if key in mine or key not in self._anyone:  # never another process's streams
                    self.bookmarks[key] = bookmark
        for key, item in value.items():
            if key != "bookmarks":
                self.shared[key] = _not_older(self.shared.get(key), item)
        # A shared key every process has dropped (``currently_syncing`` at the end) is gone, as
        # from one tap's state; one some process still holds stays.
        self._held[process] = {k for k in value if k != "bookmarks"}
        for key in [k for k in self.shared if not any(k in held for held in self._held)]:
            del self.shared[key]
        return {**self.shared, "bookmarks": dict(self.bookmarks)}

    def event(self, process: int, value: Any) -> StateEvent:
        """The whole state after this process's STATE, speaking for this process's streams
        only: another process's records are covered by its own next STATE, never by an older
        bookmark of its stream carried along here."""
        return StateEvent(self.merge(process, value), frozenset(self._mine[process]))


class ParallelRead:
    """Runs the processes of one parallel read and merges their output into the translator."""

    def __init__(
        self,
        runner: TapRunner,
        config: BridgeConfig,
        masker: Masker,
        shares: list[list[ConfiguredStream]],
        args: list[list[str]],
        singer_state: dict[str, Any],
    ) -> None:
        self._runner = runner
        self._config = config
        self._masker = masker
        self.shares = shares
        self._args = args
        self._merger = StateMerger(singer_state, shares)
        self._taps: list[TapProcess] = []
        self._lock = threading.Lock()
        self._stopping: str | None = None

    def label(self, index: int) -> str:
        names = ", ".join(c.singer.name for c in self.shares[index])
        return f"tap process {index + 1} of {len(self.shares)} (streams: {names})"

    def stop_all(self, reason: str) -> None:
        """Stop every process (from any thread, a signal handler included)."""
        with self._lock:
            self._stopping = self._stopping or reason
            taps = list(self._taps)
        for tap in taps:
            threading.Thread(target=tap.stop, args=(reason,), daemon=True).start()

    def run(self, translator: Translator, writer: Writer) -> BridgeError | None:
        count = len(self.shares)
        blocks: queue.Queue[tuple[int, bytes | bytearray | None, int]] = queue.Queue(
            maxsize=_QUEUE_BLOCKS_PER_PROCESS * count
        )
        error: BridgeError | None = None
        with contextlib.ExitStack() as stack:
            for index in range(count):
                tap = self._runner.start(
                    self._args[index],
                    on_stderr=self._stderr_handler(index, writer),
                    mask=self._masker,
                    idle_timeout=self._config.idle_timeout_seconds,
                    env={PROCESS_VARIABLE: f"{index + 1}/{count}"},
                )
                stack.enter_context(tap)
                with self._lock:
                    self._taps.append(tap)
                if self._stopping:
                    tap.stop(self._stopping)
                threading.Thread(
                    target=_read,
                    args=(index, tap, blocks, self._config.max_line_bytes),
                    name=f"tap-{index + 1}",
                    daemon=True,
                ).start()
            current = [0]
            codes: dict[int, int] = {}
            failures: list[BridgeError] = []

            def merged() -> Iterator[bytes | bytearray]:
                while len(codes) < count:
                    index, block, code = blocks.get()
                    if block is not None:
                        current[0] = index
                        yield block
                        continue
                    codes[index] = code
                    failure = self._outcome(index, code)
                    if failure is not None and not failures:
                        failures.append(failure)
                        self.stop_all(f"the bridge stopped the tap: {failure.message}")

            try:
                pump(merged(), translator, writer, lambda v: self._merger.event(current[0], v))
            except BridgeError as exc:
                error = exc
                self.stop_all(f"the bridge stopped the tap: {exc.message}")
                _drain(blocks, count - len(codes))
            if error is None and failures:
                error = failures[0]
        return error

    def _stderr_handler(self, index: int, writer: Writer) -> Callable[[str], None]:
        parser = StderrParser()
        label = f"[tap process {index + 1}/{len(self.shares)}]"

        def on_stderr(text: str) -> None:
            level, message = parser.parse(text)
            writer.write(messages.log_message(level, f"{label} {message}"))

        return on_stderr

    def _outcome(self, index: int, code: int) -> BridgeError | None:
        tap = self._taps[index]
        if self._stopping and code != 0:
            return None  # stopped by us: the failure that made us stop (or the interrupt) counts
        if tap.read_error is not None:
            return TapError(f"{self.label(index)}: {tap.read_error.message}")
        if tap.timed_out:
            return TransientError(f"{self.label(index)} was stopped: {tap.stopped_by}")
        if code != 0:
            failure = tap_failure(code, list(tap.stderr_tail), "the read")
            failure.message = f"{self.label(index)}: {failure.message}"
            return failure
        return None


def _read(
    index: int,
    tap: TapProcess,
    blocks: queue.Queue[tuple[int, bytes | bytearray | None, int]],
    max_line_bytes: int,
) -> None:
    code = -1
    try:
        for block in tap.stdout_blocks(max_line_bytes):
            blocks.put((index, block, 0))
    except (OSError, ValueError):
        pass  # stdout closed under us: the process is being stopped
    except BridgeError as exc:  # a line too long: the tap was stopped, _outcome reports why
        tap.read_error = exc
    finally:
        with contextlib.suppress(Exception):
            code = tap.wait()
        blocks.put((index, None, code))


def _drain(blocks: queue.Queue[tuple[int, bytes | bytearray | None, int]], ends: int) -> None:
    """Take what the readers still put, so none blocks on a full queue, until all ended."""
    while ends > 0:
        try:
            _, block, _ = blocks.get(timeout=30)
        except queue.Empty:
            return
        if block is None:
            ends -= 1
