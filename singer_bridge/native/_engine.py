"""Reading a native stream into events: records, cursors, checkpoints, partitions, sub-streams.

State per stream (Singer bookmark), the same shape singer-sdk taps write::

    {"replication_key": "updated_at", "replication_key_value": "2024-01-02"}      # one partition
    {"partitions": [{"context": {...}, "replication_key_value": ...}, ...]}        # partitioned
    {"checkpoint": {...}}                                          # resumable full refresh

A partition's ``context`` is its identity, not its data: a sub-stream's is the parent's primary
key (``{"parent": {"id": 10}}``), and a finished partition with nothing to resume from (no
cursor) leaves the state. Partitioned streams checkpoint every ``checkpoint_every`` records or
every ``PARTITIONS_PER_STATE`` finished partitions, not after each one, so a stream of
thousands of partitions does not write thousands of ever-growing STATE messages.

Concurrent partitions (``max_workers > 1``) hand their records to the reading thread through a
bounded queue; partitions are taken one at a time as workers free up, and an error or a stop
cancels the rest.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import msgspec

from singer_bridge._protocol.events import Event, RecordEvent, SchemaEvent
from singer_bridge.errors import BridgeError, TapError
from singer_bridge.native._state import (
    StateKeeper,
    _canonical,
    _PartitionStates,
    partition_context,
)
from singer_bridge.native._stream import Checkpoint, ReadContext, Stream

_encode = msgspec.json.Encoder().encode
PARTITIONS_PER_STATE = 100
QUEUE_PER_WORKER = 256  # records buffered per worker thread: memory stays flat


def tap_stream_id(stream: Stream) -> str:
    return str(stream.catalog_entry()["tap_stream_id"])


def _partitions(stream: Stream, config: Mapping[str, Any]) -> Iterator[Mapping[str, Any] | None]:
    base = ReadContext(config=config, state={})
    if stream.parent is not None:
        for record in all_records(stream.parent, config):
            yield {"parent": record}
    elif stream.partitions is not None:
        yield from stream.partitions(base)
    else:
        yield None


def all_records(stream: Stream, config: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every record of a stream, partitions included, without state (for sub-streams)."""
    for partition in _partitions(stream, config):
        for item in stream.read(ReadContext(config=config, state={}, partition=partition)):
            if not isinstance(item, Checkpoint):
                yield dict(item)


def read_stream(
    stream: Stream,
    config: Mapping[str, Any],
    keeper: StateKeeper,
    incremental: bool,
    stopped: Callable[[], bool] = lambda: False,
) -> Iterator[Event]:
    """SCHEMA, then RECORDs and STATEs for one stream; raises ``TapError`` naming the stream."""
    stream_id = tap_stream_id(stream)
    entry = stream.catalog_entry()
    yield SchemaEvent(stream_id, entry["schema"], tuple(entry["key_properties"]))
    bookmark = keeper.bookmark(stream_id)
    if not incremental:
        bookmark.pop("replication_key_value", None)
        for part in bookmark.get("partitions", []):
            part.pop("replication_key_value", None)
    try:
        if not (stream.partitions or stream.parent):
            ctx = _context(stream, config, bookmark, None, incremental)
            run = _PartitionRun(stream, stream_id, keeper, bookmark, ctx, incremental)
            for item in stream.read(ctx):
                _check_stop(stream, stopped)
                yield from run.take(item)
            run.finish()
            yield keeper.event()
            return
        states = _PartitionStates(bookmark)
        if stream.max_workers > 1:
            yield from _read_concurrently(
                stream, stream_id, config, keeper, states, incremental, stopped
            )
        else:
            yield from _read_in_turn(
                stream, stream_id, config, keeper, states, incremental, stopped
            )
        if not states.parts:
            bookmark.pop("partitions", None)
        yield keeper.event()
    except BridgeError:
        raise
    except Exception as exc:  # a connector's own bug or an API surprise: name the stream
        raise TapError(
            f"stream '{stream.name}' failed: {type(exc).__name__}: {exc}",
            stream=(stream.name, stream.namespace),
        ) from exc


def _context(
    stream: Stream,
    config: Mapping[str, Any],
    state: Mapping[str, Any],
    partition: Mapping[str, Any] | None,
    incremental: bool,
) -> ReadContext:
    start = state.get("replication_key_value") if incremental and stream.cursor_field else None
    return ReadContext(config, dict(state), partition, start)


def _check_stop(stream: Stream, stopped: Callable[[], bool]) -> None:
    if stopped():
        raise TapError(
            f"stream '{stream.name}' was stopped", stream=(stream.name, stream.namespace)
        )


class _Checkpoints:
    """When a partitioned stream writes STATE: every ``checkpoint_every`` records or every
    ``PARTITIONS_PER_STATE`` finished partitions (and once at the end of the stream)."""

    def __init__(self, stream: Stream) -> None:
        self.every = stream.checkpoint_every
        self.records = self.partitions = 0

    def due(self, records: int) -> bool:
        self.records += records
        self.partitions += 1
        if self.records >= self.every or self.partitions >= PARTITIONS_PER_STATE:
            self.records = self.partitions = 0
            return True
        return False


def _read_in_turn(
    stream: Stream,
    stream_id: str,
    config: Mapping[str, Any],
    keeper: StateKeeper,
    states: _PartitionStates,
    incremental: bool,
    stopped: Callable[[], bool],
) -> Iterator[Event]:
    checkpoints = _Checkpoints(stream)
    for partition in _partitions(stream, config):
        state = states.get(partition_context(stream, partition))
        ctx = _context(stream, config, state, partition, incremental)
        run = _PartitionRun(stream, stream_id, keeper, state, ctx, incremental)
        for item in stream.read(ctx):
            _check_stop(stream, stopped)
            yield from run.take(item)
        run.finish()
        states.finished(state)
        if checkpoints.due(run.count):
            yield keeper.event()


def _read_concurrently(
    stream: Stream,
    stream_id: str,
    config: Mapping[str, Any],
    keeper: StateKeeper,
    states: _PartitionStates,
    incremental: bool,
    stopped: Callable[[], bool],
) -> Iterator[Event]:
    """Partitions read by ``max_workers`` threads, each taking the next partition when free;
    records come back through a bounded queue and all state is kept by this thread, so a
    STATE never covers a record not yet emitted."""
    pool = _Workers(stream, config, states.prior, incremental)
    runs: dict[int, tuple[_PartitionRun, dict[str, Any]]] = {}
    checkpoints = _Checkpoints(stream)
    try:
        for kind, index, payload in pool.messages():
            if kind == "item":
                _check_stop(stream, stopped)
                yield from runs[index][0].take(payload)
            elif kind == "start":
                context, ctx = payload
                state = states.get(context)
                runs[index] = (
                    _PartitionRun(stream, stream_id, keeper, state, ctx, incremental),
                    state,
                )
            elif kind == "done":
                run, state = runs.pop(index)
                run.finish()
                states.finished(state)
                if checkpoints.due(run.count):
                    yield keeper.event()
            else:  # "error"
                raise payload
    finally:
        pool.cancel()


class _Workers:
    """Threads reading partitions into one bounded queue of (kind, partition index, payload)."""

    def __init__(
        self,
        stream: Stream,
        config: Mapping[str, Any],
        prior: Mapping[str, Mapping[str, Any]],
        incremental: bool,
    ) -> None:
        self.stream, self.config, self.prior, self.incremental = stream, config, prior, incremental
        self.queue: queue.Queue[tuple[str, int, Any]] = queue.Queue(
            stream.max_workers * QUEUE_PER_WORKER
        )
        self.cancelled = threading.Event()
        self._partitions = iter(_partitions(stream, config))
        self._taken = 0
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"{stream.name}-{n}", daemon=True)
            for n in range(stream.max_workers)
        ]
        for thread in self._threads:
            thread.start()

    def _next(self) -> tuple[int, Mapping[str, Any] | None] | None:
        with self._lock:  # partitions (a parent's records) are read one worker at a time
            if self.cancelled.is_set():
                return None
            partition = next(self._partitions, _END)
            if partition is _END:
                return None
            self._taken += 1
            return self._taken, partition

    def _put(self, message: tuple[str, int, Any]) -> bool:
        while not self.cancelled.is_set():
            try:
                self.queue.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        index = 0
        try:
            while (job := self._next()) is not None:
                index, partition = job
                context = partition_context(self.stream, partition)
                prior = self.prior.get(_canonical(context), {})
                ctx = _context(self.stream, self.config, prior, partition, self.incremental)
                if not self._put(("start", index, (context, ctx))):
                    return
                for item in self.stream.read(ctx):
                    if not self._put(("item", index, item)):
                        return
                if not self._put(("done", index, None)):
                    return
        except BaseException as exc:  # handed to the reading thread, which raises it
            self._put(("error", index, exc))
        finally:
            self._put(("exit", index, None))

    def messages(self) -> Iterator[tuple[str, int, Any]]:
        running = len(self._threads)
        while running:
            message = self.queue.get()
            if message[0] == "exit":
                running -= 1
            else:
                yield message

    def cancel(self) -> None:
        """Stop taking partitions; unblock workers waiting on a full queue."""
        self.cancelled.set()
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return


_END: Any = object()


class _PartitionRun:
    """One partition's items turned into events; its state changes only as records go out."""

    def __init__(
        self,
        stream: Stream,
        stream_id: str,
        keeper: StateKeeper,
        state: dict[str, Any],
        ctx: ReadContext,
        incremental: bool,
    ) -> None:
        self.stream, self.stream_id, self.keeper, self.state = stream, stream_id, keeper, state
        self.cursor = stream.cursor_field if incremental else None
        self.start = self.newest = ctx.start_cursor
        self.count = 0

    def take(self, item: Mapping[str, Any] | Checkpoint) -> Iterator[Event]:
        if isinstance(item, Checkpoint):
            self.state["checkpoint"] = dict(item.state)
            yield self.keeper.event()
            return
        cursor = self.cursor
        if cursor:
            value = item.get(cursor)
            if value is not None and self.start is not None and value < self.start:
                return  # older than the bookmark: the API gave more than asked
            if value is not None and (self.newest is None or value > self.newest):
                self.newest = value
        yield RecordEvent(self.stream_id, _encode(item))
        self.count += 1
        if (
            cursor
            and self.count % self.stream.checkpoint_every == 0
            and self.stream.is_sorted
            and self.newest is not None
        ):
            self.state.update(replication_key=cursor, replication_key_value=self.newest)
            yield self.keeper.event()

    def finish(self) -> None:
        self.state.pop("checkpoint", None)  # the partition is done: a new read starts it over
        if self.cursor and self.newest is not None:
            self.state.update(replication_key=self.cursor, replication_key_value=self.newest)
