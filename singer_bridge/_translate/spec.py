"""Connector specs: from a tap's ``--about --format=json`` settings, a spec file, or permissive.

>>> spec_from_about({"name": "tap-x", "settings": {"type": "object", "properties": {
...     "token": {"type": "string", "secret": True}}}})["connectionSpecification"]["properties"]
{'token': {'type': 'string', 'secret': True, 'airbyte_secret': True}}
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from singer_bridge.errors import ConfigError

JSON_SCHEMA_DRAFT = "http://json-schema.org/draft-07/schema#"


def permissive_spec(title: str = "Singer tap") -> dict[str, Any]:
    """For taps that cannot describe their settings: any object is accepted."""
    return {
        "connectionSpecification": {
            "$schema": JSON_SCHEMA_DRAFT,
            "title": title,
            "type": "object",
            "properties": {},
            "additionalProperties": True,
        }
    }


def mark_secrets(node: Any) -> Any:
    """Copy of a JSON schema where ``secret``/``writeOnly`` properties get ``airbyte_secret``."""
    if isinstance(node, list):
        return [mark_secrets(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: mark_secrets(value) for key, value in node.items()}
    if out.get("secret") is True or out.get("writeOnly") is True:
        out["airbyte_secret"] = True
    return out


def spec_from_about(about: dict[str, Any]) -> dict[str, Any]:
    settings = about.get("settings")
    title = str(about.get("name") or "Singer tap")
    if isinstance(settings, list):  # older about format: a list of named settings
        settings = _settings_list_to_schema(settings)
    if not isinstance(settings, dict):
        return permissive_spec(title)
    schema = repair_schema(mark_secrets(copy.deepcopy(settings)))
    schema["$schema"] = JSON_SCHEMA_DRAFT  # what Airbyte clients validate configs with
    schema.setdefault("title", title)
    schema.setdefault("type", "object")
    schema.setdefault("properties", {})
    spec: dict[str, Any] = {"connectionSpecification": schema}
    url = about.get("documentation_url") or about.get("documentationUrl")
    if isinstance(url, str) and url:
        spec["documentationUrl"] = url
    return spec


_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_VALUES = ("items", "additionalProperties", "not", "if", "then", "else", "contains")


def repair_schema(node: Any) -> Any:
    """Make a tap's settings schema a valid JSON schema, which clients check before use.

    Taps ship schemas with a bare type name where a subschema belongs (singer-sdk's
    ``stream_maps`` has ``"anyOf": [..., "null"]``); such a name becomes ``{"type": name}``
    and anything else that is not a schema becomes ``{}`` (accept anything).
    """
    if isinstance(node, bool):
        return node
    if isinstance(node, str):
        return {"type": node}
    if not isinstance(node, dict):
        return {}
    out = dict(node)
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: repair_schema(sub) for name, sub in out[key].items()}
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [repair_schema(sub) for sub in out[key]]
    for key in _SCHEMA_VALUES:
        if key in out and not (key == "items" and isinstance(out[key], list)):
            out[key] = repair_schema(out[key])
    return out


def _settings_list_to_schema(settings: list[Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required = []
    for item in settings:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        kind = str(item.get("kind") or "string")
        prop: dict[str, Any] = {
            "type": {"integer": "integer", "boolean": "boolean"}.get(kind, "string")
        }
        if kind in ("password", "secret") or item.get("sensitive") or item.get("secret"):
            prop["airbyte_secret"] = True
        if item.get("description"):
            prop["description"] = item["description"]
        props[str(item["name"])] = prop
        if item.get("required"):
            required.append(str(item["name"]))
    return {"type": "object", "properties": props, "required": required}


def load_spec_file(path: Path) -> dict[str, Any]:
    """A spec file holds either a whole spec or only the connection specification schema."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"spec file '{path}' cannot be read: {exc.strerror}") from exc
    except ValueError as exc:
        raise ConfigError(f"spec file '{path}' is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"spec file '{path}' must hold a JSON object")
    if isinstance(doc.get("spec"), dict):
        doc = doc["spec"]
    if "connectionSpecification" in doc:
        return {**doc, "connectionSpecification": mark_secrets(doc["connectionSpecification"])}
    return {"connectionSpecification": mark_secrets(doc)}


def validate_config(config: dict[str, Any], schema: Any, source: str) -> None:
    """Raise ``ConfigError`` naming each field of ``config`` that breaks the spec's schema.

    Values are never quoted: a wrong-typed secret must not end up in an error message.
    """
    if not isinstance(schema, dict) or not (schema.get("properties") or schema.get("required")):
        return
    import jsonschema  # imported here: only configs with a real spec pay for it

    validator_cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    # Taps' own schemas are often not valid against their metaschema in some corner (singer-sdk's
    # stream_maps, say); validate anyway and let a schema we cannot apply pass to the tap.
    try:
        found = sorted(validator_cls(schema).iter_errors(config), key=lambda e: list(e.path))
    except (jsonschema.SchemaError, jsonschema.exceptions.UnknownType, TypeError, KeyError):
        return
    problems = []
    for error in found:
        field = ".".join(str(p) for p in error.absolute_path) or "(top level)"
        problems.append(f"{field}: {_describe(error)}")
    if problems:
        raise ConfigError(
            f"config file '{source}' does not match the connector spec: " + "; ".join(problems[:10])
        )


def _describe(error: Any) -> str:
    if error.validator == "required":
        return f"missing required property {error.message.split(chr(39))[1]!r}"
    if error.validator == "type":
        return f"must be of type {error.validator_value}"
    if error.validator == "enum":
        return f"must be one of {error.validator_value}"
    return str(error.validator) + " constraint not met"
