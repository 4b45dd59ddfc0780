"""Text values (a CSV cell) cast to the JSON-schema types a stream declares, as Airbyte's
file-based sources do: a value that casts to none of its types is kept as it is.

>>> props = {"id": {"type": "integer"}, "ok": {"type": ["null", "boolean"]},
...          "n": {"type": "number"}}
>>> cast_row({"id": "7", "ok": "", "n": "2.5", "note": "x"}, props)
({'id': 7, 'ok': None, 'n': 2.5, 'note': 'x'}, [])
>>> cast_row({"id": "seven"}, props)
({'id': 'seven'}, ['id'])
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_TRUE = frozenset({"y", "yes", "t", "on", "true", "1"})
_FALSE = frozenset({"n", "no", "f", "off", "false", "0"})
_INTEGER = re.compile(r"[+-]?\d+")


class _NoCast(Exception):
    pass


def _types(prop: Any) -> list[str]:
    kind = prop.get("type") if isinstance(prop, Mapping) else None
    if isinstance(kind, str):
        return [kind]
    return [k for k in kind if isinstance(k, str)] if isinstance(kind, list) else []


def _cast(text: str, kind: str) -> Any:
    if kind == "null":
        if text == "":
            return None
    elif kind == "integer":
        if _INTEGER.fullmatch(text.strip()):
            return int(text)
    elif kind == "number":
        if _INTEGER.fullmatch(text.strip()):
            return int(text)
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
    elif kind == "boolean":
        word = text.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    elif kind in ("object", "array"):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, dict if kind == "object" else list):
            return value
    raise _NoCast


def cast_value(text: str, prop: Any) -> tuple[Any, bool]:
    """``text`` as the first of the property's types it casts to (``null`` for an empty cell
    first), and whether it did; a ``string`` type or no declared type keeps the text."""
    kinds = _types(prop)
    if not kinds or ("string" in kinds and text != ""):
        return text, True
    order = sorted(kinds, key=lambda k: k != "null")  # an empty cell is null where allowed
    for kind in order:
        if kind == "string":
            return text, True
        try:
            return _cast(text, kind), True
        except _NoCast:
            continue
    return text, False


def cast_row(
    row: Mapping[str, Any], properties: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The row with its text cells cast by ``properties``, and the fields that did not cast
    (kept as text)."""
    out: dict[str, Any] = {}
    failed: list[str] = []
    for name, value in row.items():
        if isinstance(value, str) and name in properties:
            value, ok = cast_value(value, properties[name])
            if not ok:
                failed.append(name)
        out[name] = value
    return out, failed
