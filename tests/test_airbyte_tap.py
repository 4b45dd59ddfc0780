"""``singer-bridge-tap``: an Airbyte source run as a Singer tap, against a scripted source
(tests/support/airbyte_scripted.py) run the way a pip-installed connector is: a process of its
own, its messages on its stdout. Real sources and real Singer clients: test_airbyte_tap_real.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from singer_bridge._translate.to_singer import ExtractedField

REPO = Path(__file__).resolve().parent.parent
TAP = str(Path(sys.executable).parent / "singer-bridge-tap")
SOURCE = {"module": "tests.support.airbyte_scripted", "python": sys.executable}
SECRET = "tok-8f3a9c2e71d4"

USERS = {
    "name": "users",
    "namespace": "public",
    "json_schema": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": ["null", "string"]},
            "email": {"type": ["null", "string"]},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    },
    "supported_sync_modes": ["full_refresh", "incremental"],
    "source_defined_cursor": True,
    "default_cursor_field": ["updated_at"],
    "source_defined_primary_key": [["id"]],
}
EVENTS = {
    "name": "events",
    "json_schema": {
        "type": "object",
        "properties": {
            "meta": {"type": "object", "properties": {"id": {"type": "string"}}},
            "amount": {"type": "number"},
        },
    },
    "supported_sync_modes": ["full_refresh"],
    "source_defined_primary_key": [["meta", "id"]],
}


def record(stream: str, data: Any, namespace: str | None = None, at: int = 1700000000123) -> Any:
    body = {"stream": stream, "data": data, "emitted_at": at}
    if namespace:
        body["namespace"] = namespace
    return {"type": "RECORD", "record": body}


def stream_state(name: str, namespace: str | None, state: dict[str, Any]) -> dict[str, Any]:
    descriptor = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "type": "STATE",
        "state": {
            "type": "STREAM",
            "stream": {"stream_descriptor": descriptor, "stream_state": state},
        },
    }


def status(name: str, value: str, namespace: str | None = None) -> dict[str, Any]:
    descriptor = {"name": name, **({"namespace": namespace} if namespace else {})}
    body = {"stream_descriptor": descriptor, "status": value}
    return {
        "type": "TRACE",
        "trace": {"type": "STREAM_STATUS", "emitted_at": 1, "stream_status": body},
    }


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def tap(tmp_path: Path, *args: str, config: dict[str, Any] | None = None, **kw: Any):
    config_file = tmp_path / "config.json"
    if config is not None:
        write(config_file, config)
    return subprocess.run(
        [TAP, "--config", str(config_file), *args],
        capture_output=True,
        cwd=REPO,
        timeout=60,
        check=False,
        **kw,
    )


def tap_config(tmp_path: Path, messages: list[Any], **extra: Any) -> dict[str, Any]:
    capture = tmp_path / "capture"
    capture.mkdir(exist_ok=True)
    return {
        "airbyte_source": SOURCE,
        "airbyte_config": {
            "api_token": SECRET,
            "catalog": [USERS, EVENTS],
            "messages": messages,
            "capture": str(capture),
            **extra,
        },
    }


def lines(out: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def discovered(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    result = tap(tmp_path, "--discover", config=config)
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout)


def test_discovery_gives_a_singer_catalog_with_full_metadata(tmp_path: Path) -> None:
    catalog = discovered(tmp_path, tap_config(tmp_path, []))
    users, events = catalog["streams"]
    assert (users["tap_stream_id"], users["stream"]) == ("public-users", "public-users")
    root = users["metadata"][0]["metadata"]
    assert users["metadata"][0]["breadcrumb"] == []
    assert root["schema-name"] == "public"
    assert root["table-key-properties"] == ["id"] == users["key_properties"]
    assert root["valid-replication-keys"] == ["updated_at"]
    assert root["replication-method"] == "INCREMENTAL"
    assert root["selected-by-default"] is True
    assert "forced-replication-method" not in root  # both methods possible
    inclusion = {tuple(m["breadcrumb"]): m["metadata"]["inclusion"] for m in users["metadata"][1:]}
    assert inclusion == {
        ("properties", "id"): "automatic",
        ("properties", "updated_at"): "automatic",
        ("properties", "name"): "available",
        ("properties", "email"): "available",
    }
    events_root = events["metadata"][0]["metadata"]
    assert events["tap_stream_id"] == "events"
    assert events_root["forced-replication-method"] == "FULL_TABLE"
    assert events_root["replication-method"] == "FULL_TABLE"
    # Singer keys are top-level names: the nested key travels as a carrier field
    assert events["key_properties"] == ["meta__id"]
    assert events["schema"]["properties"]["meta__id"]["type"] == "string"
    assert events_root["singer-bridge-key-paths"] == {"meta__id": ["meta", "id"]}


def test_read_passes_records_through_in_order_schema_first_versions_for_full_table(
    tmp_path: Path,
) -> None:
    raw_user = (
        '{"id": 1, "name": "Ann", "email": null, "updated_at": "2024-01-01T00:00:00Z", '
        '"score": 1.50}'
    )
    head = '{"type": "RECORD", "record": {"stream": "users", "namespace": "public", "data": '
    messages = [
        status("users", "STARTED", "public"),
        head + raw_user + ', "emitted_at": 1700000000123}}',
        record("users", {"id": 2, "updated_at": "2024-01-02T00:00:00Z"}, "public", 1700000001000),
        stream_state("users", "public", {"updated_at": "2024-01-02T00:00:00Z"}),
        status("users", "COMPLETE", "public"),
        record("events", {"meta": {"id": "e1"}, "amount": 3}),
        status("events", "COMPLETE"),
        {"type": "LOG", "log": {"level": "INFO", "message": f"token is {SECRET}"}},
    ]
    config = tap_config(tmp_path, messages)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    result = tap(tmp_path, "--catalog", str(catalog), config=config)
    assert result.returncode == 0, result.stderr.decode()
    out = lines(result.stdout)
    assert [m["type"] for m in out] == [
        "SCHEMA",
        "RECORD",
        "RECORD",
        "STATE",
        "SCHEMA",
        "RECORD",
        "ACTIVATE_VERSION",
    ]
    # the body is passed through as the source wrote it (1.50 kept: it was never decoded)
    assert raw_user.replace(" ", "") in result.stdout.decode().replace(" ", "")
    assert out[1]["time_extracted"] == "2023-11-14T22:13:20.123000Z"
    assert out[0]["key_properties"] == ["id"] and out[0]["bookmark_properties"] == ["updated_at"]
    assert "version" not in out[1]  # incremental: appended, never replaced
    # full table: every record carries the run's version, activated after the stream completed
    assert out[5]["record"] == {"meta__id": "e1", "meta": {"id": "e1"}, "amount": 3}
    assert out[5]["version"] == out[6]["version"] and out[6]["stream"] == "events"
    assert out[3]["value"] == {
        "bookmarks": {"public-users": {"updated_at": "2024-01-02T00:00:00Z"}}
    }
    # what the source was asked for: incremental on the source's own cursor; events in full
    given = json.loads((tmp_path / "capture" / "catalog.json").read_text())["streams"]
    modes = {s["stream"]["name"]: (s["sync_mode"], s.get("cursor_field")) for s in given}
    assert modes == {"users": ("incremental", ["updated_at"]), "events": ("full_refresh", None)}
    assert "meta__id" not in given[1]["stream"]["json_schema"]["properties"]
    assert SECRET not in result.stderr.decode() and "token is ****" in result.stderr.decode()


def test_deselected_streams_and_fields_are_not_read(tmp_path: Path) -> None:
    messages = [
        record("users", {"id": 1, "name": "Ann", "email": "a@x", "updated_at": "t"}, "public"),
        record("events", {"meta": {"id": "e1"}, "amount": 3}),
    ]
    config = tap_config(tmp_path, messages)
    catalog = discovered(tmp_path, config)
    users, events = catalog["streams"]
    events["metadata"][0]["metadata"]["selected"] = False
    users["metadata"][0]["metadata"]["selected"] = True
    for item in users["metadata"]:
        if item["breadcrumb"] in (["properties", "email"], ["properties", "id"]):
            item["metadata"]["selected"] = False  # id is automatic: kept anyway
    users["metadata"][0]["metadata"]["replication-method"] = "FULL_TABLE"
    result = tap(tmp_path, "--properties", str(write(tmp_path / "c.json", catalog)), config=config)
    assert result.returncode == 0, result.stderr.decode()
    out = lines(result.stdout)
    records = [m for m in out if m["type"] == "RECORD"]
    assert [(r["stream"], r["record"]) for r in records] == [
        ("public-users", {"id": 1, "name": "Ann", "updated_at": "t"})
    ]
    assert "email" not in out[0]["schema"]["properties"]
    given = json.loads((tmp_path / "capture" / "catalog.json").read_text())["streams"]
    assert [(s["stream"]["name"], s["sync_mode"]) for s in given] == [("users", "full_refresh")]
    assert "dropped" in result.stderr.decode()  # the unselected stream's record, said so


GLOBAL = {
    "type": "GLOBAL",
    "global": {
        "shared_state": {"lsn": 1234, "state": {"cdc": True}},
        "stream_states": [
            {
                "stream_descriptor": {"name": "users", "namespace": "public"},
                "stream_state": {"id": 9},
            },
            {"stream_descriptor": {"name": "events"}, "stream_state": {}},
        ],
    },
}
LEGACY = {"type": "LEGACY", "data": {"users": {"cursor": 5}, "seen": [1, 2]}}
STREAMS = [
    stream_state("users", "public", {"updated_at": "2024-01-02", "partitions": [{"p": 1}]})[
        "state"
    ],
    stream_state("events", None, {"__ab_full_refresh_sync_complete": True})["state"],
]


@pytest.mark.parametrize(
    "states", [STREAMS, [GLOBAL], [LEGACY]], ids=["stream", "global", "legacy"]
)
def test_the_state_a_source_emitted_comes_back_to_it_exactly(
    tmp_path: Path, states: list[dict[str, Any]]
) -> None:
    messages = [record("users", {"id": 1, "updated_at": "t"}, "public")]
    messages += [{"type": "STATE", "state": s} for s in states]
    config = tap_config(tmp_path, messages)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    first = tap(tmp_path, "--catalog", str(catalog), config=config)
    assert first.returncode == 0, first.stderr.decode()
    singer_state = [m for m in lines(first.stdout) if m["type"] == "STATE"][-1]["value"]
    state_file = write(tmp_path / "state.json", singer_state)
    second = tap(tmp_path, "--catalog", str(catalog), "--state", str(state_file), config=config)
    assert second.returncode == 0, second.stderr.decode()
    given = json.loads((tmp_path / "capture" / "state.json").read_text())
    assert given == states  # an empty stream state too: exactly as emitted


def test_a_stream_state_keeps_the_streams_the_source_did_not_touch(tmp_path: Path) -> None:
    messages = [stream_state("users", "public", {"updated_at": "2"})]
    config = tap_config(tmp_path, messages)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    before = {"bookmarks": {"public-users": {"updated_at": "1"}, "events": {"page": 4}}}
    result = tap(
        tmp_path,
        "--catalog",
        str(catalog),
        "--state",
        str(write(tmp_path / "s.json", before)),
        config=config,
    )
    assert result.returncode == 0, result.stderr.decode()
    (state,) = [m["value"] for m in lines(result.stdout) if m["type"] == "STATE"]
    assert state == {"bookmarks": {"public-users": {"updated_at": "2"}, "events": {"page": 4}}}


def test_no_state_goes_out_that_the_source_did_not_emit(tmp_path: Path) -> None:
    messages = [record("users", {"id": i, "updated_at": "t"}, "public") for i in range(3)]
    config = tap_config(tmp_path, messages)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    result = tap(tmp_path, "--catalog", str(catalog), config=config)
    assert result.returncode == 0
    assert [m["type"] for m in lines(result.stdout)] == ["SCHEMA", "RECORD", "RECORD", "RECORD"]


@pytest.mark.parametrize("ending", ["trace", "crash"])
def test_a_source_failing_mid_stream_delivers_everything_before_and_exits_non_zero(
    tmp_path: Path, ending: str
) -> None:
    messages: list[Any] = [
        record("users", {"id": 1, "updated_at": "1"}, "public"),
        stream_state("users", "public", {"updated_at": "1"}),
        record("users", {"id": 2, "updated_at": "2"}, "public"),
        record("users", {"id": 3, "updated_at": "3"}, "public"),
    ]
    if ending == "trace":
        error = {
            "message": f"HTTP 500 from the API (token {SECRET})",
            "failure_type": "transient_error",
            "stream_descriptor": {"name": "users", "namespace": "public"},
        }
        messages += [
            {"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": 1, "error": error}},
            status("users", "INCOMPLETE", "public"),
            # as the Airbyte CDK does: a state after the error; it may cover what never came
            stream_state("users", "public", {"updated_at": "3"}),
        ]
    config = tap_config(tmp_path, messages, exit_code=1)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    result = tap(tmp_path, "--catalog", str(catalog), config=config)
    assert result.returncode != 0
    out = lines(result.stdout)
    assert [m["type"] for m in out] == ["SCHEMA", "RECORD", "STATE", "RECORD", "RECORD"]
    assert [m["record"]["id"] for m in out if m["type"] == "RECORD"] == [1, 2, 3]
    assert out[2]["value"]["bookmarks"]["public-users"] == {"updated_at": "1"}
    stderr = result.stderr.decode()
    last = stderr.strip().splitlines()[-1]
    assert "CRITICAL" in last and "public-users" in last
    assert ("transient_error" if ending == "trace" else "exited with code 1") in last
    assert SECRET not in stderr


def test_a_full_table_stream_that_failed_is_not_activated(tmp_path: Path) -> None:
    messages = [
        record("events", {"meta": {"id": "e1"}, "amount": 1}),
        status("events", "INCOMPLETE"),
    ]
    config = tap_config(tmp_path, messages)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    result = tap(tmp_path, "--catalog", str(catalog), config=config)
    assert result.returncode == 1
    assert "ACTIVATE_VERSION" not in result.stdout.decode()
    assert "stream 'events' did not complete" in result.stderr.decode()


@pytest.mark.parametrize("nested", [True, False], ids=["airbyte_config", "flat"])
def test_a_config_the_source_updates_is_written_back_to_the_tap_config(
    tmp_path: Path, nested: bool
) -> None:
    new_token = "rotated-5b7e1f0c9a"
    config = tap_config(tmp_path, [])
    source_config = config["airbyte_config"]
    control = {
        "type": "CONTROL",
        "control": {
            "type": "CONNECTOR_CONFIG",
            "emitted_at": 1,
            "connectorConfig": {"config": {**source_config, "api_token": new_token}},
        },
    }
    source_config["messages"] = [
        control,
        {"type": "LOG", "log": {"level": "WARN", "message": f"now using {new_token}"}},
    ]
    if not nested:
        config = {"airbyte_source": SOURCE, **source_config}
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    result = tap(tmp_path, "--catalog", str(catalog), config=config)
    assert result.returncode == 0, result.stderr.decode()
    written = json.loads((tmp_path / "config.json").read_text())
    token = written["airbyte_config"]["api_token"] if nested else written["api_token"]
    assert token == new_token and written["airbyte_source"] == SOURCE
    assert new_token not in result.stderr.decode()  # the new secret is masked too
    assert (tmp_path / "config.json").stat().st_mode & 0o007 == 0  # no access for others


def running_tap(tmp_path: Path, messages: list[Any], stderr: int) -> subprocess.Popen[bytes]:
    """The tap reading a source that writes ``messages`` and then hangs, once it has written."""
    config = tap_config(tmp_path, messages, hang=True)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    write(tmp_path / "config.json", config)
    proc = subprocess.Popen(
        [TAP, "--config", str(tmp_path / "config.json"), "--catalog", str(catalog)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        cwd=REPO,
    )
    assert proc.stdout is not None
    assert b'"SCHEMA"' in proc.stdout.readline()  # the source is running and has written
    return proc


def test_the_source_dies_with_the_tap(tmp_path: Path) -> None:
    proc = running_tap(tmp_path, [record("events", {"meta": {"id": "1"}})], subprocess.DEVNULL)
    assert proc.stdout is not None
    pid = int((tmp_path / "capture" / "pid").read_text())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the source outlived the tap")


def test_no_source_named_is_a_clear_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SINGER_BRIDGE_AIRBYTE_SOURCE"}
    result = tap(tmp_path, "--discover", config={"api_token": "x"}, env=env)
    assert result.returncode == 1 and result.stdout == b""
    assert "no Airbyte source: set 'airbyte_source'" in result.stderr.decode()
    bad = tap(tmp_path, "--discover", config={"airbyte_source": {"executable": "no-such-src"}})
    assert bad.returncode == 1
    assert "executable 'no-such-src' is not on PATH" in bad.stderr.decode()


def test_the_source_can_come_from_the_environment_and_about_shows_its_settings(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "SINGER_BRIDGE_AIRBYTE_SOURCE": json.dumps(SOURCE)}
    result = subprocess.run(
        [TAP, "--about", "--format", "json"], capture_output=True, cwd=REPO, env=env, check=False
    )
    assert result.returncode == 0, result.stderr.decode()
    about = json.loads(result.stdout)
    assert about["settings"]["properties"]["airbyte_config"]["properties"]["api_token"] == {
        "type": "string",
        "airbyte_secret": True,
    }
    assert set(about["capabilities"]) >= {"discover", "catalog", "properties", "state"}
    found = tap(tmp_path, "--discover", config=tap_config(tmp_path, [])["airbyte_config"], env=env)
    assert found.returncode == 0, found.stderr.decode()
    assert [s["tap_stream_id"] for s in json.loads(found.stdout)["streams"]] == [
        "public-users",
        "events",
    ]


def test_lines_that_are_not_airbyte_messages_are_logged_not_written(tmp_path: Path) -> None:
    messages = ["Starting up...", record("events", {"meta": {"id": "1"}}), '{"no": "type"}']
    config = tap_config(tmp_path, messages)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    result = tap(tmp_path, "--catalog", str(catalog), config=config)
    assert result.returncode == 0, result.stderr.decode()
    assert [m["type"] for m in lines(result.stdout)] == ["SCHEMA", "RECORD", "ACTIVATE_VERSION"]
    assert result.stderr.decode().count("not an Airbyte message") == 2


@given(st.lists(st.integers(min_value=0, max_value=4_102_444_800_000), min_size=1, max_size=20))
def test_time_extracted_is_emitted_at_in_iso_8601_utc(emitted: list[int]) -> None:
    field = ExtractedField()
    for ms in sorted(emitted) + emitted:  # in order and out of order: the minute cache is right
        expected = dt.datetime.fromtimestamp(ms / 1000, dt.UTC).replace(tzinfo=None)
        text = field(ms).decode().split('"')[3]
        assert dt.datetime.fromisoformat(text.rstrip("Z")) == expected.replace(
            microsecond=(ms % 1000) * 1000
        )


def test_a_target_that_stops_reading_ends_the_tap_and_the_source(tmp_path: Path) -> None:
    many = [record("events", {"meta": {"id": str(i)}, "pad": "x" * 500}) for i in range(5000)]
    proc = running_tap(tmp_path, many, subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the target is gone
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    proc.stderr.close()
    assert "closed by its reader" in stderr and "Traceback" not in stderr
    pid = int((tmp_path / "capture" / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)


def test_what_the_spec_marks_secret_is_masked_whatever_its_name(tmp_path: Path) -> None:
    hidden = "refcode-73bd0e55"
    messages = [{"type": "LOG", "log": {"level": "ERROR", "message": f"bad site {hidden}"}}]
    config = tap_config(tmp_path, messages, site_ref=hidden)
    catalog = write(tmp_path / "catalog.json", discovered(tmp_path, config))
    result = tap(tmp_path, "--catalog", str(catalog), config=config)
    assert result.returncode == 0, result.stderr.decode()
    assert "ERROR bad site ****" in result.stderr.decode()
    assert hidden not in result.stderr.decode()
