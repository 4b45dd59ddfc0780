"""Validate protocol output three ways: the official pydantic models, the protocol's own JSON
Schema (from ../shared/protocol), and the rules both of those let through (a payload per type,
integer ``emitted_at``)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import yaml
from airbyte_protocol.models import AirbyteMessage

REPO = Path(__file__).resolve().parent.parent
PROTOCOL_DIR = REPO.parent / "shared" / "protocol"
_PAYLOAD = {
    "RECORD": "record",
    "STATE": "state",
    "LOG": "log",
    "SPEC": "spec",
    "CONNECTION_STATUS": "connectionStatus",
    "CATALOG": "catalog",
    "TRACE": "trace",
    "CONTROL": "control",
}


@cache
def _validator() -> jsonschema.protocols.Validator:
    doc = yaml.safe_load((PROTOCOL_DIR / "airbyte_protocol.yaml").read_text())
    schema = {"$ref": "#/definitions/AirbyteMessage", "definitions": doc["definitions"]}
    cls = jsonschema.validators.validator_for(doc)
    return cls(schema)


def validate_message(line: str | bytes) -> dict[str, Any]:
    """Parse and validate one stdout line; return it as a dict. Raises on any problem."""
    text = line.decode() if isinstance(line, bytes) else line
    message = json.loads(text)
    AirbyteMessage.model_validate(message)
    _validator().validate(message)
    kind = message["type"]
    assert _PAYLOAD[kind] in message, f"{kind} message without its payload: {text[:200]}"
    if kind == "RECORD":
        assert isinstance(message["record"]["emitted_at"], int), "emitted_at must be an integer"
        assert isinstance(message["record"]["data"], dict)
    return message


def validate_output(stdout: str | bytes) -> list[dict[str, Any]]:
    text = stdout.decode() if isinstance(stdout, bytes) else stdout
    return [validate_message(line) for line in text.split("\n") if line.strip()]


def by_type(messages: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [m for m in messages if m["type"] == kind]


def records(messages: list[dict[str, Any]], stream: str | None = None) -> list[dict[str, Any]]:
    return [
        m["record"]["data"]
        for m in messages
        if m["type"] == "RECORD" and (stream is None or m["record"]["stream"] == stream)
    ]


def stream_statuses(messages: list[dict[str, Any]], stream: str) -> list[str]:
    return [
        m["trace"]["stream_status"]["status"]
        for m in messages
        if m["type"] == "TRACE"
        and m["trace"]["type"] == "STREAM_STATUS"
        and m["trace"]["stream_status"]["stream_descriptor"]["name"] == stream
    ]


def errors(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        m["trace"]["error"]
        for m in messages
        if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"
    ]


def final_states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last STATE message per stream, as a state file for the next read."""
    last: dict[tuple[str, str | None], dict[str, Any]] = {}
    for m in by_type(messages, "STATE"):
        state = m["state"]
        descriptor = state["stream"]["stream_descriptor"]
        last[(descriptor["name"], descriptor.get("namespace"))] = {
            "type": "STREAM",
            "stream": state["stream"],
        }
    return list(last.values())


# Airbyte's connector metadata (ConnectorMetadataDefinitionV0, metadata_service in the airbyte
# repository): its required fields, the types and enums of the fields a folder writes, and no
# field it does not know.
METADATA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["metadataSpecVersion", "data"],
    "additionalProperties": False,
    "properties": {
        "metadataSpecVersion": {"type": "string"},
        "data": {
            "type": "object",
            "required": [
                "name",
                "definitionId",
                "connectorType",
                "dockerRepository",
                "dockerImageTag",
                "license",
                "documentationUrl",
                "githubIssueLabel",
                "connectorSubtype",
                "releaseStage",
            ],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "definitionId": {"type": "string", "format": "uuid"},
                "connectorType": {"enum": ["source", "destination"]},
                "dockerRepository": {"type": "string"},
                "dockerImageTag": {"type": "string"},
                "license": {"type": "string"},
                "documentationUrl": {"type": "string", "format": "uri"},
                "githubIssueLabel": {"type": "string"},
                "connectorSubtype": {
                    "enum": [
                        *("api", "database", "datalake", "file", "custom"),
                        *("message_queue", "unknown", "vectorstore"),
                    ]
                },
                "releaseStage": {"enum": ["alpha", "beta", "generally_available", "custom"]},
                "supportLevel": {"enum": ["community", "certified", "archived"]},
                "tags": {"type": "array", "items": {"type": "string"}},
            },
        },
    },
}


def validate_metadata(text: str) -> dict[str, Any]:
    """A ``metadata.yaml``, parsed and checked against METADATA_SCHEMA (formats too)."""
    doc: dict[str, Any] = yaml.safe_load(text)
    jsonschema.Draft7Validator(METADATA_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(
        doc
    )
    assert urlsplit(doc["data"]["documentationUrl"]).scheme in ("http", "https")
    return doc


def check_schemas_and_records(
    catalog: dict[str, Any], messages: list[dict[str, Any]]
) -> dict[tuple[str, str | None], int]:
    """Every stream schema of a discovered catalog is valid draft 7, and every RECORD in
    ``messages`` is valid under its stream's schema. Returns the records checked per stream."""
    validators: dict[tuple[str, str | None], jsonschema.Draft7Validator] = {}
    for stream in catalog["streams"]:
        jsonschema.Draft7Validator.check_schema(stream["json_schema"])
        key = (stream["name"], stream.get("namespace"))
        validators[key] = jsonschema.Draft7Validator(stream["json_schema"])
    checked: dict[tuple[str, str | None], int] = {}
    for m in by_type(messages, "RECORD"):
        record = m["record"]
        key = (record["stream"], record.get("namespace"))
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validators[key].iter_errors(record["data"])
        ]
        assert not problems, f"a {key} record breaks its schema: {problems[:3]} {record['data']}"
        checked[key] = checked.get(key, 0) + 1
    return checked
