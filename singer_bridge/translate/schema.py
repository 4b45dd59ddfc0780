"""Singer JSON Schema to Airbyte JSON Schema.

Singer taps write schemas that Airbyte clients read differently: local ``$ref``s, typeless
properties, ``"schema": {}``, Singer catalog keys (``selected``, ``inclusion``) inside the
schema, ``date-time`` without Airbyte's ``airbyte_type``, decimals carried as strings.

>>> airbyte_schema({"properties": {"at": {"type": "string", "format": "date-time"}}})["properties"]
{'at': {'type': 'string', 'format': 'date-time', 'airbyte_type': 'timestamp_with_timezone'}}
"""

from __future__ import annotations

import copy
from typing import Any

# Singer catalog bookkeeping that some taps leave inside the JSON schema itself.
_CATALOG_KEYS = frozenset({"selected", "inclusion", "selected-by-default"})
DECIMAL_FORMATS = frozenset({"singer.decimal", "x-singer.decimal"})
_MAX_REF_DEPTH = 32


def airbyte_schema(schema: Any) -> dict[str, Any]:
    """Return a normalised copy of a stream's Singer schema, ready for an ``AirbyteStream``."""
    if not isinstance(schema, dict) or not schema:
        return {"type": "object", "properties": {}, "additionalProperties": True}
    root = copy.deepcopy(schema)
    definitions = {**root.pop("definitions", {}), **root.pop("$defs", {})}
    out: dict[str, Any] = _normalise(root, definitions, 0)
    if "type" not in out and "properties" in out:
        out["type"] = "object"
    for prop in (out.get("properties") or {}).values():
        # Only top-level decimal strings are rewritten as numbers by the translator.
        if isinstance(prop, dict) and prop.get("format") in DECIMAL_FORMATS:
            prop["type"] = _replace_type(prop.get("type"), "string", "number")
            del prop["format"]
    return out


def decimal_fields(schema: dict[str, Any]) -> frozenset[str]:
    """Top-level properties whose values a tap sends as decimal strings (``singer.decimal``)."""
    if not isinstance(schema, dict):
        return frozenset()
    definitions = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    props = {
        name: _normalise(prop, definitions, 0)
        for name, prop in (schema.get("properties") or {}).items()
    }
    return frozenset(
        name
        for name, prop in props.items()
        if isinstance(prop, dict) and prop.get("format") in DECIMAL_FORMATS
    )


def property_names(schema: dict[str, Any]) -> list[str]:
    props = schema.get("properties")
    return list(props) if isinstance(props, dict) else []


def _normalise(node: Any, definitions: dict[str, Any], depth: int) -> Any:
    if isinstance(node, list):
        return [_normalise(item, definitions, depth) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        if depth >= _MAX_REF_DEPTH:
            return {}  # a recursive definition: accept anything below this depth
        target = _resolve_local_ref(ref, definitions)
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _normalise(merged, definitions, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _CATALOG_KEYS and not isinstance(value, dict):
            continue
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _normalise(sub, definitions, depth) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "additionalProperties", "not"):
            out[key] = _normalise(value, definitions, depth)
        else:
            out[key] = value
    _apply_formats(out)
    return out


def _apply_formats(node: dict[str, Any]) -> None:
    if node.get("format") == "date-time":
        node.setdefault("airbyte_type", "timestamp_with_timezone")


def _replace_type(declared: Any, old: str, new: str) -> Any:
    if isinstance(declared, list):
        return [new if t == old else t for t in declared]
    if declared in (None, old):
        return new
    return declared


def _resolve_local_ref(ref: str, definitions: dict[str, Any]) -> dict[str, Any]:
    parts = ref[2:].split("/")
    if len(parts) == 2 and parts[0] in ("definitions", "$defs"):
        target = definitions.get(parts[1])
        if isinstance(target, dict):
            return target
    return {}
