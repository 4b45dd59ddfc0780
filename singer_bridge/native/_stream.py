"""Native streams: a name, a schema and a read function; no base class to inherit.

>>> def read_users(ctx: ReadContext):
...     yield {"id": 1, "updated_at": "2024-01-01"}
>>> users = Stream("users", {"properties": {"id": {"type": "integer"}}}, read_users,
...                primary_key=[["id"]], cursor_field="updated_at")
>>> users.catalog_entry()["metadata"][0]["metadata"]["forced-replication-method"]
'INCREMENTAL'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def key_property(path: Sequence[str]) -> str:
    """A primary-key path as a Singer key property: a top-level field keeps its name, a nested
    one becomes an RFC 6901 JSON Pointer (``["order", "id"]`` -> ``"/order/id"``), so two nested
    keys never merge and never read as a top-level field (``Stream`` refuses a schema with a
    top-level property whose name starts with ``/``). This is the entry the Airbyte side reads;
    Singer mode sends a nested key as a top-level carrier field instead (``_singer_keys``).

    >>> key_property(["line"]), key_property(["order", "id"]), key_property(["a/b", "c~d"])
    ('line', '/order/id', '/a~1b/c~0d')
    """
    if len(path) == 1:
        return str(path[0])
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Yielded by a read function to save progress that is not a cursor (a page token, say):
    the value becomes the stream's (or partition's) state, for resumable full refresh."""

    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReadContext:
    """What a read function gets: the config, its state, and its partition (if any)."""

    config: Mapping[str, Any]
    state: Mapping[str, Any]
    partition: Mapping[str, Any] | None = None
    start_cursor: Any = None  # the bookmark to read after, for incremental reads


ReadFn = Callable[[ReadContext], Iterable[Mapping[str, Any] | Checkpoint]]
PartitionFn = Callable[[ReadContext], Iterable[Mapping[str, Any]]]
ProbeFn = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class Stream:
    """A stream of records. ``primary_key`` holds paths (``[["id"]]``, ``[["owner", "id"]]``).

    ``partitions`` splits the read (one call of ``read`` per partition, each checkpointed);
    ``parent`` makes a sub-stream: one partition per parent record, ``{"parent": record}``.
    ``probe`` is what a source's default ``check`` does with this stream instead of reading
    its first record (a stream whose read creates work, such as an async job, proves the
    config cheaper); it raises to fail the check.
    """

    name: str
    schema: Mapping[str, Any]
    read: ReadFn
    primary_key: Sequence[Sequence[str]] = ()
    cursor_field: str | None = None
    namespace: str | None = None
    checkpoint_every: int = 1000
    is_sorted: bool = False  # records come in cursor order: checkpoint mid-partition too
    max_workers: int = 1  # partitions read at once (threads); state stays per partition
    partitions: PartitionFn | None = None
    parent: Stream | None = None
    description: str = field(default="", compare=False)
    probe: ProbeFn | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        nested = any(len(path) > 1 for path in self.primary_key)
        clash = [p for p in self.schema.get("properties") or {} if str(p).startswith("/")]
        if nested and clash:
            raise ValueError(
                f"stream '{self.name}': a nested primary key is written as a JSON Pointer, "
                f"which top-level properties {clash} could be mistaken for; rename them"
            )

    def catalog_entry(self) -> dict[str, Any]:
        """This stream as a Singer catalog entry: the one description both protocols use."""
        root: dict[str, Any] = {
            "table-key-properties": [key_property(path) for path in self.primary_key],
            "forced-replication-method": "INCREMENTAL" if self.cursor_field else "FULL_TABLE",
            "inclusion": "available",
        }
        if self.cursor_field:
            root["valid-replication-keys"] = [self.cursor_field]
        if self.namespace:
            root["schema-name"] = self.namespace
        tap_stream_id = f"{self.namespace}-{self.name}" if self.namespace else self.name
        return {
            "tap_stream_id": tap_stream_id,
            "stream": tap_stream_id,
            "schema": {"type": "object", **dict(self.schema)},
            "key_properties": root["table-key-properties"],
            **({"replication_key": self.cursor_field} if self.cursor_field else {}),
            "metadata": [{"breadcrumb": [], "metadata": root}],
        }
