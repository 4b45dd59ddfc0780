"""The Airbyte CLI contract end to end, over a scripted Singer tap."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from tests.airbyte_check import (
    by_type,
    errors,
    final_states,
    records,
    stream_statuses,
)
from tests.scripted import bridge, configured_catalog, discover, singer_entry, write_json

USERS = singer_entry(
    "public-users",
    {
        "id": {"type": "integer"},
        "updated_at": {"type": "string", "format": "date-time"},
        "amount": {"type": ["null", "number"]},
    },
    stream="users",
    keys=["id"],
    md={"schema-name": "public"},
)
ORDERS = singer_entry(
    "orders",
    {"customer_id": {"type": "integer"}, "order_id": {"type": "integer"}, "at": {"type": "string"}},
    keys=["customer_id", "order_id"],
    replication_key="at",
)
CATALOG = {"streams": [USERS, ORDERS]}
RAW_BIG_NUMBERS = (
    '{"type":"RECORD","stream":"users","record":{"id":9007199254740993,"amount":1234.50}}\n'
)


def rec(stream: str, record: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": record, **extra}


def state(bookmarks: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "STATE", "value": {"bookmarks": bookmarks, **extra}}


def script(messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"catalog": CATALOG, "messages": messages, **extra}


def test_spec_marks_secret_settings_as_airbyte_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    about = {
        "name": "tap-x",
        "capabilities": ["catalog", "discover"],
        "settings": {
            "type": "object",
            "properties": {
                "token": {"type": "string", "secret": True},
                "n": {"type": "integer"},
                "db": {
                    "type": "object",
                    "properties": {
                        "password": {"type": "string", "writeOnly": True},
                        "user": {"type": "string"},
                    },
                },
            },
            "required": ["token"],
        },
    }
    # spec runs --about without --config: the scripted tap then prints $TAP_SCRIPTED_ABOUT
    (tmp_path / "about.json").write_text(json.dumps(about))
    monkeypatch.setenv("TAP_SCRIPTED_ABOUT", str(tmp_path / "about.json"))
    run = bridge(tmp_path, script([]), "spec")
    assert run.code == 0
    props = by_type(run.messages, "SPEC")[0]["spec"]["connectionSpecification"]["properties"]
    assert props["token"]["airbyte_secret"] is True
    assert props["db"]["properties"]["password"]["airbyte_secret"] is True  # nested, writeOnly
    assert "airbyte_secret" not in props["n"]
    assert "airbyte_secret" not in props["db"]["properties"]["user"]


def test_spec_from_a_spec_file_through_the_bridge_config(tmp_path: Path) -> None:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps({"type": "object", "properties": {"pw": {"writeOnly": True}}}))
    (tmp_path / "bridge.json").write_text(json.dumps({"spec_file": "spec.json"}))
    run = bridge(tmp_path, script([]), "spec", **{"bridge-config": tmp_path / "bridge.json"})
    props = by_type(run.messages, "SPEC")[0]["spec"]["connectionSpecification"]["properties"]
    assert props["pw"]["airbyte_secret"] is True


def test_check_succeeds_when_discovery_works(tmp_path: Path) -> None:
    run = bridge(tmp_path, script([]), "check")
    status = by_type(run.messages, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert (run.code, status["status"]) == (0, "SUCCEEDED")


def test_check_fails_with_the_taps_own_error_and_masks_secrets(tmp_path: Path) -> None:
    bad = script(
        [],
        discover_exit_code=1,
        password="s3cr3t-value",
        stderr=["CRITICAL password authentication failed for s3cr3t-value"],
    )
    run = bridge(tmp_path, bad, "check")
    status = by_type(run.messages, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED"
    assert "password authentication failed" in status["message"]
    assert "s3cr3t-value" not in run.stdout.decode()


@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "does not exist"), ("", "is empty"), ("{nope", "not valid JSON"), ("[1]", "object")],
)
def test_bad_config_file_names_the_file(tmp_path: Path, content: str | None, problem: str) -> None:
    config = tmp_path / "broken.json"
    if content is not None:
        config.write_text(content)
    check = bridge(tmp_path, script([]), "check")  # writes a good config.json, then:
    from tests.scripted import SCRIPTED_TAP, launch_to_messages

    for command, extra in (("check", []), ("read", ["--catalog", str(config)])):
        code, messages = launch_to_messages(
            ["--tap", " ".join(SCRIPTED_TAP), command, "--config", str(config), *extra]
        )
        text = json.dumps(messages)
        assert "broken.json" in text and problem in text
        if command == "check":
            assert (
                code == 0
                and by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]["status"]
                == "FAILED"
            )
        else:
            assert code == 1 and errors(messages)[0]["failure_type"] == "config_error"
    assert check.code == 0


def test_discover_maps_namespaces_keys_sync_modes_and_cursors(tmp_path: Path) -> None:
    catalog = discover(tmp_path, script([]))
    users, orders = catalog["streams"]
    assert (users["name"], users["namespace"]) == ("users", "public")
    assert users["source_defined_primary_key"] == [["id"]]
    # SQL-style streams (schema-name) allow a user-chosen cursor
    assert users["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert users["source_defined_cursor"] is False
    assert users["json_schema"]["properties"]["updated_at"]["airbyte_type"] == (
        "timestamp_with_timezone"
    )
    assert orders["source_defined_primary_key"] == [["customer_id"], ["order_id"]]
    assert orders["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert (orders["source_defined_cursor"], orders["default_cursor_field"]) == (True, ["at"])
    assert "namespace" not in orders


def test_discover_handles_unset_methods_refs_and_empty_schemas(tmp_path: Path) -> None:
    odd = {
        "streams": [
            {
                "tap_stream_id": "a",
                "stream": "a",
                "replication_method": "",
                "replication_key": "",
                "schema": {
                    "definitions": {"money": {"type": "string", "format": "singer.decimal"}},
                    "properties": {"price": {"$ref": "#/definitions/money"}, "free": {}},
                },
                "metadata": [{"breadcrumb": [], "metadata": {"forced-replication-method": ""}}],
            },
            {"tap_stream_id": "b", "stream": "b", "schema": {}, "metadata": []},
        ]
    }
    catalog = discover(tmp_path, {"catalog": odd})
    a, b = catalog["streams"]
    assert a["supported_sync_modes"] == ["full_refresh"]
    # a decimal whose text is no number arrives as null (with meta.changes)
    assert a["json_schema"]["properties"]["price"] == {"type": ["number", "null"]}
    assert a["json_schema"]["properties"]["free"] == {}
    assert b["json_schema"]["type"] == "object"


def test_full_refresh_read_delivers_records_states_and_statuses(tmp_path: Path) -> None:
    messages = [
        state({}),  # STATE before any SCHEMA
        {"type": "STATE", "value": {}},
        {"type": "SCHEMA", "stream": "users", "schema": USERS["schema"], "key_properties": ["id"]},
        {"raw": RAW_BIG_NUMBERS},
        rec("public-users", {"id": 2, "amount": None}, time_extracted="2024-05-01T10:00:00+00:00"),
        state({"public-users": {"replication_key_value": 2}}, currently_syncing="public-users"),
        rec("orders", {"customer_id": 1, "order_id": 7, "at": "2024"}),
        {"type": "ACTIVATE_VERSION", "stream": "orders", "version": 12},
    ]
    tmp = tmp_path
    catalog = configured_catalog(discover(tmp, script(messages)), incremental=False)
    run = bridge(tmp, script(messages), "read", catalog=catalog)
    assert run.code == 0
    assert b'"data":{"id":9007199254740993,"amount":1234.50}' in run.stdout
    users = [m for m in by_type(run.messages, "RECORD") if m["record"]["stream"] == "users"]
    assert [u["record"]["namespace"] for u in users] == ["public", "public"]
    assert users[1]["record"]["emitted_at"] == 1714557600000
    assert stream_statuses(run.messages, "users") == ["STARTED", "RUNNING", "COMPLETE"]
    assert stream_statuses(run.messages, "orders") == ["STARTED", "RUNNING", "COMPLETE"]
    states = [m["state"] for m in by_type(run.messages, "STATE")]
    assert states[0]["stream"]["stream_state"] == {"replication_key_value": 2}
    assert states[0]["sourceStats"]["recordCount"] == 2
    # orders had a record after the last STATE: a closing state commits it
    assert states[-1]["stream"]["stream_descriptor"] == {"name": "orders"}
    assert states[-1]["sourceStats"]["recordCount"] == 1


def test_read_selects_streams_fields_and_replication_in_every_dialect(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    tap = script([], record_inputs=str(inputs))
    discovered = discover(tmp_path, tap)
    catalog = configured_catalog(discovered, only=["orders"])
    catalog["streams"][0]["stream"]["json_schema"]["properties"].pop("at")
    catalog["streams"][0]["stream"]["json_schema"]["properties"]["at"] = {"type": "string"}
    run = bridge(tmp_path, tap, "read", catalog=catalog)
    assert run.code == 0
    got = json.loads(inputs.read_text())
    users, orders = got["catalog"]["streams"]
    assert users["selected"] is False and users["schema"]["selected"] is False
    assert users["metadata"][0]["metadata"]["selected"] is False
    root = orders["metadata"][0]["metadata"]
    assert root["selected"] is True and orders["schema"]["selected"] is True
    assert (root["replication-method"], root["replication-key"]) == ("INCREMENTAL", "at")
    assert (orders["replication_method"], orders["replication_key"]) == ("INCREMENTAL", "at")
    assert "--catalog" in got["argv"]


def test_narrowed_configured_schema_deselects_fields(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    tap = script([], record_inputs=str(inputs))
    catalog = configured_catalog(discover(tmp_path, tap), incremental=False, only=["users"])
    catalog["streams"][0]["stream"]["json_schema"]["properties"].pop("amount")
    assert bridge(tmp_path, tap, "read", catalog=catalog).code == 0
    users = json.loads(inputs.read_text())["catalog"]["streams"][0]
    fields = {
        m["breadcrumb"][1]: m["metadata"]["selected"] for m in users["metadata"] if m["breadcrumb"]
    }
    assert fields == {"id": True, "updated_at": True, "amount": False}


@pytest.mark.parametrize("flag", ["--properties", "both"])
def test_catalog_flag_from_the_bridge_config(tmp_path: Path, flag: str) -> None:
    inputs = tmp_path / "inputs.json"
    tap = script([], record_inputs=str(inputs))
    catalog = configured_catalog(discover(tmp_path, tap))
    (tmp_path / "bridge.json").write_text(json.dumps({"catalog_flag": flag}))
    run = bridge(
        tmp_path, tap, "read", catalog=catalog, **{"bridge-config": tmp_path / "bridge.json"}
    )
    assert run.code == 0
    argv = json.loads(inputs.read_text())["argv"]
    assert "--properties" in argv
    assert ("--catalog" in argv) == (flag == "both")


def test_a_schema_override_in_the_bridge_config_corrects_a_wrong_tap_schema(
    tmp_path: Path,
) -> None:
    """pipelinewise-tap-postgres types a ``json`` column as object|array and emits a JSON
    string: ``streams.NAME.schema`` corrects the property in discovery, in the catalog the tap
    is given and over its SCHEMA messages (here a decimal the tap's SCHEMA declares)."""
    wrong = {
        "id": {"type": "integer"},
        "doc": {"type": ["null", "object", "array"]},
        "price": {"type": ["null", "string"], "format": "singer.decimal"},
    }
    inputs = tmp_path / "inputs.json"
    record = {"id": 1, "doc": '{"a": 1}', "price": "1.10"}
    tap = {
        "catalog": {"streams": [singer_entry("docs", wrong, keys=["id"])]},
        "messages": [
            {"type": "SCHEMA", "stream": "docs", "schema": {"properties": wrong}},
            {"type": "RECORD", "stream": "docs", "record": record},
        ],
        "record_inputs": str(inputs),
    }
    string = {"type": ["null", "string"]}
    overrides = {"streams": {"docs": {"schema": {"doc": string, "price": string}}}}
    bridge_config = {"bridge-config": write_json(tmp_path / "bridge.json", overrides)}
    found = bridge(tmp_path, tap, "discover", **bridge_config)
    catalog = next(m["catalog"] for m in found.messages if m["type"] == "CATALOG")
    properties = catalog["streams"][0]["json_schema"]["properties"]
    assert properties["doc"] == properties["price"] == string
    assert properties["id"] == {"type": "integer"}

    run = bridge(tmp_path, tap, "read", catalog=configured_catalog(catalog), **bridge_config)
    assert run.code == 0
    given = json.loads(inputs.read_text())["catalog"]["streams"][0]["schema"]["properties"]
    assert given["doc"]["type"] == given["price"]["type"] == ["null", "string"]
    assert [m["record"]["data"] for m in run.messages if m["type"] == "RECORD"] == [record]


AIRBYTE_STATES: list[tuple[str, Any]] = [
    (
        "stream with explicit nulls",
        [
            {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": {"name": "orders", "namespace": None},
                    "stream_state": {"at": "2024-02"},
                },
                "global_": None,
                "data": None,
            },
            {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": {"name": "users", "namespace": "public"},
                    "stream_state": {"replication_key_value": 5},
                },
            },
        ],
    ),
    (
        "global",
        [
            {
                "type": "GLOBAL",
                "global": {
                    "shared_state": {"lsn": 7},
                    "stream_states": [
                        {
                            "stream_descriptor": {"name": "orders"},
                            "stream_state": {"at": "2024-02"},
                        },
                        {
                            "stream_descriptor": {"name": "users", "namespace": "public"},
                            "stream_state": {"replication_key_value": 5},
                        },
                    ],
                },
            }
        ],
    ),
    (
        "legacy",
        {
            "type": "LEGACY",
            "data": {
                "bookmarks": {
                    "orders": {"at": "2024-02"},
                    "public-users": {"replication_key_value": 5},
                }
            },
        },
    ),
    (
        "bare singer state",
        {"bookmarks": {"orders": {"at": "2024-02"}, "public-users": {"replication_key_value": 5}}},
    ),
]


@pytest.mark.parametrize(
    ("label", "airbyte_state"), AIRBYTE_STATES, ids=[s[0] for s in AIRBYTE_STATES]
)
def test_airbyte_state_reaches_the_tap_as_singer_bookmarks(
    tmp_path: Path, label: str, airbyte_state: Any
) -> None:
    inputs = tmp_path / "inputs.json"
    tap = script([], record_inputs=str(inputs))
    catalog = configured_catalog(discover(tmp_path, tap))
    catalog["streams"][0]["cursor_field"] = ["updated_at"]  # users: a user-chosen cursor
    run = bridge(tmp_path, tap, "read", catalog=catalog, state=airbyte_state)
    assert run.code == 0, run.stdout
    bookmarks = json.loads(inputs.read_text())["state"]["bookmarks"]
    assert bookmarks["orders"] == {"at": "2024-02"}
    assert bookmarks["public-users"] == {"replication_key_value": 5}


def test_empty_state_passes_no_state_and_full_refresh_drops_bookmarks(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    tap = script([], record_inputs=str(inputs))
    discovered = discover(tmp_path, tap)
    assert bridge(tmp_path, tap, "read", catalog=configured_catalog(discovered), state=[]).code == 0
    assert "--state" not in json.loads(inputs.read_text())["argv"]
    full = configured_catalog(discovered, incremental=False)
    run = bridge(tmp_path, tap, "read", catalog=full, state=AIRBYTE_STATES[0][1])
    assert run.code == 0
    got = json.loads(inputs.read_text())
    assert "--state" not in got["argv"] or got["state"].get("bookmarks") == {}


def test_state_round_trips_through_a_second_read(tmp_path: Path) -> None:
    messages = [
        rec("orders", {"customer_id": 1, "order_id": 1, "at": "2024-01"}),
        state({"orders": {"at": "2024-01"}}, shared_cursor={"lsn": 9}),
    ]
    inputs = tmp_path / "inputs.json"
    tap = script(messages, record_inputs=str(inputs))
    catalog = configured_catalog(discover(tmp_path, tap))
    first = bridge(tmp_path, tap, "read", catalog=catalog)
    second = bridge(tmp_path, tap, "read", catalog=catalog, state=final_states(first.messages))
    assert second.code == 0
    assert json.loads(inputs.read_text())["state"] == {
        "currently_syncing": None,
        "bookmarks": {"orders": {"at": "2024-01"}},
        "shared_cursor": {"lsn": 9},
    }


def test_failing_tap_delivers_every_record_then_fails_incomplete(tmp_path: Path) -> None:
    messages = [rec("orders", {"customer_id": 1, "order_id": i, "at": "x"}) for i in range(5)]
    messages.insert(3, state({"orders": {"at": "x"}}))
    tap = script(messages, exit_code=3, stderr=["ERROR boom: the API went away"])
    run = bridge(tmp_path, tap, "read", catalog=configured_catalog(discover(tmp_path, tap)))
    assert run.code == 1
    assert [r["order_id"] for r in records(run.messages, "orders")] == [0, 1, 2, 3, 4]
    states = by_type(run.messages, "STATE")
    assert len(states) == 1 and states[0]["state"]["sourceStats"]["recordCount"] == 3
    assert stream_statuses(run.messages, "orders")[-1] == "INCOMPLETE"
    (error,) = errors(run.messages)
    assert error["failure_type"] == "system_error"
    assert "exited with code 3" in error["message"]
    assert "the API went away" in error["message"] + error["internal_message"]
    assert run.messages[-1]["type"] == "TRACE"


def test_failing_tap_through_the_console_script_exits_non_zero(tmp_path: Path) -> None:
    tap = script([rec("orders", {"customer_id": 1, "order_id": 1})], exit_code=2)
    catalog = configured_catalog(discover(tmp_path, tap))
    run = bridge(tmp_path, tap, "read", catalog=catalog, subprocess_run=True)
    assert run.code == 1
    assert len(records(run.messages)) == 1


def test_batch_manifests_become_records(tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz"
    plain.write_text('{"customer_id": 1, "order_id": 1}\n{"customer_id": 1, "order_id": 2}\n')
    with gzip.open(packed, "wt") as handle:
        handle.write('{"customer_id": 2, "order_id": 3}\n')
    batch = {
        "type": "BATCH",
        "stream": "orders",
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": [f"file://{packed}"],
    }
    messages = [
        {
            "type": "BATCH",
            "stream": "orders",
            "encoding": {"format": "jsonl"},
            "manifest": [f"file://{plain}"],
        },
        batch,
    ]
    tap = script(messages)
    run = bridge(tmp_path, tap, "read", catalog=configured_catalog(discover(tmp_path, tap)))
    assert run.code == 0
    assert [r["order_id"] for r in records(run.messages, "orders")] == [1, 2, 3]


def test_batch_lines_get_the_checks_record_lines_get(tmp_path: Path) -> None:
    """A corrupt line is skipped with a WARN naming file, line and stream (never invalid JSON
    on stdout); a line that tries to add keys to the Airbyte message is no JSON value, so it
    is skipped too; invalid UTF-8 is repaired as in a RECORD line."""
    lines = [
        b'{"customer_id": 1, "order_id": 1}',
        b'{"customer_id": 1, "order_id": 2',
        b'{"customer_id": 1, "order_id": 3}},"emitted_at":1,"injected":{"x":{}',
        b'{"customer_id": 1, "order_id": 4, "note": "\xff"}',
        b'{"customer_id": 1, "order_id": 5}',
    ]
    (tmp_path / "a.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    batch = {
        "type": "BATCH",
        "stream": "orders",
        "encoding": {"format": "jsonl"},
        "manifest": [f"file://{tmp_path}/a.jsonl"],
    }
    tap = script([batch])
    run = bridge(tmp_path, tap, "read", catalog=configured_catalog(discover(tmp_path, tap)))
    assert run.code == 0
    orders = records(run.messages, "orders")
    assert [r["order_id"] for r in orders] == [1, 4, 5]
    assert orders[1]["note"] == "\ufffd"
    assert all("injected" not in m and "injected" not in m.get("record", {}) for m in run.messages)
    warnings = [m["log"]["message"] for m in run.messages if m["type"] == "LOG"]
    for number in (2, 3):
        assert any(f"line {number} of file://" in w and "'orders'" in w for w in warnings)


def test_batch_naming_a_missing_file_fails_the_read(tmp_path: Path) -> None:
    messages = [
        rec("orders", {"customer_id": 1, "order_id": 1}),
        {
            "type": "BATCH",
            "stream": "orders",
            "encoding": {"format": "jsonl"},
            "manifest": [f"file://{tmp_path}/gone.jsonl"],
        },
    ]
    tap = script(messages)
    run = bridge(tmp_path, tap, "read", catalog=configured_catalog(discover(tmp_path, tap)))
    assert run.code == 1
    assert len(records(run.messages)) == 1
    assert "gone.jsonl" in errors(run.messages)[0]["message"]


def test_stderr_formats_become_log_levels(tmp_path: Path) -> None:
    lines = [
        "2024-01-01 10:00:00,000 | WARNING  | tap-x | slow",
        "ERROR:tap_x:broken",
        "DEBUG tiny detail",
        "time=2024-01-01 name=tap_pg level=CRITICAL message=down",
        '{"level": "error", "message": "json err"}',
        "plain words",
    ]
    tap = script([], stderr=lines)
    run = bridge(tmp_path, tap, "read", catalog=configured_catalog(discover(tmp_path, tap)))
    levels = {m["log"]["message"]: m["log"]["level"] for m in by_type(run.messages, "LOG")}
    assert [levels[line] for line in lines] == ["WARN", "ERROR", "DEBUG", "FATAL", "ERROR", "INFO"]


def test_secrets_are_masked_in_logs_and_errors(tmp_path: Path) -> None:
    secret = "pa55-w0rd-xyz"
    tap = script(
        [], echo_config=True, password=secret, exit_code=1, stderr=[f"ERROR login {secret} denied"]
    )
    run = bridge(tmp_path, tap, "read", catalog=configured_catalog(discover(tmp_path, tap)))
    assert run.code == 1
    assert secret not in run.stdout.decode()
    assert "****" in run.stdout.decode()


def test_configured_stream_the_tap_lacks_is_a_config_error(tmp_path: Path) -> None:
    tap = script([])
    catalog = configured_catalog(discover(tmp_path, tap))
    catalog["streams"][0]["stream"]["name"] = "ghost"
    run = bridge(tmp_path, tap, "read", catalog=catalog)
    (error,) = errors(run.messages)
    assert run.code == 1 and error["failure_type"] == "config_error"
    assert "'ghost'" in error["message"]


def test_cursor_missing_from_the_schema_is_a_config_error(tmp_path: Path) -> None:
    tap = script([])
    catalog = configured_catalog(discover(tmp_path, tap), only=["users"])
    catalog["streams"][0]["cursor_field"] = ["nope"]
    run = bridge(tmp_path, tap, "read", catalog=catalog)
    (error,) = errors(run.messages)
    assert run.code == 1 and error["failure_type"] == "config_error"
    assert "'nope'" in error["message"] and "'users'" in error["message"]


def test_a_tap_that_cannot_start_is_named(tmp_path: Path) -> None:
    from tests.scripted import launch_to_messages

    code, messages = launch_to_messages(["--tap", "/nonexistent/tap-x", "spec"])
    assert code == 1
    assert "cannot start the tap '/nonexistent/tap-x'" in errors(messages)[0]["message"]
    code, messages = launch_to_messages(
        ["--tap", "/nonexistent/tap-x", "discover", "--config", str(tmp_path / "c.json")]
    )
    assert code == 1 and "c.json" in errors(messages)[0]["message"]


def test_incremental_without_any_cursor_reads_in_full_with_a_warning(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    tap = script([], record_inputs=str(inputs))
    catalog = configured_catalog(discover(tmp_path, tap), only=["users"])  # no default cursor
    run = bridge(tmp_path, tap, "read", catalog=catalog)
    assert run.code == 0
    users = json.loads(inputs.read_text())["catalog"]["streams"][0]
    assert users["replication_method"] == "FULL_TABLE"
    assert any("read in full refresh" in m["log"]["message"] for m in by_type(run.messages, "LOG"))


def test_tap_inputs_are_private_files_and_its_environment_is_explicit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = tmp_path / "inputs.json"
    tap = script([], record_inputs=str(inputs))
    catalog = configured_catalog(discover(tmp_path, tap))
    (tmp_path / "bridge.json").write_text(json.dumps({"env": {"TAP_REGION": "eu"}}))
    monkeypatch.setenv("SINGER_BRIDGE_CONFIG", str(tmp_path / "bridge.json"))
    state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": {"at": "1"}},
        }
    ]
    assert bridge(tmp_path, tap, "read", catalog=catalog, state=state).code == 0
    got = json.loads(inputs.read_text())
    assert got["modes"] == {"--config": "0o600", "--catalog": "0o600", "--state": "0o600"}
    assert got["dir_mode"] == "0o700"
    assert got["env"]["TAP_REGION"] == "eu"
    assert not [k for k in got["env"] if k.startswith("SINGER_BRIDGE_")]
    private_dir = Path(got["argv"][got["argv"].index("--config") + 1]).parent
    assert not private_dir.exists()  # removed after the run


ABOUT = {
    "name": "tap-strict",
    "capabilities": ["catalog", "discover", "state"],
    "settings": {
        "type": "object",
        "properties": {
            "api_key": {"type": "string", "secret": True},
            "count": {"type": "integer"},
            "mode": {"type": "string", "enum": ["fast", "safe"]},
        },
        "required": ["api_key"],
    },
}


@pytest.fixture
def strict_about(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "about.json").write_text(json.dumps(ABOUT))
    monkeypatch.setenv("TAP_SCRIPTED_ABOUT", str(tmp_path / "about.json"))


@pytest.mark.usefixtures("strict_about")
def test_spec_comes_from_about_with_secrets_marked(tmp_path: Path) -> None:
    run = bridge(tmp_path, script([]), "spec")
    spec = by_type(run.messages, "SPEC")[0]["spec"]["connectionSpecification"]
    assert spec["properties"]["api_key"]["airbyte_secret"] is True
    assert spec["required"] == ["api_key"]
    assert spec["title"] == "tap-strict"


@pytest.mark.usefixtures("strict_about")
def test_config_breaking_the_spec_names_each_field_without_values(tmp_path: Path) -> None:
    bad = script([], count="lots", mode="turbo")
    check = bridge(tmp_path, bad, "check")
    message = by_type(check.messages, "CONNECTION_STATUS")[0]["connectionStatus"]["message"]
    assert "missing required property 'api_key'" in message
    assert "count: must be of type integer" in message
    assert "mode: must be one of" in message
    assert "lots" not in message
    catalog = configured_catalog(discover(tmp_path, script([], api_key="k-1")))
    read = bridge(tmp_path, bad, "read", catalog=catalog)
    (error,) = errors(read.messages)
    assert read.code == 1 and error["failure_type"] == "config_error"
    assert "count: must be of type integer" in error["message"]


@pytest.mark.parametrize("what", ["catalog", "state"])
@pytest.mark.parametrize(
    ("content", "problem"),
    [(None, "does not exist"), ("", "is empty"), ("{nope", "not valid JSON"), ("5", "")],
)
def test_bad_catalog_or_state_file_is_a_config_error_naming_it(
    tmp_path: Path, what: str, content: str | None, problem: str
) -> None:
    tap = script([])
    files: dict[str, Any] = {"catalog": configured_catalog(discover(tmp_path, tap)), "state": []}
    broken = tmp_path / f"broken-{what}.json"
    if content is not None:
        broken.write_text(content)
    files[what] = broken
    run = bridge(tmp_path, tap, "read", **files)
    (error,) = errors(run.messages)
    assert run.code == 1 and error["failure_type"] == "config_error"
    assert f"broken-{what}.json" in error["message"] and problem in error["message"]


def test_python_api_wraps_a_tap_in_a_few_lines(tmp_path: Path) -> None:
    import io

    from singer_bridge import BridgeConfig, SingerSource, launch
    from tests.airbyte_check import validate_output
    from tests.scripted import SCRIPTED_TAP, write_json

    source = SingerSource(tap=SCRIPTED_TAP, bridge_config=BridgeConfig(exclude_streams=["orders"]))
    config = write_json(tmp_path / "config.json", script([]))
    buffer = io.BytesIO()
    assert launch(source, ["discover", "--config", str(config)], buffer) == 0
    (catalog,) = by_type(validate_output(buffer.getvalue()), "CATALOG")
    assert [s["name"] for s in catalog["catalog"]["streams"]] == ["users"]


def test_bookmarks_keyed_by_stream_name_survive_a_round_trip(tmp_path: Path) -> None:
    # users: tap_stream_id "public-users", stream "users"; this tap keys bookmarks by "users"
    messages = [
        rec("users", {"id": 1, "updated_at": "2024-03-01"}),
        state({"users": {"updated_at": "2024-03-01"}}),
    ]
    inputs = tmp_path / "inputs.json"
    tap = script(messages, record_inputs=str(inputs))
    catalog = configured_catalog(discover(tmp_path, tap), only=["users"])
    catalog["streams"][0]["cursor_field"] = ["updated_at"]
    first = bridge(tmp_path, tap, "read", catalog=catalog)
    assert final_states(first.messages)[0]["stream"]["stream_state"] == {"updated_at": "2024-03-01"}
    second = bridge(tmp_path, tap, "read", catalog=catalog, state=final_states(first.messages))
    assert second.code == 0
    bookmarks = json.loads(inputs.read_text())["state"]["bookmarks"]
    assert bookmarks["users"] == bookmarks["public-users"] == {"updated_at": "2024-03-01"}


def test_a_tap_without_about_gets_a_spec_titled_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "about.txt").write_text("usage: no --about here")
    monkeypatch.setenv("TAP_SCRIPTED_ABOUT", str(tmp_path / "about.txt"))
    run = bridge(tmp_path, {}, "spec")
    spec = next(m["spec"] for m in run.messages if m["type"] == "SPEC")
    assert spec["connectionSpecification"]["title"] == "tap_scripted.py"
