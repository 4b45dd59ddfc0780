"""The state a native source keeps while it reads: the whole Singer state, and each partition's
part of a stream's bookmark, keyed by the partition's identity (see ``engine``)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from singer_bridge._protocol.events import StateEvent
from singer_bridge.native._stream import Stream, key_property


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


def _canonical(context: Any) -> str:
    return json.dumps(context, sort_keys=True, default=str)


def _value_at(record: Mapping[str, Any], path: Iterable[str]) -> Any:
    node: Any = record
    for step in path:
        node = node.get(step) if isinstance(node, Mapping) else None
    return node


def partition_context(stream: Stream, partition: Mapping[str, Any] | None) -> Any:
    """What identifies a partition in the state: a sub-stream's parent by its primary key (or a
    digest of the record when the parent has none), any other partition as itself."""
    if partition is None:
        return None
    if stream.parent is not None and "parent" in partition:
        parent = partition["parent"]
        if stream.parent.primary_key:
            return {
                "parent": {key_property(p): _value_at(parent, p) for p in stream.parent.primary_key}
            }
        digest = hashlib.sha256(_canonical(parent).encode()).hexdigest()[:32]
        return {"parent_digest": digest}
    return json.loads(json.dumps(partition, default=str))


class _PartitionStates:
    """The ``partitions`` list of a bookmark, indexed by context; touched by one thread only."""

    def __init__(self, bookmark: dict[str, Any]) -> None:
        self.parts: list[dict[str, Any]] = bookmark.setdefault("partitions", [])
        self.index = {_canonical(p.get("context")): p for p in self.parts}
        # what a worker thread may read to start a partition: a copy, never written again
        self.prior = {k: dict(v) for k, v in self.index.items()}

    def get(self, context: Any) -> dict[str, Any]:
        key = _canonical(context)
        part = self.index.get(key)
        if part is None:
            part = self.index[key] = {"context": context}
            self.parts.append(part)
        return part

    def finished(self, part: dict[str, Any]) -> None:
        if set(part) <= {"context"}:  # nothing to resume from: keep the state small
            self.index.pop(_canonical(part.get("context")), None)
            self.parts.remove(part)
