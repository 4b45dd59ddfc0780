"""Nested primary keys in Singer mode: a top-level *carrier* field per nested key.

The Singer spec makes key properties top-level field names, and every target built on the
Meltano SDK stops on anything else. So in Singer mode a nested key (``["order", "id"]``) is
sent as a top-level field that carries its value, named by joining the path with ``__`` (the
way Meltano flattens objects): ``order__id``. When that name is taken (by a top-level property
or by another key's carrier), ``__key`` is appended, then ``__key2``, ``__key3``... The field
is in the SCHEMA (with the nested field's schema), in every RECORD, and in discovery's
``table-key-properties``; the root metadata ``singer-bridge-key-paths`` maps each carrier back
to its path, so the bridge wrapping this tap (``--tap``) offers the nested path as the Airbyte
primary key again and drops the carrier.

>>> stream = Stream("lines", {"properties": {"line": {"type": "integer"}}}, lambda ctx: [],
...                 primary_key=[["order", "id"], ["line"]])
>>> key_carriers(stream)
{'order__id': ('order', 'id')}
>>> singer_catalog_entry(stream)["key_properties"]
['order__id', 'line']
>>> with_key_carriers(b'{"line":1,"order":{"id":7}}', {"order__id": ("order", "id")})
b'{"order__id":7,"line":1,"order":{"id":7}}'
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import msgspec

from singer_bridge._translate.catalog import KEY_PATHS_METADATA
from singer_bridge.native._stream import Stream

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode

KeyCarriers = dict[str, tuple[str, ...]]


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


def key_carriers(stream: Stream) -> KeyCarriers:
    """Each nested key's carrier field, by name, in key order; empty for top-level keys."""
    properties = stream.schema.get("properties") or {}
    taken = {str(p) for p in properties} | {str(p[0]) for p in stream.primary_key if len(p) == 1}
    carriers: KeyCarriers = {}
    for path in stream.primary_key:
        if len(path) > 1:
            name = carrier_name(tuple(str(p) for p in path), taken)
            taken.add(name)
            carriers[name] = tuple(str(p) for p in path)
    return carriers


def _schema_at(schema: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    for part in path:
        schema = (schema.get("properties") or {}).get(part) or {}
    return dict(schema)


def singer_catalog_entry(stream: Stream) -> dict[str, Any]:
    """``stream.catalog_entry()`` as a Singer target can use it: nested keys by their carrier."""
    entry = copy.deepcopy(stream.catalog_entry())
    carriers = key_carriers(stream)
    if not carriers:
        return entry
    by_path = {path: name for name, path in carriers.items()}
    keys = [by_path.get(tuple(str(p) for p in path), str(path[0])) for path in stream.primary_key]
    properties = entry["schema"].setdefault("properties", {})
    for name, path in carriers.items():
        carrier = _schema_at(stream.schema, path)
        carrier["description"] = f"singer-bridge key carrier: a copy of {'.'.join(path)}"
        properties[name] = carrier
    root = entry["metadata"][0]["metadata"]
    root["table-key-properties"] = keys
    root[KEY_PATHS_METADATA] = {name: list(path) for name, path in carriers.items()}
    entry["key_properties"] = keys
    entry["metadata"] += [
        {"breadcrumb": ["properties", name], "metadata": {"inclusion": "automatic"}}
        for name in carriers
    ]
    return entry


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
