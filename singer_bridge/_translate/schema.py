"""Singer JSON Schema to Airbyte JSON Schema.

Taps write draft-4 flavoured schemas that often say more than their records keep to: local
``$ref``s, boolean ``exclusiveMaximum``, ``multipleOf`` that binary floats miss, ``pattern``s
in another regex dialect, array items that are never null except when they are. The schema
given to Airbyte is valid draft 7 and accepts every record the tap emits for the stream (after
the translator turns decimal strings into numbers): it only ever loosens.

The rules, in the order they apply to each subschema:

- every local ``$ref`` (``definitions``, ``$defs``, any JSON pointer, draft-4 ``id`` bases) is
  inlined, resolved with :mod:`referencing`; a reference back into itself becomes ``{"type": T}``
  of its target (or ``{}``); an unresolvable or remote one becomes ``{}``. Sibling ``type``s of
  a ``$ref`` widen the target's, and sibling annotations are kept;
- value constraints Airbyte has no use for and real data breaks are dropped: ``multipleOf``,
  ``maxLength``/``minLength``, ``pattern``, ``enum``/``const``, ``required``, item and property
  counts, ``uniqueItems``, ``not``, ``dependencies``, ``propertyNames``, ``patternProperties``,
  ``additionalProperties: false``, tuple ``items``, ``if``/``then``/``else``, and every
  ``format`` but ``date-time``, ``date`` and ``time``;
- ``minimum``/``maximum`` stay on integers (written the draft-7 way: a draft-4 boolean
  ``exclusiveMaximum`` becomes the number) and go from other numbers, where a float can round
  onto the bound; ``oneOf`` becomes ``anyOf`` (loosened branches may overlap);
- types: unknown names go (the field accepts anything), lists are de-duplicated; array items
  and the properties of nested objects also accept null (PostgreSQL ``text[]`` holds NULLs while
  the tap says ``{"type": "string"}``); ``id``/``$id``/``definitions``/``$defs`` go once inlined;
- ``singer.decimal`` / ``x-singer.decimal`` strings at any depth (through ``properties``,
  ``items``, ``anyOf``/``oneOf``/``allOf``) become ``number`` or ``null``: the translator writes
  their text as a JSON number, or null when the text is not a number.

>>> airbyte_schema({"properties": {"at": {"type": "string", "format": "date-time"}}})["properties"]
{'at': {'type': 'string', 'format': 'date-time', 'airbyte_type': 'timestamp_with_timezone'}}
>>> airbyte_schema({"properties": {"n": {"type": "number", "multipleOf": 0.001}}})["properties"]
{'n': {'type': 'number'}}
>>> decimal_fields({"properties": {"a": {"items": {"type": "string", "format": "singer.decimal"}}}})
frozenset({('a', None)})
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from referencing import Specification
    from referencing._core import Resolver

DECIMAL_FORMATS = frozenset({"singer.decimal", "x-singer.decimal"})
DRAFT7_URI = "http://json-schema.org/draft-07/schema#"

# A decimal field's place in a record: property names, and ``ITEMS`` for "every array element".
ITEMS = None
DecimalPath = tuple[str | None, ...]

_TYPES = frozenset({"null", "boolean", "object", "array", "number", "integer", "string"})
_DATE_FORMATS = frozenset({"date-time", "date", "time"})
_STRING_ANNOTATIONS = frozenset({"title", "description", "$comment"})
# Kept as they are: annotations Airbyte shows, and Airbyte's own type hints.
_KEPT = frozenset({"default", "airbyte_type", "airbyte_hidden"})
_BOOLEAN_ANNOTATIONS = frozenset({"readOnly", "writeOnly"})
# Singer catalog bookkeeping that some taps leave inside the JSON schema itself.
_CATALOG_KEYS = frozenset({"selected", "inclusion", "selected-by-default"})
_REF_SIBLINGS = frozenset({"type", *_STRING_ANNOTATIONS})


def airbyte_schema(schema: Any) -> dict[str, Any]:
    """A loosened draft-7 copy of a stream's Singer schema, ready for an ``AirbyteStream``."""
    if not isinstance(schema, dict) or not schema:
        return {"type": "object", "properties": {}, "additionalProperties": True}
    return copy.deepcopy(_translated(schema).schema)


def decimal_fields(schema: Any) -> frozenset[DecimalPath]:
    """Where records carry decimal strings (``singer.decimal``), at any depth.

    >>> decimal_fields({"properties": {"t": {"type": "string", "format": "singer.decimal"}}})
    frozenset({('t',)})
    """
    if not isinstance(schema, dict) or not schema:
        return frozenset()
    return _translated(schema).decimals


def with_property_overrides(schema: Any, overrides: Mapping[str, Mapping[str, Any]] | None) -> Any:
    """A copy of a stream's schema with the user's property schemas in place of the tap's
    (per property, like Meltano's ``schema`` extra); ``schema`` itself when there are none.

    >>> with_property_overrides({"properties": {"doc": {"type": ["object", "array"]}, "id": {}}},
    ...     {"doc": {"type": ["null", "string"]}})["properties"]
    {'doc': {'type': ['null', 'string']}, 'id': {}}
    """
    if not overrides:
        return schema
    out = dict(schema) if isinstance(schema, dict) else {"type": "object"}
    properties = out.get("properties")
    properties = dict(properties) if isinstance(properties, dict) else {}
    properties.update({name: copy.deepcopy(dict(prop)) for name, prop in overrides.items()})
    out["properties"] = properties
    return out


def property_names(schema: dict[str, Any]) -> list[str]:
    props = schema.get("properties")
    return list(props) if isinstance(props, dict) else []


@dataclass(frozen=True, slots=True)
class _Result:
    schema: dict[str, Any]
    decimals: frozenset[DecimalPath]


def _translated(schema: dict[str, Any]) -> _Result:
    # Taps may repeat a stream's SCHEMA message often; the same schema is translated once.
    try:
        key = _canonical(schema)
    except (TypeError, msgspec.EncodeError):
        return _translate(schema)
    return _translate_cached(key)


@lru_cache(maxsize=128)
def _translate_cached(key: bytes) -> _Result:
    return _translate(msgspec.json.decode(key))


def _translate(schema: dict[str, Any]) -> _Result:
    root = copy.deepcopy(schema)
    spec = resolver = None
    if _has_ref(root):  # most schemas have none: no resolver, nor its import (start-up time)
        spec = _specification(root)
        resolver = _root_resolver(root, spec)
    walk = _Walk(resolver, [id(root)], spec)
    out = walk.node(root, path=(), depth=0, convertible=True)
    if not isinstance(out, dict):
        out = {}
    if "type" not in out and "properties" in out:
        out = {"type": "object", **out}  # records are always objects: this narrows nothing
    if "$schema" in schema:
        out = {"$schema": DRAFT7_URI, **out}
    return _Result(out, frozenset(walk.decimals))


_canonical = msgspec.json.Encoder().encode  # keeps key order: the key decodes back alike


def _has_ref(node: Any) -> bool:
    """Whether the walk would meet a ``$ref``: along the keys ``_Walk`` follows, so refs only
    inside ``definitions`` that nothing points to (pipelinewise taps ship such) do not count."""
    if not isinstance(node, dict):
        return False
    if isinstance(node.get("$ref"), str):
        return True
    props = node.get("properties")
    children = list(props.values()) if isinstance(props, dict) else []
    children += [node.get("additionalProperties"), node.get("items")]
    for key in ("anyOf", "oneOf", "allOf"):
        branches = node.get(key)
        if isinstance(branches, list):
            children += branches
    return any(_has_ref(child) for child in children)


def _specification(root: dict[str, Any]) -> Specification[Any]:
    """Draft 4 (``id``) when the schema says so or uses ``id``; else draft 7 (``$id``)."""
    from referencing import jsonschema as specs

    dialect = root.get("$schema")
    draft4 = (isinstance(dialect, str) and "draft-04" in dialect) or (
        "$id" not in root and isinstance(root.get("id"), str)
    )
    default = specs.DRAFT4 if draft4 else specs.DRAFT7
    if not isinstance(dialect, str):
        return default
    return specs.specification_with(dialect, default=default)


def _root_resolver(root: dict[str, Any], spec: Specification[Any]) -> Resolver[Any] | None:
    from referencing import Registry

    try:
        resource = spec.create_resource(root)
        registry: Registry[Any] = Registry().with_resource("", resource)
        uri = resource.id()
        if uri:
            registry = registry.with_resource(uri, resource)
        return registry.crawl().resolver(base_uri=uri or "")
    except Exception:  # a malformed id or dialect: refs stay unresolved, and so accept anything
        return None


class _Walk:
    """One pass over a schema: the loosened copy, and where its decimal strings are."""

    def __init__(
        self, resolver: Resolver[Any] | None, stack: list[int], spec: Specification[Any] | None
    ) -> None:
        self.resolver = resolver
        self.spec = spec
        self.stack = stack  # the $ref targets being inlined, to stop at recursion
        self.decimals: set[DecimalPath] = set()

    def node(self, node: Any, path: DecimalPath, depth: int, convertible: bool) -> dict[str, Any]:
        if not isinstance(node, dict):
            return {}  # booleans and junk: a loosened draft-4 reading accepts anything here
        ref = node.get("$ref")
        if isinstance(ref, str):
            return self._inline(node, ref, path, depth, convertible)
        outer = self.resolver
        if outer is not None and self.spec is not None and ("id" in node or "$id" in node):
            try:  # a nested draft-4 ``id`` (draft-7 ``$id``) moves the base of the refs below
                self.resolver = outer.in_subresource(self.spec.create_resource(node))
            except Exception:
                self.resolver = outer
        try:
            return self._plain(node, path, depth, convertible)
        finally:
            self.resolver = outer

    def _inline(
        self, node: dict[str, Any], ref: str, path: DecimalPath, depth: int, convertible: bool
    ) -> dict[str, Any]:
        if self.resolver is None:
            return {}
        try:
            resolved = self.resolver.lookup(ref)
        except Exception:
            return {}  # remote or missing: Airbyte gets "anything" rather than a broken ref
        target = resolved.contents
        if not isinstance(target, dict):
            return {}
        if id(target) in self.stack:  # recursion: keep the target's type, accept what is below
            out = _types_only(target.get("type"))
        else:
            outer = self.resolver
            self.stack.append(id(target))
            self.resolver = resolved.resolver
            try:
                out = self.node(target, path, depth, convertible)
            finally:
                self.resolver = outer
                self.stack.pop()
        return _with_ref_siblings(out, node)

    def _plain(
        self, node: dict[str, Any], path: DecimalPath, depth: int, convertible: bool
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        declared = _clean_type(node.get("type"))
        if declared is not None:
            out["type"] = declared
        for key, value in node.items():
            if _kept_annotation(key, value):
                out[key] = value
        self._children(node, out, path, depth, convertible)
        _bounds(node, out)
        fmt = node.get("format")
        if fmt in DECIMAL_FORMATS and convertible:
            self._decimal(out, path)
        elif fmt in _DATE_FORMATS:
            out["format"] = fmt
            if fmt == "date-time":
                out.setdefault("airbyte_type", "timestamp_with_timezone")
        return out

    def _children(
        self,
        node: dict[str, Any],
        out: dict[str, Any],
        path: DecimalPath,
        depth: int,
        convertible: bool,
    ) -> None:
        props = node.get("properties")
        if isinstance(props, dict):
            out["properties"] = {}
            for name, sub in props.items():
                child = self.node(sub, (*path, name), depth + 1, convertible)
                out["properties"][name] = _nullable(child) if depth >= 1 else child
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):  # false goes: taps add columns; true is the default
            out["additionalProperties"] = self.node(extra, path, depth + 1, False)
        items = node.get("items")
        if isinstance(items, dict):
            out["items"] = _nullable(self.node(items, (*path, ITEMS), depth + 1, convertible))
        for key in ("anyOf", "oneOf", "allOf"):
            branches = node.get(key)
            if isinstance(branches, list) and branches:
                loosened = [self.node(b, path, depth, convertible) for b in branches]
                out.setdefault("allOf" if key == "allOf" else "anyOf", []).extend(loosened)

    def _decimal(self, out: dict[str, Any], path: DecimalPath) -> None:
        declared = out.get("type")
        kinds = [declared] if isinstance(declared, str) else declared
        if kinds is None or "string" not in kinds:
            return  # not declared as text: nothing to convert, and the type already holds
        self.decimals.add(path)
        widened = ["number" if k == "string" else k for k in kinds]
        out["type"] = _unique([*widened, "null"])  # text that is no number arrives as null
        for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
            out.pop(bound, None)  # the tap never held the text to them


def _kept_annotation(key: str, value: Any) -> bool:
    if key in _STRING_ANNOTATIONS:
        return isinstance(value, str)
    if key in _BOOLEAN_ANNOTATIONS:
        return isinstance(value, bool)
    return key in _KEPT or (key == "examples" and isinstance(value, list))


def _clean_type(declared: Any) -> str | list[str] | None:
    if isinstance(declared, str):
        return declared if declared in _TYPES else None
    if isinstance(declared, list):
        if not declared or any(k not in _TYPES for k in declared if isinstance(k, str)):
            return None  # [], "any", "datetime", a nested schema (draft 3): accept anything
        if not all(isinstance(k, str) for k in declared):
            return None
        unique = _unique(declared)
        return unique[0] if len(unique) == 1 and len(declared) == 1 else unique
    return None


def _unique(kinds: list[str]) -> list[str]:
    return list(dict.fromkeys(kinds))


def _types_only(declared: Any) -> dict[str, Any]:
    kinds = _clean_type(declared)
    return {"type": kinds} if kinds is not None else {}


def _with_ref_siblings(out: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Draft 4 and 7 ignore a ``$ref``'s siblings; taps mean them: widen types, keep notes."""
    out = dict(out)
    for key, value in node.items():
        if key not in _REF_SIBLINGS:
            continue
        if key == "type":
            extra = _clean_type(value)
            if extra is not None and "type" in out:
                have = [out["type"]] if isinstance(out["type"], str) else out["type"]
                more = [extra] if isinstance(extra, str) else extra
                out["type"] = _unique([*have, *more])
        elif key in _STRING_ANNOTATIONS and isinstance(value, str):
            out[key] = value
    return out


def _bounds(node: dict[str, Any], out: dict[str, Any]) -> None:
    """Integer bounds, the draft-7 way; other numbers lose theirs (floats round onto them)."""
    kinds = out.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds or []
    if "integer" not in kinds or "number" in kinds:
        return
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        value, flag = node.get(bound), node.get(exclusive)
        if _is_number(value):
            out[exclusive if flag is True else bound] = value
        if _is_number(flag):  # already draft 6+
            out[exclusive] = flag


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _nullable(node: dict[str, Any]) -> dict[str, Any]:
    """The same schema, accepting null too."""
    declared = node.get("type")
    if isinstance(declared, str) and declared != "null":
        node["type"] = [declared, "null"]
    elif isinstance(declared, list) and "null" not in declared:
        node["type"] = [*declared, "null"]
    if "anyOf" in node and {"type": "null"} not in node["anyOf"]:
        node["anyOf"] = [*node["anyOf"], {"type": "null"}]
    if "allOf" in node:
        node["allOf"] = [_nullable(dict(b)) for b in node["allOf"]]
    return node
