"""What the translator keeps per configured stream (a route) and per run (counters).

>>> record_prefix("users", "public")
b'{"type":"RECORD","record":{"stream":"users","namespace":"public","data":'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from singer_bridge._translate.catalog import ConfiguredStream
from singer_bridge._translate.schema import DecimalPath

_encode = msgspec.json.Encoder().encode
UNSET: Any = object()  # no state yet (None is a value a tap may send)


@dataclass(slots=True)
class Route:
    stream: ConfiguredStream
    prefix: bytes
    decimals: frozenset[DecimalPath]
    last_state: Any = UNSET
    pending: int = 0  # records since this stream's last STATE
    committed: int = 0  # records covered by a STATE already emitted
    running: bool = False
    emitted: bool = False  # a STATE of this stream went out in this read
    body_at: int = 0  # where the record body starts in an encoded line
    fields: frozenset[str] | None = None  # the fields the user selected, when narrowed
    dropped: frozenset[str] = frozenset()  # fields no record keeps (a native tap's key carriers)

    @property
    def total(self) -> int:
        return self.committed + self.pending


@dataclass(slots=True)
class Counters:
    """What a run did, for the final log line and for tests."""

    records: int = 0
    states: int = 0
    activate_versions: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    skipped_non_object: int = 0


def record_prefix(name: str, namespace: str | None) -> bytes:
    head = {"stream": name, **({"namespace": namespace} if namespace is not None else {})}
    encoded = _encode(head)  # b'{"stream":"users","namespace":"public"}'
    return b'{"type":"RECORD","record":' + encoded[:-1] + b',"data":'


def kept_fields(c: ConfiguredStream, selected: Sequence[str] | None) -> frozenset[str] | None:
    """The top-level fields a record keeps: the selection, its keys and its cursor (or all)."""
    if selected is None:
        return None
    keys = {path[0] for path in c.singer.primary_key if path}
    cursor = c.cursor_field[:1] if c.incremental else []
    return frozenset({*selected, *keys, *cursor})


_raw_fields = msgspec.json.Decoder(dict[str, msgspec.Raw])


def only_fields(data: Any, names: frozenset[str]) -> Any:
    """The record (raw JSON) with only the top-level members in ``names``.

    >>> only_fields(b'{"a": 1, "b": 2}', frozenset({"a"}))
    b'{"a":1}'
    """
    return _select_fields(data, names, keep=True)


def without_fields(data: Any, names: frozenset[str]) -> Any:
    """The record (raw JSON) without the top-level members in ``names``.

    >>> without_fields(b'{"a": 1, "b": 2}', frozenset({"a"}))
    b'{"b":2}'
    """
    return _select_fields(data, names, keep=False)


def _select_fields(data: Any, names: frozenset[str], *, keep: bool) -> Any:
    """The record's top-level members whose name is in ``names`` (``keep``) or is not; the
    record as it came when that is all of them (or when it is no object, for the translator
    to report), re-encoded from the members' raw JSON otherwise."""
    try:
        fields = _raw_fields.decode(data)
    except msgspec.DecodeError:
        return data
    if fields.keys() <= names if keep else fields.keys().isdisjoint(names):
        return data
    return _encode({k: v for k, v in fields.items() if (k in names) is keep})
