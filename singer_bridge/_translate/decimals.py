"""Decimal strings (``singer.decimal``) written as JSON numbers, at any depth of a record.

Only the members on a decimal path are decoded; every other byte of the record is kept, so
``0.10`` stays ``0.10`` and big integers keep their digits.

>>> decimals_as_numbers(b'{"t":"1.50","n":[{"v":"NaN"}]}', frozenset({("t",), ("n", None, "v")}))
(b'{"t":1.50,"n":[{"v":null}]}', ['n.0.v'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import msgspec

from singer_bridge._translate.schema import ITEMS, DecimalPath

_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$")
_object = msgspec.json.Decoder(dict[str, msgspec.Raw])
_array = msgspec.json.Decoder(list[msgspec.Raw])
_encode = msgspec.json.Encoder().encode


@dataclass(slots=True)
class _Node:
    """The decimal paths as a tree: is a decimal here, and where below."""

    leaf: bool = False
    children: dict[str | None, _Node] = field(default_factory=dict)


@lru_cache(maxsize=256)
def _tree(paths: frozenset[DecimalPath]) -> _Node:
    root = _Node()
    for path in paths:
        node = root
        for step in path:
            node = node.children.setdefault(step, _Node())
        node.leaf = True
    return root


def decimals_as_numbers(data: Any, paths: frozenset[DecimalPath]) -> tuple[bytes, list[str]]:
    """The record with decimal text as numbers, and the dotted paths of values nulled."""
    nulled: list[str] = []
    out = _convert(bytes(data), _tree(paths), "", nulled)
    return (out if out is not None else bytes(data)), nulled


def _convert(raw: bytes, node: _Node, where: str, nulled: list[str]) -> bytes | None:
    """The new bytes of this value, or None when it is unchanged."""
    head = raw.lstrip()[:1]
    if head == b'"' and node.leaf:
        text = msgspec.json.decode(raw)
        if isinstance(text, str) and _NUMBER.match(text):
            return text.encode()
        nulled.append(where)
        return b"null"
    if head == b"{" and any(k is not ITEMS for k in node.children):
        members = _object.decode(raw)
        changed = False
        for name, sub in node.children.items():
            if name is ITEMS or name not in members:
                continue
            new = _convert(bytes(members[name]), sub, f"{where}.{name}" if where else name, nulled)
            if new is not None:
                members[name] = msgspec.Raw(new)
                changed = True
        return _encode(members) if changed else None
    if head == b"[" and ITEMS in node.children:
        sub = node.children[ITEMS]
        elements = _array.decode(raw)
        changed = False
        for index, element in enumerate(elements):
            new = _convert(bytes(element), sub, f"{where}.{index}" if where else str(index), nulled)
            if new is not None:
                elements[index] = msgspec.Raw(new)
                changed = True
        return _encode(elements) if changed else None
    return None


def decimals_with_meta(data: Any, paths: frozenset[DecimalPath]) -> tuple[bytes, bytes]:
    """The record with its decimals as numbers, and the ``meta`` member for the Airbyte
    record when a value had to be nulled (else empty).

    >>> decimals_with_meta(b'{"a":[{"x":"1.10"}],"b":0.10}', frozenset({("a", None, "x")}))
    (b'{"a":[{"x":1.10}],"b":0.10}', b'')
    """
    converted, nulled = decimals_as_numbers(data, paths)
    if not nulled:
        return converted, b""
    changes = [
        {"field": name, "change": "NULLED", "reason": "SOURCE_SERIALIZATION_ERROR"}
        for name in nulled
    ]
    return converted, b',"meta":' + _encode({"changes": changes})
