"""Reading a native stream into events: records, cursors, checkpoints, partitions, sub-streams.

State per stream (Singer bookmark), the same shape singer-sdk taps write::

    {"replication_key": "updated_at", "replication_key_value": "2024-01-02"}      # one partition
    {"partitions": [{"context": {...}, "replication_key_value": ...}, ...]}        # partitioned
    {"checkpoint": {...}}                                          # resumable full refresh
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

import msgspec

from singer_bridge.errors import BridgeError, TapError
from singer_bridge.native.stream import Checkpoint, ReadContext, Stream
from singer_bridge.protocol.events import Event, RecordEvent, SchemaEvent, StateEvent

_encode = msgspec.json.Encoder().encode


def tap_stream_id(stream: Stream) -> str:
    return str(stream.catalog_entry()["tap_stream_id"])


class StateKeeper:
    """The whole Singer state of a run; emits a copy at every checkpoint."""

    def __init__(self, initial: Mapping[str, Any] | None) -> None:
        self.value: dict[str, Any] = json.loads(json.dumps(initial or {}))
        self.value.setdefault("bookmarks", {})
        self._had_state: set[str] = set()

    def bookmark(self, stream_id: str) -> dict[str, Any]:
        bookmarks: dict[str, dict[str, Any]] = self.value["bookmarks"]
        return bookmarks.setdefault(stream_id, {})

    def event(self) -> StateEvent:
        value = json.loads(json.dumps(self.value))
        bookmarks: dict[str, Any] = value["bookmarks"]
        self._had_state.update(k for k, v in bookmarks.items() if v)
        # a stream that never had state has no bookmark (not an empty one); one that had
        # state and finished keeps its emptied bookmark: the next read starts over
        value["bookmarks"] = {k: v for k, v in bookmarks.items() if v or k in self._had_state}
        return StateEvent(value)


def _partition_state(
    bookmark: dict[str, Any], partition: Mapping[str, Any] | None
) -> dict[str, Any]:
    if partition is None:
        return bookmark
    parts: list[dict[str, Any]] = bookmark.setdefault("partitions", [])
    context = json.loads(json.dumps(partition, default=str))
    for part in parts:
        if part.get("context") == context:
            return part
    parts.append({"context": context})
    return parts[-1]


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
        if stream.max_workers > 1 and (stream.partitions or stream.parent):
            yield from _read_concurrently(
                stream, stream_id, config, keeper, bookmark, incremental, stopped
            )
            return
        for partition in _partitions(stream, config):
            state = _partition_state(bookmark, partition)
            ctx = _context(stream, config, state, partition, incremental)
            yield from _read_partition(
                stream, stream_id, keeper, state, ctx, stream.read(ctx), incremental, stopped
            )
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


def _read_concurrently(
    stream: Stream,
    stream_id: str,
    config: Mapping[str, Any],
    keeper: StateKeeper,
    bookmark: dict[str, Any],
    incremental: bool,
    stopped: Callable[[], bool],
) -> Iterator[Event]:
    """Partitions read by a bounded pool; each partition's records and state go out together,
    in the order partitions finish, so a STATE never covers a record not yet emitted."""
    jobs = []
    for partition in _partitions(stream, config):
        state = _partition_state(bookmark, partition)
        jobs.append((state, _context(stream, config, state, partition, incremental)))

    def collect(ctx: ReadContext) -> list[Mapping[str, Any] | Checkpoint]:
        return list(stream.read(ctx))

    with ThreadPoolExecutor(max_workers=stream.max_workers) as pool:
        futures = {pool.submit(collect, ctx): (state, ctx) for state, ctx in jobs}
        for future in as_completed(futures):
            state, ctx = futures[future]
            yield from _read_partition(
                stream, stream_id, keeper, state, ctx, future.result(), incremental, stopped
            )


def _read_partition(
    stream: Stream,
    stream_id: str,
    keeper: StateKeeper,
    state: dict[str, Any],
    ctx: ReadContext,
    items: Iterable[Mapping[str, Any] | Checkpoint],
    incremental: bool,
    stopped: Callable[[], bool],
) -> Iterator[Event]:
    cursor = stream.cursor_field if incremental else None
    start = ctx.start_cursor
    newest = start
    count = 0
    for item in items:
        if stopped():
            raise TapError(
                f"stream '{stream.name}' was stopped", stream=(stream.name, stream.namespace)
            )
        if isinstance(item, Checkpoint):
            state["checkpoint"] = dict(item.state)
            yield keeper.event()
            continue
        if cursor:
            value = item.get(cursor)
            if value is not None and start is not None and value < start:
                continue  # older than the bookmark: the API gave more than asked
            if value is not None and (newest is None or value > newest):
                newest = value
        yield RecordEvent(stream_id, _encode(item))
        count += 1
        if (
            cursor
            and count % stream.checkpoint_every == 0
            and stream.is_sorted
            and newest is not None
        ):
            state.update(replication_key=cursor, replication_key_value=newest)
            yield keeper.event()
    state.pop("checkpoint", None)  # the partition is done: a new read starts it over
    if cursor and newest is not None:
        state.update(replication_key=cursor, replication_key_value=newest)
    yield keeper.event()
