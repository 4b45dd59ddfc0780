"""Small pure pieces: log levels, masking, schema normalisation, state parsing, public API."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

import singer_bridge
from singer_bridge._protocol.airbyte import log_message
from singer_bridge._translate.logs import StderrParser
from singer_bridge._translate.masking import Masker, secret_values
from singer_bridge._translate.schema import airbyte_schema
from singer_bridge._translate.state import singer_state_from_airbyte
from singer_bridge._writer import Writer
from singer_bridge.errors import ConfigError


@pytest.mark.parametrize(
    ("line", "level"),
    [
        ("2024-06-01 10:00:00,123 | INFO     | tap-github | Beginning sync", "INFO"),
        ("2024-06-01 10:00:00,123 | ERROR    | tap-github.repos | HTTP 500", "ERROR"),
        ("WARNING:root:deprecated option", "WARN"),
        ("CRITICAL boom", "FATAL"),
        ("INFO Syncing stream: users", "INFO"),
        ("time=2024-06-01 10:00:00 name=tap_postgres level=WARNING message=slow query", "WARN"),
        ('{"level": "debug", "event": "x"}', "DEBUG"),
        ('{"levelname": "ERROR", "message": "x"}', "ERROR"),
        ("2024-06-01T10:00:00Z ERROR something", "ERROR"),
        ("just text", "INFO"),
    ],
)
def test_stderr_levels(line: str, level: str) -> None:
    assert StderrParser().parse(line) == (level, line)


def test_traceback_lines_are_errors_until_the_exception_line() -> None:
    parser = StderrParser()
    lines = [
        "Traceback (most recent call last):",
        '  File "tap.py", line 1, in <module>',
        "KeyError: 'x'",
        "INFO recovered",
    ]
    assert [parser.parse(line)[0] for line in lines] == ["ERROR", "ERROR", "ERROR", "INFO"]


def test_secrets_from_spec_flags_and_credential_names() -> None:
    spec = {"properties": {"conn": {"properties": {"dsn_part": {"airbyte_secret": True}}}}}
    config = {"conn": {"dsn_part": "abc123"}, "api_key": "k-999", "user": "bob", "n": 1}
    assert secret_values(config, spec) == {"abc123", "k-999"}
    masker = Masker.from_config(config, spec)
    assert masker.mask('{"api_key": "k-999"} abc123 bob') == '{"api_key": "****"} **** bob'


def test_masking_covers_json_escaped_secrets() -> None:
    masker = Masker({'pa"ss\\word'})
    assert masker.mask('config {"password": "pa\\"ss\\\\word"}') == 'config {"password": "****"}'


def test_schema_inlines_nested_and_recursive_refs() -> None:
    schema = {
        "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}},
        "properties": {"tree": {"$ref": "#/$defs/node"}, "tags": {"items": {"$ref": "#/$defs/x"}}},
    }
    out = airbyte_schema(schema)
    assert out["type"] == "object"
    # a nested property also accepts null; the recursion keeps its target's type
    assert out["properties"]["tree"]["properties"]["child"]["type"] == ["object", "null"]
    assert "$ref" not in str(out)
    assert out["properties"]["tags"]["items"] == {}


def test_schema_drops_singer_catalog_keys_and_handles_empty() -> None:
    assert airbyte_schema({}) == {"type": "object", "properties": {}, "additionalProperties": True}
    out = airbyte_schema(
        {"selected": True, "properties": {"a": {"inclusion": "automatic", "type": "string"}}}
    )
    assert out == {"properties": {"a": {"type": "string"}}, "type": "object"}


def test_state_rejects_non_message_items_with_a_named_error() -> None:
    with pytest.raises(ConfigError, match=r"state\.json: item #1"):
        singer_state_from_airbyte([{"type": "STREAM"}, 5], {}, "state.json")
    with pytest.raises(ConfigError, match="unknown state type"):
        singer_state_from_airbyte([{"type": "WHAT"}], {}, "state.json")


def test_state_for_streams_the_tap_no_longer_has_is_dropped() -> None:
    state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "gone"}, "stream_state": {"a": 1}},
        }
    ]
    assert singer_state_from_airbyte(state, {("here", None): "here"}) == {}


def test_public_api_is_curated() -> None:
    modules = {name for name in dir(singer_bridge) if not name.startswith("_")}
    modules -= set(singer_bridge.__all__)
    # everything public that is not in __all__ must be a submodule, not a stray name
    import types

    assert all(isinstance(getattr(singer_bridge, n), types.ModuleType) for n in modules), modules
    for name in singer_bridge.__all__:
        assert hasattr(singer_bridge, name), name


def test_tap_settings_schemas_are_repaired_into_valid_draft7() -> None:
    import jsonschema

    from singer_bridge._translate.spec import spec_from_about

    settings = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "maps": {
                "type": "object",
                "additionalProperties": {"anyOf": [{"type": "string"}, "null"]},
            },
            "token": {"type": "string", "writeOnly": True},
        },
    }
    spec = spec_from_about({"name": "tap-x", "settings": settings})["connectionSpecification"]
    jsonschema.Draft7Validator.check_schema(spec)
    assert spec["properties"]["maps"]["additionalProperties"]["anyOf"][1] == {"type": "null"}
    assert spec["properties"]["token"]["airbyte_secret"] is True


def test_bridge_config_errors_name_the_file_and_field(tmp_path: Path) -> None:
    from singer_bridge._tap.bridge_config import load_bridge_config

    bad = tmp_path / "bridge.toml"
    bad.write_text('state_mode = "sideways"\n')
    with pytest.raises(ConfigError, match=r"bridge\.toml.*state_mode"):
        load_bridge_config(bad)
    bad.write_text("state_mode = \n")  # no TOML at all
    with pytest.raises(ConfigError, match=r"bridge\.toml' is not valid"):
        load_bridge_config(bad)
    bad.write_text('catalog_file = "cat.json"\n[streams.users]\nprimary_key = [["id"]]\n')
    config = load_bridge_config(bad)
    assert config.catalog_file == tmp_path / "cat.json"
    assert config.streams["users"].primary_key == [["id"]]
    bad.write_text("surprise = 1\n")
    with pytest.raises(ConfigError, match="surprise"):
        load_bridge_config(bad)


def test_signed_urls_are_masked_in_log_and_trace_lines_whatever_the_config() -> None:
    out = io.BytesIO()
    writer = Writer(out)
    writer.mask_with(Masker.from_config({"page_size": 10}, None).mask)
    url = "https://b.s3.amazonaws.com/r.csv?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12"
    writer.write(log_message("ERROR", f"download of {url} failed"))
    writer.write(b'{"type":"RECORD","record":{"data":{"u":"' + url.encode() + b'"}}}\n')
    log, record = out.getvalue().decode().splitlines()
    assert "AKIA" not in log and "ab12" not in log and "X-Amz-Signature=****" in log
    assert url in record  # record data is the source's, never rewritten


@pytest.mark.timeout(60)  # a hang guard: the old pattern took hours on this (quadratic)
@pytest.mark.parametrize(
    "value",
    ["z" * (3 << 20), "s3://" + "a" * (3 << 20), "pg://u:" + "p" * (3 << 20), "a://" * 500_000],
)
def test_a_huge_config_value_is_searched_for_url_passwords_in_linear_time(value: str) -> None:
    # a 3 MB value with no URL in it (a key file, a blob) once hung every command
    config = {"blob": value, "database_url": "postgresql://app:p%40ss-9@db:5432/shop"}
    assert secret_values(config, {}) >= {"p%40ss-9", "p@ss-9"}
