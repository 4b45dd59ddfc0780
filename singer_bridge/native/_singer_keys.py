"""Nested primary keys in Singer mode: a native stream's entry with its *carrier* fields.

The rule (a top-level field per nested key, ``order__id``, mapped back by root metadata
``singer-bridge-key-paths``) is the Airbyte to Singer one, in ``_translate/to_singer.py``.

>>> stream = Stream("lines", {"properties": {"line": {"type": "integer"}}}, lambda ctx: [],
...                 primary_key=[["order", "id"], ["line"]])
>>> key_carriers(stream)
{'order__id': ('order', 'id')}
>>> singer_catalog_entry(stream)["key_properties"]
['order__id', 'line']
"""

from __future__ import annotations

import copy
from typing import Any

from singer_bridge._translate.catalog import KEY_PATHS_METADATA
from singer_bridge._translate.to_singer import KeyCarriers, with_carrier_properties
from singer_bridge._translate.to_singer import key_carriers as _key_carriers
from singer_bridge.native._stream import Stream


def key_carriers(stream: Stream) -> KeyCarriers:
    """Each nested key's carrier field, by name, in key order; empty for top-level keys."""
    return _key_carriers(stream.schema, stream.primary_key)


def singer_catalog_entry(stream: Stream) -> dict[str, Any]:
    """``stream.catalog_entry()`` as a Singer target can use it: nested keys by their carrier."""
    entry = copy.deepcopy(stream.catalog_entry())
    carriers = key_carriers(stream)
    if not carriers:
        return entry
    by_path = {path: name for name, path in carriers.items()}
    keys = [by_path.get(tuple(str(p) for p in path), str(path[0])) for path in stream.primary_key]
    carried = with_carrier_properties(stream.schema, carriers)["properties"]
    properties = entry["schema"].setdefault("properties", {})
    properties.update({name: carried[name] for name in carriers})
    root = entry["metadata"][0]["metadata"]
    root["table-key-properties"] = keys
    root[KEY_PATHS_METADATA] = {name: list(path) for name, path in carriers.items()}
    entry["key_properties"] = keys
    entry["metadata"] += [
        {"breadcrumb": ["properties", name], "metadata": {"inclusion": "automatic"}}
        for name in carriers
    ]
    return entry
