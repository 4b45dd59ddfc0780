"""Native sources (singer_bridge.native) through the Airbyte CLI and as Singer taps.

The example source (taps/source-example-python) reads SQLite: a sorted incremental stream with
checkpoints every 2 records, a stream partitioned by region, and a sub-stream with a nested key.
"""

from __future__ import annotations

import base64
import io
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from singer_bridge import launch
from singer_bridge.errors import TapError
from singer_bridge.native import Checkpoint, ReadContext, Source, Stream
from tests.airbyte_check import (
    by_type,
    errors,
    final_states,
    records,
    stream_statuses,
    validate_output,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "taps" / "source-example-python" / "source_example_python.py"


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount REAL, updated_at TEXT);
            CREATE TABLE order_lines (order_id INTEGER, line INTEGER, sku TEXT);
            INSERT INTO customers VALUES (1, 'Ada', '2024-01-01'), (2, 'Bob', '2024-01-02'),
                                         (3, 'Cy', '2024-01-03'), (4, 'Di', '2024-01-04'),
                                         (5, 'Ed', '2024-01-05');
            INSERT INTO orders VALUES (10, 'eu', 12.5, '2024-02-01'), (11, 'us', 3.0, '2024-02-02'),
                                      (12, 'eu', 7.25, '2024-02-03');
            INSERT INTO order_lines VALUES (10, 1, 'a'), (10, 2, 'b'), (11, 1, 'c'), (12, 1, 'd');
            """
        )
    return path


def example(
    tmp: Path, database: Path, *args: str, **files: Any
) -> tuple[int, list[dict[str, Any]]]:
    config = tmp / "config.json"
    config.write_text(json.dumps({"database": str(database), "password": "sqlite-pw-31"}))
    argv = [sys.executable, str(EXAMPLE), *args]
    if args and args[0] != "spec":
        argv += ["--config", str(config)]
    for name, doc in files.items():
        (tmp / f"{name}.json").write_text(json.dumps(doc))
        argv += [f"--{name}", str(tmp / f"{name}.json")]
    proc = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    assert "sqlite-pw-31" not in proc.stdout.decode()
    return proc.returncode, validate_output(proc.stdout)


def configured(catalog: dict[str, Any]) -> dict[str, Any]:
    return {
        "streams": [
            {
                "stream": s,
                "destination_sync_mode": "append",
                "cursor_field": s["default_cursor_field"],
                "sync_mode": "incremental"
                if "incremental" in s["supported_sync_modes"]
                else "full_refresh",
            }
            for s in catalog["streams"]
        ]
    }


def test_spec_check_and_discover(tmp_path: Path, database: Path) -> None:
    code, messages = example(tmp_path, database, "spec")
    spec = by_type(messages, "SPEC")[0]["spec"]["connectionSpecification"]
    assert code == 0 and spec["properties"]["password"]["airbyte_secret"] is True
    code, messages = example(tmp_path, database, "check")
    assert by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    code, messages = example(tmp_path, database, "discover")
    streams = {s["name"]: s for s in by_type(messages, "CATALOG")[0]["catalog"]["streams"]}
    assert streams["customers"]["source_defined_cursor"] is True
    assert streams["customers"]["default_cursor_field"] == ["updated_at"]
    assert streams["order_lines"]["source_defined_primary_key"] == [["order", "id"], ["line"]]
    assert streams["order_lines"]["supported_sync_modes"] == ["full_refresh"]


def test_check_fails_clearly_for_a_missing_database(tmp_path: Path) -> None:
    code, messages = example(tmp_path, tmp_path / "nope.db", "check")
    status = by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert code == 0 and status["status"] == "FAILED" and "unable to open" in status["message"]


def test_read_checkpoints_partitions_substreams_and_resumes(tmp_path: Path, database: Path) -> None:
    _, messages = example(tmp_path, database, "discover")
    catalog = configured(by_type(messages, "CATALOG")[0]["catalog"])
    code, first = example(tmp_path, database, "read", catalog=catalog)
    assert code == 0, errors(first)
    assert [r["id"] for r in records(first, "customers")] == [1, 2, 3, 4, 5]
    assert sorted(r["id"] for r in records(first, "orders")) == [10, 11, 12]
    assert len(records(first, "order_lines")) == 4
    assert records(first, "order_lines")[0]["order"] == {"id": 10, "region": "eu"}
    customer_states = [
        m["state"]
        for m in by_type(first, "STATE")
        if m["state"]["stream"]["stream_descriptor"]["name"] == "customers"
    ]
    assert len(customer_states) >= 3  # every 2 records, and at the end
    assert sum(s["sourceStats"]["recordCount"] for s in customer_states) == 5
    orders_state = final_states(first)[1]["stream"]["stream_state"]
    assert {p["context"]["region"] for p in orders_state["partitions"]} == {"eu", "us"}
    for name in ("customers", "orders", "order_lines"):
        assert stream_statuses(first, name) == ["STARTED", "RUNNING", "COMPLETE"]
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO customers VALUES (6, 'Fay', '2024-01-06')")
        db.execute("INSERT INTO orders VALUES (13, 'us', 1.0, '2024-03-01')")
    code, second = example(tmp_path, database, "read", catalog=catalog, state=final_states(first))
    assert code == 0
    assert [r["id"] for r in records(second, "customers")] == [5, 6]  # 5 is on the bookmark
    assert sorted(r["id"] for r in records(second, "orders")) == [11, 12, 13]  # per region
    assert len(records(second, "order_lines")) == 4  # full refresh


def test_the_same_source_runs_as_a_singer_tap_and_through_the_bridge(
    tmp_path: Path, database: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"database": str(database)}))
    about = json.loads(
        subprocess.run(
            [sys.executable, str(EXAMPLE), "--about"], capture_output=True, check=True
        ).stdout
    )
    assert "discover" in about["capabilities"]
    singer = subprocess.run(
        [sys.executable, str(EXAMPLE), "--config", str(config)], capture_output=True, check=True
    )
    lines = [json.loads(line) for line in singer.stdout.splitlines()]
    assert {m["type"] for m in lines} == {"SCHEMA", "RECORD", "STATE"}
    assert sum(1 for m in lines if m["type"] == "RECORD") == 12
    # Singer mode wrapped by the bridge gives the same records as the native Airbyte mode
    bridged = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "--tap",
            f"{sys.executable} {EXAMPLE}",
            "discover",
            "--config",
            str(config),
        ],
        capture_output=True,
        check=True,
    )
    catalog = configured(by_type(validate_output(bridged.stdout), "CATALOG")[0]["catalog"])
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    read = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "--tap",
            f"{sys.executable} {EXAMPLE}",
            "read",
            "--config",
            str(config),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        capture_output=True,
        check=True,
    )
    assert [r["id"] for r in records(validate_output(read.stdout), "customers")] == [1, 2, 3, 4, 5]


def _run(source: Source, tmp: Path, *args: str, **files: Any) -> tuple[int, list[dict[str, Any]]]:
    (tmp / "config.json").write_text("{}")
    argv = [*args, "--config", str(tmp / "config.json")]
    for name, doc in files.items():
        (tmp / f"{name}.json").write_text(json.dumps(doc))
        argv += [f"--{name}", str(tmp / f"{name}.json")]
    buffer = io.BytesIO()
    code = launch(source, argv, buffer)
    return code, validate_output(buffer.getvalue())


def test_resumable_full_refresh_and_a_failing_stream(tmp_path: Path) -> None:
    calls: list[Any] = []

    def pages(ctx: ReadContext) -> Iterator[dict[str, Any] | Checkpoint]:
        calls.append(dict(ctx.state))
        start = ctx.state.get("checkpoint", {}).get("page", 0)
        for page in range(start, 3):
            yield {"page": page}
            yield Checkpoint({"page": page + 1})
            if page == 1 and len(calls) == 1:
                raise RuntimeError("the API went away")

    source = Source("src", [Stream("pages", {"properties": {"page": {"type": "integer"}}}, pages)])
    _, discovered = _run(source, tmp_path, "discover")
    catalog = configured(by_type(discovered, "CATALOG")[0]["catalog"])
    code, first = _run(source, tmp_path, "read", catalog=catalog)
    assert code == 1
    assert [r["page"] for r in records(first)] == [0, 1]
    (error,) = errors(first)
    assert "stream 'pages' failed: RuntimeError: the API went away" in error["message"]
    assert stream_statuses(first, "pages")[-1] == "INCOMPLETE"
    code, second = _run(source, tmp_path, "read", catalog=catalog, state=final_states(first))
    assert code == 0
    assert [r["page"] for r in records(second)] == [2]  # resumed after the last checkpoint
    assert final_states(second)[0]["stream"]["stream_state"] == {}  # done: next run starts over


@pytest.mark.realtap
def test_a_real_singer_target_loads_the_native_source(tmp_path: Path, database: Path) -> None:
    """target-jsonl (singer-python, from PyPI, its own venv) validates and writes every record."""
    from tests.support.realtaps import ALL_VENVS
    from tests.support.tapvenv import tap_bin

    target = tap_bin("target-jsonl", ALL_VENVS["target-jsonl"]) / "target-jsonl"
    (tmp_path / "out").mkdir()
    (tmp_path / "source.json").write_text(json.dumps({"database": str(database)}))
    (tmp_path / "target.json").write_text(json.dumps({"destination_path": str(tmp_path / "out")}))
    tap = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--config", str(tmp_path / "source.json")],
        stdout=subprocess.PIPE,
    )
    loaded = subprocess.run(
        [str(target), "--config", str(tmp_path / "target.json")],
        stdin=tap.stdout,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert tap.stdout is not None
    tap.stdout.close()
    assert tap.wait() == 0 and loaded.returncode == 0, loaded.stderr[-2000:]
    rows = {p.name.split("-")[0]: p.read_text().splitlines() for p in (tmp_path / "out").iterdir()}
    assert {name: len(lines) for name, lines in rows.items()} == {
        "customers": 5,
        "orders": 3,
        "order_lines": 4,
    }
    final_state = json.loads(loaded.stdout.decode().strip().splitlines()[-1])
    assert final_state["bookmarks"]["customers"]["replication_key_value"] == "2024-01-05"


# -- check without a check of its own: the first record must come -------------------------------
def _check_status(source: Source, tmp: Path) -> dict[str, Any]:
    _, messages = _run(source, tmp, "check")
    status: dict[str, Any] = by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]
    return status


def test_check_reads_the_first_record_and_fails_with_the_read_error(tmp_path: Path) -> None:
    def refused(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        raise TapError("HTTP 403 from https://api.test/users")
        yield {}

    source = Source("src", [Stream("users", {"properties": {}}, refused)])
    status = _check_status(source, tmp_path)
    assert status["status"] == "FAILED"
    assert "HTTP 403 from https://api.test/users" in status["message"]


def test_check_masks_basic_auth_and_a_password_inside_a_connection_url(tmp_path: Path) -> None:
    config = {"username": "svc", "api_password": "pw-9f2k", "db_url": "postgresql://u:pg-7x1@h/db"}
    basic = base64.b64encode(b"svc:pw-9f2k").decode()

    def refused(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        raise TapError(f"sent 'Authorization: Basic {basic}'; postgresql://u:pg-7x1@h/db refused")
        yield {}

    source = Source("src", [Stream("users", {"properties": {}}, refused)])
    _, messages = _run(source, tmp_path, "check", config=config)
    status = by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["message"] == "sent 'Authorization: Basic ****'; postgresql://u:****@h/db refused"


def test_check_passes_on_a_first_record_or_an_empty_stream(tmp_path: Path) -> None:
    read: list[int] = []

    def many(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        for n in range(1000):
            read.append(n)
            yield {"n": n}

    assert _check_status(Source("src", [Stream("n", {}, many)]), tmp_path)["status"] == "SUCCEEDED"
    assert read == [0]  # one record is enough
    empty = Source("src", [Stream("none", {}, lambda ctx: [])])
    assert _check_status(empty, tmp_path)["status"] == "SUCCEEDED"


def test_check_that_gets_no_record_in_time_fails(tmp_path: Path) -> None:
    release = threading.Event()

    def hangs(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        release.wait(30)
        yield {"n": 1}

    source = Source("src", [Stream("slow", {}, hangs)], check_timeout=0.2)
    try:
        status = _check_status(source, tmp_path)
    finally:
        release.set()
    assert status["status"] == "FAILED"
    assert "stream 'slow' gave no record within 0.2 s" in status["message"]


# -- Singer mode: resume from a catalog that only marks streams selected ---------------------------
def _singer(tmp: Path, database: Path, *args: str) -> list[dict[str, Any]]:
    config = tmp / "config.json"
    config.write_text(json.dumps({"database": str(database)}))
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--config", str(config), *args],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_singer_mode_resumes_when_the_catalog_only_marks_streams_selected(
    tmp_path: Path, database: Path
) -> None:
    (tmp_path / "c.json").write_text(json.dumps({"database": str(database)}))
    catalog = json.loads(
        subprocess.run(
            [sys.executable, str(EXAMPLE), "--config", str(tmp_path / "c.json"), "--discover"],
            capture_output=True,
            check=True,
        ).stdout
    )
    for entry in catalog["streams"]:  # what a Meltano user's selection writes: selected, no method
        entry["metadata"][0]["metadata"] = {"selected": entry["stream"] == "customers"}
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    first = _singer(tmp_path, database, "--catalog", str(tmp_path / "catalog.json"))
    state = [m for m in first if m["type"] == "STATE"][-1]["value"]
    assert state["bookmarks"]["customers"]["replication_key_value"] == "2024-01-05"
    (tmp_path / "state.json").write_text(json.dumps(state))
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO customers VALUES (6, 'Fay', '2024-01-06')")
    second = _singer(
        tmp_path,
        database,
        "--catalog",
        str(tmp_path / "catalog.json"),
        "--state",
        str(tmp_path / "state.json"),
    )
    assert [m["record"]["id"] for m in second if m["type"] == "RECORD"] == [5, 6]


def test_singer_mode_sends_a_nested_key_as_a_top_level_carrier_field(
    tmp_path: Path, database: Path
) -> None:
    messages = _singer(tmp_path, database)
    schemas = {m["stream"]: m for m in messages if m["type"] == "SCHEMA"}
    assert schemas["order_lines"]["key_properties"] == ["order__id", "line"]
    assert schemas["order_lines"]["schema"]["properties"]["order__id"]["type"] == "integer"
    assert schemas["customers"]["key_properties"] == ["id"]  # top-level keys keep their name
    lines = [m["record"] for m in messages if m.get("stream") == "order_lines" and "record" in m]
    assert len(lines) == 4
    assert all(r["order__id"] == r["order"]["id"] for r in lines)
    discovered = subprocess.run(
        [sys.executable, str(EXAMPLE), "--config", str(tmp_path / "config.json"), "--discover"],
        capture_output=True,
        check=True,
    )
    (entry,) = [s for s in json.loads(discovered.stdout)["streams"] if s["stream"] == "order_lines"]
    root = entry["metadata"][0]["metadata"]
    assert root["table-key-properties"] == entry["key_properties"] == ["order__id", "line"]
    assert root["singer-bridge-key-paths"] == {"order__id": ["order", "id"]}


def test_a_carrier_name_that_is_taken_gets_key_appended() -> None:
    from singer_bridge.native._singer_keys import key_carriers

    schema = {"properties": {"order__id": {}, "order": {}}}
    stream = Stream("s", schema, lambda ctx: [], primary_key=[["order", "id"]])
    assert key_carriers(stream) == {"order__id__key": ("order", "id")}
    with pytest.raises(ValueError, match="JSON Pointer"):
        Stream("s", {"properties": {"/a/b": {}}}, lambda ctx: [], primary_key=[["a", "b"]])


def test_the_bridge_reads_a_carrier_back_as_the_nested_key_and_drops_it(
    tmp_path: Path, database: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"database": str(database)}))
    bridge = [sys.executable, "-m", "singer_bridge", "--tap", f"{sys.executable} {EXAMPLE}"]
    discovered = subprocess.run(
        [*bridge, "discover", "--config", str(config)], capture_output=True, check=True
    )
    catalog = by_type(validate_output(discovered.stdout), "CATALOG")[0]["catalog"]
    (lines,) = [s for s in catalog["streams"] if s["name"] == "order_lines"]
    assert lines["source_defined_primary_key"] == [["order", "id"], ["line"]]
    assert "order__id" not in lines["json_schema"]["properties"]
    (tmp_path / "catalog.json").write_text(json.dumps(configured(catalog)))
    read = subprocess.run(
        [*bridge, "read", "--config", str(config), "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True,
        check=True,
    )
    bridged = records(validate_output(read.stdout), "order_lines")
    native = records(
        example(tmp_path, database, "read", catalog=configured(catalog))[1], "order_lines"
    )
    assert bridged == native and len(bridged) == 4


# -- partitions: streamed, cancelled, and keyed by identity ----------------------------------------
def _events(stream: Stream, state: dict[str, Any] | None = None, incremental: bool = False) -> Any:
    from singer_bridge.native._engine import read_stream
    from singer_bridge.native._state import StateKeeper

    return read_stream(stream, {}, StateKeeper(state), incremental)


def test_concurrent_partitions_are_taken_as_workers_free_up_not_all_at_once() -> None:
    from singer_bridge._protocol.events import RecordEvent

    taken: list[int] = []

    def partitions(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        for n in range(100):
            taken.append(n)
            yield {"n": n}

    def read(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        assert ctx.partition is not None
        for i in range(5000):
            yield {"partition": ctx.partition["n"], "i": i}

    stream = Stream("big", {}, read, partitions=partitions, max_workers=4)
    events = _events(stream)
    got = 0
    for event in events:
        got += isinstance(event, RecordEvent)
        if got == 10:
            break
    events.close()  # the consumer stops early: the workers must stop too
    assert len(taken) <= 8  # old engine: all 100 partitions listed and submitted up front


def test_an_error_in_one_partition_cancels_the_partitions_not_started() -> None:
    started: list[int] = []

    def read(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        assert ctx.partition is not None
        started.append(ctx.partition["n"])
        if ctx.partition["n"] == 0:
            raise RuntimeError("partition 0 is broken")
        for i in range(2000):
            yield {"i": i}

    stream = Stream(
        "s", {}, read, partitions=lambda ctx: ({"n": n} for n in range(100)), max_workers=2
    )
    with pytest.raises(TapError, match="partition 0 is broken"):
        list(_events(stream))
    assert len(started) < 10  # old engine: every queued partition ran before the error came out


def test_sub_stream_state_is_keyed_by_the_parent_key_and_stays_small() -> None:
    from singer_bridge._protocol.events import StateEvent

    payload = "x" * 100
    parents = Stream(
        "parents",
        {},
        lambda ctx: ({"id": n, "payload": payload} for n in range(500)),
        primary_key=[["id"]],
    )

    def children(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        assert ctx.partition is not None
        parent = ctx.partition["parent"]
        yield {"parent_id": parent["id"], "at": f"2024-01-{1 + parent['id'] % 28:02d}"}

    for workers, cursor in [(1, None), (4, None), (1, "at"), (4, "at")]:
        child = Stream(
            "children", {}, children, parent=parents, max_workers=workers, cursor_field=cursor
        )
        states = [
            e.value for e in _events(child, incremental=bool(cursor)) if isinstance(e, StateEvent)
        ]
        size = sum(len(json.dumps(s)) for s in states)
        assert payload not in json.dumps(states)
        assert size < 500_000, (workers, cursor, size)  # old engine: ~30 MB of STATE
        final = states[-1]["bookmarks"]["children"]
        if cursor:
            contexts = sorted(p["context"]["parent"]["id"] for p in final["partitions"])
            assert contexts == list(range(500))
        else:
            assert "partitions" not in final  # nothing to resume from: nothing kept


def test_a_credential_rotated_during_discover_is_emitted(tmp_path: Path) -> None:
    source: Source

    def streams(config: Any) -> list[Stream]:  # a source that asks the API for its streams
        source.config_updater(config, "refresh_token")("rotated-in-discover")
        return [Stream("s", {"properties": {}}, lambda ctx: [])]

    source = Source("src", streams)
    _, messages = _run(source, tmp_path, "discover")
    (control,) = by_type(messages, "CONTROL")
    assert control["control"]["connectorConfig"]["config"]["refresh_token"] == "rotated-in-discover"
    assert by_type(messages, "CATALOG")
