"""The schema Airbyte gets is valid draft 7 and accepts every record the tap emits.

Rules one by one, then the invariant over generated draft-4 flavoured Singer schemas and records
that keep to what the tap declared (in exact decimal arithmetic, as the source database means
it) plus the lies real taps tell (NULL array elements, null nested fields, missing keys).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator

from singer_bridge._translate.decimals import decimals_as_numbers
from singer_bridge._translate.schema import airbyte_schema, decimal_fields
from tests.airbyte_check import validate_output
from tests.test_translator import make_translator, translate_to_bytes


def accepts(schema: dict[str, Any], record: dict[str, Any]) -> bool:
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema).is_valid(record)


def converted(schema: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    raw, _ = decimals_as_numbers(json.dumps(record).encode(), decimal_fields(schema))
    result: dict[str, Any] = json.loads(raw)
    return result


# -- the rules, one by one ----------------------------------------------------------------------
def test_multiple_of_goes_because_binary_floats_miss_it() -> None:
    tap = {"properties": {"price": {"type": "number", "multipleOf": 0.001}}}
    assert not Draft7Validator(tap).is_valid({"price": 27.775})  # what the tap's schema says
    assert accepts(airbyte_schema(tap), {"price": 27.775})


def test_draft4_boolean_exclusive_bounds_become_draft7_numbers_on_integers() -> None:
    tap = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "properties": {
            "small": {"type": "integer", "maximum": 128, "exclusiveMaximum": True, "minimum": -1},
            "price": {"type": "number", "maximum": 10, "exclusiveMaximum": True},
        },
    }
    out = airbyte_schema(tap)
    assert out["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert out["properties"]["small"] == {
        "type": "integer",
        "minimum": -1,
        "exclusiveMaximum": 128,
    }
    assert out["properties"]["price"] == {"type": "number"}  # 9.99999999999999999 reads as 10
    assert accepts(out, {"small": 127, "price": 9.99999999999999999})
    assert not accepts(out, {"small": 128})


def test_text_constraints_enum_and_foreign_formats_go_date_formats_stay() -> None:
    tap = {
        "properties": {
            "code": {"type": "string", "maxLength": 2, "pattern": "^\\p{Lu}+$", "enum": ["AB"]},
            "mail": {"type": "string", "format": "email"},
            "day": {"type": "string", "format": "date"},
            "at": {"type": ["null", "string"], "format": "date-time"},
        },
        "required": ["code"],
        "additionalProperties": False,
        "patternProperties": {"^\\p{L}": {"type": "string"}},
    }
    out = airbyte_schema(tap)
    assert out["properties"]["code"] == {"type": "string"}
    assert out["properties"]["mail"] == {"type": "string"}
    assert out["properties"]["day"] == {"type": "string", "format": "date"}
    assert out["properties"]["at"]["airbyte_type"] == "timestamp_with_timezone"
    assert {"required", "additionalProperties", "patternProperties"}.isdisjoint(out)
    assert accepts(out, {"code": "ÄÖÜ", "mail": "not-an-email", "extra": 1})


def test_array_items_and_nested_properties_accept_null() -> None:
    tap = {
        "properties": {
            "tags": {"type": ["null", "array"], "items": {"type": "string"}},
            "owner": {"type": "object", "properties": {"name": {"type": "string"}}},
            "id": {"type": "integer"},
        }
    }
    out = airbyte_schema(tap)
    record = {"tags": ["a", None], "owner": {"name": None}, "id": 1}  # PostgreSQL text[]
    assert not Draft7Validator(tap).is_valid(record)
    assert accepts(out, record)
    assert out["properties"]["id"] == {"type": "integer"}  # top-level columns keep their word


def test_refs_resolve_through_pointers_defs_and_draft4_ids_and_stop_at_recursion() -> None:
    tap = {
        "id": "http://example.com/orders.json",
        "definitions": {
            "money": {"type": ["null", "string"], "format": "singer.decimal"},
            "line": {"type": "object", "properties": {"amount": {"$ref": "#/definitions/money"}}},
            "a/b": {"type": "boolean"},
            "tree": {"type": "object", "properties": {"kids": {"items": {"$ref": "#/$defs/t"}}}},
        },
        "$defs": {"t": {"$ref": "#/definitions/tree"}},
        "properties": {
            "lines": {"type": "array", "items": {"$ref": "#/definitions/line"}},
            "first": {"$ref": "#/definitions/line/properties/amount"},
            "flag": {"$ref": "#/definitions/a~1b"},
            "abs": {"$ref": "http://example.com/orders.json#/definitions/a~1b"},
            "tree": {"$ref": "#/definitions/tree"},
            "self": {"$ref": "#", "description": "the whole order again"},
            "remote": {"$ref": "https://example.com/elsewhere.json"},
        },
    }
    out = airbyte_schema(tap)
    assert "$ref" not in json.dumps(out) and "definitions" not in out and "id" not in out
    props = out["properties"]
    assert set(props["lines"]["items"]["properties"]["amount"]["type"]) == {"number", "null"}
    assert set(props["first"]["type"]) == {"number", "null"}
    assert props["flag"] == props["abs"] == {"type": "boolean"}
    assert props["self"] == {"description": "the whole order again"}  # the root has no type
    assert props["remote"] == {}
    assert decimal_fields(tap) == {("lines", None, "amount"), ("first",)}
    record = {"lines": [{"amount": "1.5"}], "first": "2", "tree": {"kids": [{"kids": []}]}}
    assert accepts(out, converted(tap, record))


def test_refs_resolve_wherever_the_walk_goes_and_unused_definitions_change_nothing() -> None:
    money = {"type": ["null", "string"], "format": "singer.decimal"}
    defs = {"money": money, "loop": {"items": {"$ref": "#/definitions/loop"}}}
    for where in ("anyOf", "oneOf", "allOf"):
        tap = {"definitions": defs, "properties": {"p": {where: [{"$ref": "#/definitions/money"}]}}}
        assert decimal_fields(tap) == {("p",)}, where
    tap = {"definitions": defs, "additionalProperties": {"$ref": "#/definitions/money"}}
    assert airbyte_schema(tap)["additionalProperties"]["type"] == ["null", "string"]
    inner = {"a": {"items": {"$ref": "#/definitions/money"}}}
    nested = {"properties": {"o": {"properties": inner}}}
    assert decimal_fields({"definitions": defs, **nested}) == {("o", "a", None)}
    plain = {"type": "object", "properties": {"id": {"type": "integer"}, "n": money}}
    assert airbyte_schema({**plain, "definitions": defs}) == airbyte_schema(plain)
    assert decimal_fields({**plain, "definitions": defs}) == decimal_fields(plain) == {("n",)}


def test_typeless_empty_and_junk_schemas_accept_anything() -> None:
    assert airbyte_schema({}) == {"type": "object", "properties": {}, "additionalProperties": True}
    out = airbyte_schema(
        {"properties": {"a": {}, "b": {"type": "any"}, "c": True, "d": {"type": ["string", 3]}}}
    )
    assert out["properties"] == {"a": {}, "b": {}, "c": {}, "d": {}}
    assert accepts(out, {"a": [1], "b": {"x": None}, "c": "c", "d": 4})


def test_one_of_becomes_any_of_since_loosened_branches_overlap() -> None:
    tap = {"properties": {"v": {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "string"}]}}}
    out = airbyte_schema(tap)
    assert "oneOf" not in out["properties"]["v"]
    assert accepts(out, {"v": "ab"})


def test_decimals_at_any_depth_and_in_any_of_become_numbers_with_the_same_text() -> None:
    tap = {
        "properties": {
            "total": {"type": "string", "format": "x-singer.decimal"},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "amount": {
                            "anyOf": [
                                {"type": "string", "format": "singer.decimal"},
                                {"type": "null"},
                            ]
                        }
                    },
                },
            },
        }
    }
    assert decimal_fields(tap) == {("total",), ("lines", None, "amount")}
    record = b'{"total":"0.10","lines":[{"amount":"123456789012345678901.50"},{"amount":null}]}'
    raw, nulled = decimals_as_numbers(record, decimal_fields(tap))
    assert raw == b'{"total":0.10,"lines":[{"amount":123456789012345678901.50},{"amount":null}]}'
    assert nulled == []
    assert accepts(airbyte_schema(tap), json.loads(raw))


def test_decimal_text_that_is_no_number_is_nulled_and_the_record_says_so() -> None:
    entry = {
        "tap_stream_id": "prices",
        "schema": {
            "properties": {
                "p": {"type": "array", "items": {"type": "string", "format": "singer.decimal"}}
            }
        },
    }
    lines = [b'{"type":"RECORD","stream":"prices","record":{"p":["1.0","NaN"],"k":"NaN"}}\n']
    out = validate_output(translate_to_bytes(make_translator([entry], incremental=False), lines))
    (record,) = [m["record"] for m in out if m["type"] == "RECORD"]
    assert record["data"] == {"p": [1.0, None], "k": "NaN"}
    assert record["meta"]["changes"] == [
        {"field": "p.1", "change": "NULLED", "reason": "SOURCE_SERIALIZATION_ERROR"}
    ]


def test_a_schema_message_with_nested_decimals_reaches_the_translator() -> None:
    entry = {"tap_stream_id": "s", "schema": {"properties": {"o": {"type": "object"}}}}
    lines = [
        b'{"type":"SCHEMA","stream":"s","key_properties":[],"schema":{"properties":{"o":'
        b'{"type":"object","properties":{"d":{"type":"string","format":"singer.decimal"}}}}}}\n',
        b'{"type":"RECORD","stream":"s","record":{"o":{"d":"7.250"}}}\n',
    ]
    raw = translate_to_bytes(make_translator([entry], incremental=False), lines)
    assert b'"data":{"o":{"d":7.250}}' in raw


# -- the invariant over generated schemas --------------------------------------------------------
Sampler = Callable[[st.DataObject, bool], Any]  # (data, nested) -> a value the tap may emit
Gen = tuple[dict[str, Any], Sampler]
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
DATES = {"date-time": "2024-02-29T12:00:00Z", "date": "2024-02-29", "time": "12:00:00"}


def _maybe_null(kind: str, nullable: bool) -> Any:
    return ["null", kind] if nullable else kind


@st.composite
def integers(draw: st.DrawFn) -> Gen:
    lo, hi = sorted(draw(st.lists(st.integers(-(2**63), 2**64), min_size=2, max_size=2)))
    hi += 2
    ex_lo, ex_hi, nullable = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    schema = {"type": _maybe_null("integer", nullable), "minimum": lo, "maximum": hi}
    schema |= {"exclusiveMinimum": ex_lo, "exclusiveMaximum": ex_hi}  # draft 4 booleans

    def sample(data: st.DataObject, nested: bool) -> Any:
        if nullable and data.draw(st.booleans()):
            return None
        return data.draw(st.integers(lo + 1 if ex_lo else lo, hi - 1 if ex_hi else hi))

    return schema, sample


@st.composite
def numbers(draw: st.DrawFn) -> Gen:
    step = draw(st.sampled_from(["0.001", "0.01", "0.5"]))
    limit = draw(st.integers(1, 10**9))
    schema = {"type": "number", "multipleOf": float(step), "maximum": limit}
    schema |= {"exclusiveMaximum": True, "minimum": -limit, "exclusiveMinimum": True}

    def sample(data: st.DataObject, nested: bool) -> Any:
        top = int(Decimal(limit) / Decimal(step)) - 1
        return float(data.draw(st.integers(-top, top)) * Decimal(step))

    return schema, sample


@st.composite
def strings(draw: st.DrawFn) -> Gen:
    schema: dict[str, Any] = {"type": _maybe_null("string", draw(st.booleans()))}
    fmt = draw(st.sampled_from([None, "email", "uri", "hostname", *DATES]))
    if fmt in DATES:
        schema["format"] = fmt
        return schema, lambda data, nested: DATES[fmt]
    if fmt:
        schema["format"] = fmt
    choice = draw(st.sampled_from(["maxLength", "pattern", "enum"]))
    if choice == "maxLength":
        schema |= {"maxLength": 4, "minLength": 1}
        return schema, lambda data, nested: data.draw(st.text(min_size=1, max_size=4))
    if choice == "pattern":
        schema["pattern"] = draw(st.sampled_from(["^[a-z]+$", "^\\p{Ll}+$", "(?<y>\\d{4})"]))
        return schema, lambda data, nested: "2024" if "d" in schema["pattern"] else "abc"
    schema["enum"] = ["on", "off"]
    return schema, lambda data, nested: data.draw(st.sampled_from(["on", "off"]))


@st.composite
def decimals(draw: st.DrawFn) -> Gen:
    nullable = draw(st.booleans())
    schema = {"type": _maybe_null("string", nullable)}
    schema["format"] = draw(st.sampled_from(["singer.decimal", "x-singer.decimal"]))
    texts = st.decimals(allow_nan=False, allow_infinity=False, places=draw(st.integers(0, 30)))
    values = texts.map(lambda d: format(d, "f")) | st.sampled_from(["NaN", "-Infinity", "1e400"])

    def sample(data: st.DataObject, nested: bool) -> Any:
        return None if nullable and data.draw(st.booleans()) else data.draw(values)

    return schema, sample


def _any_json(data: st.DataObject, nested: bool) -> Any:
    return data.draw(JSON)


LEAVES = st.one_of(
    integers(),
    numbers(),
    strings(),
    decimals(),
    st.just(({"type": "boolean"}, lambda data, nested: data.draw(st.booleans()))),
    st.just(({}, _any_json)),
    st.just(({"type": "any", "description": "draft 3"}, _any_json)),
)


def objects(children: st.SearchStrategy[Gen]) -> st.SearchStrategy[Gen]:
    @st.composite
    def build(draw: st.DrawFn) -> Gen:
        fields = draw(st.dictionaries(st.sampled_from("abcdef"), children, max_size=4))
        required = sorted(draw(st.sets(st.sampled_from(sorted(fields) or ["a"]))) & set(fields))
        closed = draw(st.booleans())
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: sub for name, (sub, _) in fields.items()},
            "required": required,
            "additionalProperties": not closed,
        }

        def sample(data: st.DataObject, nested: bool) -> Any:
            out = {}
            for name, (_, inner) in fields.items():
                if name in required or data.draw(st.booleans()):
                    # a nested field a tap declares NOT NULL still arrives null at times
                    lie = nested and data.draw(st.integers(0, 9)) == 0
                    out[name] = None if lie else inner(data, True)
            return out

        return schema, sample

    return build()


def arrays(children: st.SearchStrategy[Gen]) -> st.SearchStrategy[Gen]:
    def build(child: Gen) -> Gen:
        sub, inner = child
        schema = {"type": ["null", "array"], "items": sub, "uniqueItems": False, "maxItems": 3}

        def sample(data: st.DataObject, nested: bool) -> Any:
            size = data.draw(st.integers(0, 3))
            # PostgreSQL arrays hold NULL elements whatever the tap says of its items
            return [None if data.draw(st.integers(0, 4)) == 0 else inner(data, True)] * size

        return schema, sample

    return children.map(build)


def unions(children: st.SearchStrategy[Gen]) -> st.SearchStrategy[Gen]:
    def build(pair: tuple[str, Gen, Gen]) -> Gen:
        key, (a, sample_a), (b, sample_b) = pair

        def sample(data: st.DataObject, nested: bool) -> Any:
            return (sample_a if data.draw(st.booleans()) else sample_b)(data, nested)

        return {key: [a, b]}, sample

    return st.tuples(st.sampled_from(["anyOf", "oneOf"]), children, children).map(build)


NODES = st.recursive(
    LEAVES, lambda inner: objects(inner) | arrays(inner) | unions(inner), max_leaves=8
)


@st.composite
def singer_schemas(draw: st.DrawFn) -> Gen:
    """A stream schema: some properties behind ``$ref``s into definitions/$defs or pointers."""
    root, sample = draw(objects(NODES))
    defs: dict[str, dict[str, Any]] = {"definitions": {}, "$defs": {}}
    for name, sub in list(root["properties"].items()):
        how = draw(st.sampled_from(["inline", "definitions", "$defs", "pointer"]))
        if how == "inline":
            continue
        if how == "pointer":  # into another definition's properties
            defs["definitions"][f"holder_{name}"] = {"properties": {"inner": sub}}
            root["properties"][name] = {"$ref": f"#/definitions/holder_{name}/properties/inner"}
        else:
            defs[how][f"d_{name}"] = sub
            root["properties"][name] = {"$ref": f"#/{how}/d_{name}", "description": name}
    root |= {k: v for k, v in defs.items() if v}
    if draw(st.booleans()):
        root |= {"$schema": "http://json-schema.org/draft-04/schema#", "id": "http://x.test/s"}
    if draw(st.booleans()):  # a recursive definition, as tree-shaped API payloads have
        root.setdefault("definitions", {})["node"] = {
            "type": "object",
            "properties": {"v": {"type": "integer"}, "next": {"$ref": "#/definitions/node"}},
        }
        root["properties"]["chain"] = {"$ref": "#/definitions/node"}
        inner_sample = sample

        def sample(data: st.DataObject, nested: bool) -> Any:
            record = inner_sample(data, nested)
            record["chain"] = {"v": 1, "next": {"v": 2, "next": {"v": 3}}}
            return record

    return root, sample


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(singer_schemas(), st.data())
def test_translated_schema_is_draft7_and_accepts_every_record_of_the_tap(
    generated: Gen, data: st.DataObject
) -> None:
    tap_schema, sample = generated
    out = airbyte_schema(tap_schema)
    Draft7Validator.check_schema(out)
    record = sample(data, False)
    result = converted(tap_schema, record)
    errors = [e.message for e in Draft7Validator(out).iter_errors(result)]
    assert not errors, (json.dumps(out), result)


@pytest.mark.parametrize("bad", [[], "x", {"properties": []}, {"type": []}])
def test_nonsense_schemas_still_give_a_valid_object_schema(bad: Any) -> None:
    out = airbyte_schema(bad)
    Draft7Validator.check_schema(out)
    assert Draft7Validator(out).is_valid({"anything": [1]})
