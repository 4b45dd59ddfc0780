"""Airbyte to Singer: the mapping beside the Singer to Airbyte one (``catalog.py``, ``state.py``).

An Airbyte stream is the Singer stream ``namespace-name`` (``name`` without a namespace: the
inverse of how the bridge names a SQL tap's ``schema-table`` stream). A nested primary key,
which Singer cannot state, travels as a top-level *carrier* field: the path joined with
``__`` (``order__id``; ``__key``, ``__key2``... appended while the name is taken), in the
SCHEMA, every RECORD and ``table-key-properties``, with root metadata ``singer-bridge-key-paths``
mapping each carrier back to its path (the bridge wrapping such a tap drops it again).

>>> tap_stream_id("users", "public"), tap_stream_id("users", None)
('public-users', 'users')
>>> key_carriers({"properties": {"line": {}}}, [["order", "id"], ["line"]])
{'order__id': ('order', 'id')}
>>> with_key_carriers(b'{"line":1,"order":{"id":7}}', {"order__id": ("order", "id")})
b'{"order__id":7,"line":1,"order":{"id":7}}'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from singer_bridge._translate.catalog import KEY_PATHS_METADATA, stream_metadata

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode

KeyCarriers = dict[str, tuple[str, ...]]
# Root metadata keeping the Airbyte stream a Singer entry was made from (all but its schema),
# so a read needs no second discovery to build the configured catalog.
AIRBYTE_STREAM_METADATA = "singer-bridge-airbyte-stream"


def tap_stream_id(name: str, namespace: str | None) -> str:
    return f"{namespace}-{name}" if namespace else name


def carrier_name(path: tuple[str, ...], taken: set[str]) -> str:
    """The carrier field of a nested key: the path joined with ``__``, ``__key`` appended
    (then ``__key2``, ``__key3``...) while the name is taken.

    >>> carrier_name(("order", "id"), set()), carrier_name(("order", "id"), {"order__id"})
    ('order__id', 'order__id__key')
    >>> carrier_name(("order", "id"), {"order__id", "order__id__key"})
    'order__id__key2'
    """
    base = "__".join(path)
    name, n = base, 1
    while name in taken:
        name = f"{base}__key" if n == 1 else f"{base}__key{n}"
        n += 1
    return name


def key_carriers(schema: Mapping[str, Any], primary_key: Sequence[Sequence[str]]) -> KeyCarriers:
    """Each nested key's carrier field, by name, in key order; empty for top-level keys."""
    properties = schema.get("properties") or {}
    taken = {str(p) for p in properties} | {str(p[0]) for p in primary_key if len(p) == 1}
    carriers: KeyCarriers = {}
    for path in primary_key:
        if len(path) > 1:
            name = carrier_name(tuple(str(p) for p in path), taken)
            taken.add(name)
            carriers[name] = tuple(str(p) for p in path)
    return carriers


def schema_at(schema: Mapping[str, Any], path: Sequence[str]) -> dict[str, Any]:
    for part in path:
        schema = (schema.get("properties") or {}).get(part) or {}
    return dict(schema)


def with_carrier_properties(
    schema: Mapping[str, Any], carriers: KeyCarriers, description: bool = True
) -> dict[str, Any]:
    """The schema with a property per carrier field (the nested field's own schema)."""
    properties = dict(schema.get("properties") or {})
    for name, path in carriers.items():
        carrier = schema_at(schema, path)
        if description:
            carrier["description"] = f"singer-bridge key carrier: a copy of {'.'.join(path)}"
        properties[name] = carrier
    return {**schema, "properties": properties}


def _value_at(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def with_key_carriers(data: bytes, carriers: KeyCarriers) -> bytes:
    """The record (raw JSON object) with its carrier fields first; a missing value is null.

    >>> with_key_carriers(b'{"order__id":"stale","order":{}}', {"order__id": ("order", "id")})
    b'{"order__id":null,"order":{}}'
    """
    record = _decode(data)
    values = {name: _value_at(record, path) for name, path in carriers.items()}
    if not carriers.keys().isdisjoint(record):  # a field the schema does not declare: replaced
        return _encode({**values, **{k: v for k, v in record.items() if k not in carriers}})
    head = _encode(values)
    if not record:
        return head
    return head[:-1] + b"," + data.lstrip()[1:]


def singer_entry(stream: Mapping[str, Any]) -> dict[str, Any]:
    """An Airbyte stream (an ``AirbyteStream`` object) as a Singer catalog entry with full
    metadata: breadcrumbs, inclusion, ``selected-by-default``, ``table-key-properties``,
    ``valid-replication-keys``, ``forced-replication-method``, ``replication-method`` and
    ``replication-key`` (incremental where the stream can be), ``schema-name``.

    >>> e = singer_entry({"name": "users", "json_schema": {"properties": {"id": {}, "at": {}}},
    ...     "supported_sync_modes": ["full_refresh", "incremental"],
    ...     "source_defined_cursor": True, "default_cursor_field": ["at"],
    ...     "source_defined_primary_key": [["id"]]})
    >>> root = e["metadata"][0]["metadata"]
    >>> e["key_properties"], e["replication_key"], root["replication-method"]
    (['id'], 'at', 'INCREMENTAL')
    """
    name, namespace = str(stream["name"]), stream.get("namespace") or None
    schema = dict(stream.get("json_schema") or {})
    primary_key = [
        [str(p) for p in path] for path in stream.get("source_defined_primary_key") or []
    ]
    carriers = key_carriers(schema, primary_key)
    by_path = {path: carrier for carrier, path in carriers.items()}
    keys = [by_path.get(tuple(path), path[0]) for path in primary_key if path]
    modes = stream.get("supported_sync_modes") or ["full_refresh"]
    cursor = [str(p) for p in stream.get("default_cursor_field") or []]
    incremental = "incremental" in modes
    root: dict[str, Any] = {
        "inclusion": "available",
        "selected-by-default": True,
        "table-key-properties": keys,
        "forced-replication-method": (
            "FULL_TABLE"
            if not incremental
            else "INCREMENTAL"
            if "full_refresh" not in modes
            else None
        ),
        "replication-method": "INCREMENTAL" if incremental else "FULL_TABLE",
        AIRBYTE_STREAM_METADATA: {k: v for k, v in stream.items() if k != "json_schema"},
    }
    if root["forced-replication-method"] is None:
        del root["forced-replication-method"]
    if incremental and len(cursor) == 1:
        root["valid-replication-keys"] = cursor
        root["replication-key"] = cursor[0]
    if namespace:
        root["schema-name"] = namespace
    if carriers:
        root[KEY_PATHS_METADATA] = {carrier: list(path) for carrier, path in carriers.items()}
        schema = with_carrier_properties(schema, carriers)
    automatic = {*keys, *cursor[:1]}
    metadata = [{"breadcrumb": [], "metadata": root}] + [
        {
            "breadcrumb": ["properties", prop],
            "metadata": {"inclusion": "automatic" if prop in automatic else "available"},
        }
        for prop in schema.get("properties") or {}
    ]
    sid = tap_stream_id(name, namespace)
    entry: dict[str, Any] = {
        "tap_stream_id": sid,
        "stream": sid,
        "schema": {"type": "object", **schema} if "type" not in schema else schema,
        "key_properties": keys,
        "metadata": metadata,
    }
    if "replication-key" in root:
        entry["replication_key"] = root["replication-key"]
    return entry


def is_selected(entry: Mapping[str, Any], md: Mapping[str, Any] | None = None) -> bool:
    """Whether a Singer catalog entry is selected, in every dialect taps are given: the root
    metadata's ``selected`` (``md``: the root metadata, if not the entry's own), the entry's
    or its schema's (older catalogs), else ``selected-by-default``."""
    md = stream_metadata(entry).get((), {}) if md is None else md
    for value in (
        md.get("selected"),
        entry.get("selected"),
        (entry.get("schema") or {}).get("selected"),
    ):
        if value is not None:
            return bool(value)
    return bool(md.get("selected-by-default"))


def replication_method(entry: Mapping[str, Any]) -> str | None:
    """The replication method the catalog asks for (upper case), or None when it names none."""
    md = stream_metadata(entry).get((), {})
    method = md.get("replication-method") or entry.get("replication_method")
    return str(method).upper() if method else None


def deselected_fields(entry: Mapping[str, Any]) -> frozenset[str]:
    """Top-level properties the catalog deselects (``selected: false``, or not selected and
    ``selected-by-default: false``); a property of ``inclusion: automatic`` is always kept."""
    out = set()
    for crumb, md in stream_metadata(entry).items():
        if len(crumb) != 2 or crumb[0] != "properties" or md.get("inclusion") == "automatic":
            continue
        selected = md.get("selected")
        if selected is False or (selected is None and md.get("selected-by-default") is False):
            out.add(crumb[1])
        if md.get("inclusion") == "unsupported":
            out.add(crumb[1])
    return frozenset(out)


class ExtractedField:
    """``,"time_extracted":"..."`` for a record's ``emitted_at``, encoded; the date and minute
    are formatted once per minute, not once per record (formatting a datetime costs more than
    the rest of a record's trip).

    >>> field = ExtractedField()
    >>> field(1700000000123)
    b',"time_extracted":"2023-11-14T22:13:20.123000Z"'
    >>> field(1700000059999)  # the next minute
    b',"time_extracted":"2023-11-14T22:14:19.999000Z"'
    """

    __slots__ = ("_minute", "_prefix")

    def __init__(self) -> None:
        self._minute = -1
        self._prefix = b""

    def __call__(self, emitted_at_ms: float) -> bytes:
        ms = int(emitted_at_ms)
        minute, rest = divmod(ms, 60_000)
        if minute != self._minute:
            self._minute = minute
            moment = dt.datetime.fromtimestamp(minute * 60, dt.UTC)
            self._prefix = b',"time_extracted":"' + moment.strftime("%Y-%m-%dT%H:%M:").encode()
        return self._prefix + b'%02d.%03d000Z"' % divmod(rest, 1000)
