"""Real Singer taps from PyPI, each in its own venv, through the bridge as a subprocess.

singer-sdk family: meltanolabs-tap-postgres, tap-jsonl, tap-rest-api-msdk (and our tap-demo);
singer-python family: pipelinewise-tap-postgres, tap-test-data-generator. The database taps
read a PostgreSQL server the tests start on 127.0.0.1. For each tap: discover, a full read,
a read resumed from the first read's state after the source changed, and a bad config.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.airbyte_check import (
    by_type,
    check_schemas_and_records,
    errors,
    final_states,
    stream_statuses,
    validate_output,
)
from tests.support.http_items import TOKEN, ItemsApi
from tests.support.mysql import SEED_SQL as MYSQL_SEED_SQL
from tests.support.mysql import MariaDBServer
from tests.support.postgres import SEED_SQL, PostgresServer
from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin

pytestmark = pytest.mark.realtap
GENERATOR_PKG = "tap_test_data_generator"


@dataclass
class Env:
    tmp: Path
    pg: PostgresServer | None = None
    api: ItemsApi | None = None
    database: str = ""
    my: MariaDBServer | None = None


@dataclass
class Case:
    venv: str
    executable: str
    config: Callable[[Env], dict[str, Any]]
    bad_config: Callable[[Env], dict[str, Any]]
    # Airbyte stream name -> (cursor for incremental or None, records in the first read)
    streams: dict[str, tuple[str | None, int]]
    change: Callable[[Env], None] = lambda env: None
    # stream -> (key field, keys a resumed read may return, keys it must return)
    second: dict[str, tuple[str, set[Any], set[Any]]] = field(default_factory=dict)
    needs_pg: bool = False
    needs_api: bool = False
    needs_mysql: bool = False
    exact_text: list[bytes] = field(default_factory=list)


def _pg_config(env: Env, db_key: str = "dbname") -> dict[str, Any]:
    assert env.pg is not None
    pg = env.pg
    config = {"host": pg.host, "port": pg.port, "user": pg.user, "password": pg.password}
    config[db_key] = env.database
    return config


def _insert_rows(env: Env) -> None:
    assert env.pg is not None
    env.pg.psql(
        "INSERT INTO users VALUES (4, 'Dee', 7.25, 4, true, '2024-02-01T00:00:00Z');"
        "INSERT INTO line_items VALUES (3, 1, 1, 'new', '2024-02-01T00:00:00Z');",
        database=env.database,
    )


def _mysql_config(env: Env) -> dict[str, Any]:
    assert env.my is not None
    my = env.my
    return {
        "host": my.host,
        "port": my.port,
        "user": my.user,
        "password": my.password,
        "filter_dbs": env.database,
        "server_id": 4242,
    }


def _insert_mysql_rows(env: Env) -> None:
    assert env.my is not None
    env.my.sql(
        "INSERT INTO users (id, name, balance, updated_at) VALUES (4, 'Dee', 7.25, '2024-02-01');"
        "INSERT INTO line_items VALUES (3, 1, 1, 'new', '2024-02-01');",
        database=env.database,
    )


# Columns taps describe more narrowly than the data: arrays with NULL elements, free JSON,
# numerics without scale, a NaN numeric, timestamps without zone.
PG_ODD_SQL = """
CREATE TABLE public.odd (
    id int PRIMARY KEY, tags text[], nums numeric[], doc jsonb, amount numeric,
    at timestamp, day date
);
INSERT INTO public.odd VALUES
    (1, ARRAY['a', NULL, 'c'], ARRAY[1.5, NULL], '{"k": [1, null, "x"]}', 27.775,
     '2024-01-01 10:00:00', '2024-02-29'),
    (2, ARRAY[]::text[], NULL, 'null', 'NaN', NULL, NULL);
"""


PG_SECOND = {
    "users": ("id", {3, 4}, {4}),  # 3 sits on the bookmark: taps re-read >= the cursor value
    "line_items": ("order_id", {2, 3}, {3}),
}


def _jsonl_files(env: Env) -> Path:
    folder = env.tmp / "jsonl"
    if not folder.exists():
        folder.mkdir()
        lines = [{"id": i, "kind": "click", "amount": 1234.50 + i} for i in range(1, 6)]
        (folder / "a.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return folder


def _add_jsonl_file(env: Env) -> None:
    (_jsonl_files(env) / "b.jsonl").write_text('{"id": 6, "kind": "view", "amount": 1}\n')


def _add_item(env: Env) -> None:
    assert env.api is not None
    env.api.items.append(
        {"id": 6, "name": "item 6", "price": 1.0, "updated_at": "2024-02-01T00:00:00Z"}
    )


def _csv_files(env: Env) -> Path:
    folder = env.tmp / "csv"
    if not folder.exists():
        folder.mkdir()
        # "price" is sampled as integers, then a later row is not one: the tap nulls it
        (folder / "a.csv").write_text("id,name,price\n1,pen,2\n2,ink,3\n3,pad,4.5\n")
    return folder


def _add_csv_file(env: Env) -> None:
    (_csv_files(env) / "b.csv").write_text("id,name,price\n4,cap,1\n")


def _spreadsheet_config(env: Env) -> dict[str, Any]:
    path = str(_csv_files(env) / "*.csv")
    return {
        "files": [{"path": path, "format": "csv", "table_name": "prices", "primary_keys": ["id"]}]
    }


APPLE_HEALTH = """<?xml version="1.0" encoding="UTF-8"?>
<HealthData locale="en_US">
 <Workout workoutActivityType="HKWorkoutActivityTypeRunning" duration="31.5" durationUnit="min"
  sourceName="Watch" sourceVersion="10.1" creationDate="2024-01-01 08:40:00 +0100"
  startDate="2024-01-01 08:00:00 +0100" endDate="2024-01-01 08:31:30 +0100">
  <MetadataEntry key="HKIndoorWorkout" value="0"/>
  <WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning"
   startDate="2024-01-01 08:00:00 +0100" endDate="2024-01-01 08:31:30 +0100" sum="5.2" unit="km"/>
 </Workout>
 <Workout workoutActivityType="HKWorkoutActivityTypeYoga" durationUnit="min"
  sourceName="Phone" sourceVersion="17" creationDate="2024-01-02 19:00:00 +0100"
  startDate="2024-01-02 18:00:00 +0100" endDate="2024-01-02 18:45:00 +0100"/>
</HealthData>
"""


def _apple_health_file(env: Env) -> str:
    path = env.tmp / "export.xml"
    path.write_text(APPLE_HEALTH)  # the yoga workout lacks "duration", which the tap requires
    return str(path)


def _generator_config(env: Env, records: Any = 7) -> dict[str, Any]:
    bin_dir = tap_bin("tap-test-data-generator", ALL_VENVS["tap-test-data-generator"])
    site = next((bin_dir.parent / "lib").glob(f"python3*/site-packages/{GENERATOR_PKG}"))
    return {
        "schema_dir": str(site / "schemas"),
        "metadata_dir": str(site / "metadatas"),
        "object_repository_dir": str(site / "object-repositories"),
        "record_number": records,
        "apply_record_number_on_pairwise": True,
        "generate_pairwise_hash": False,
    }


CASES: dict[str, Case] = {
    "meltanolabs-tap-postgres": Case(
        venv="meltanolabs-tap-postgres",
        executable="tap-postgres",
        config=lambda env: {**_pg_config(env, "database"), "filter_schemas": ["public", "sales"]},
        bad_config=lambda env: {**_pg_config(env, "database"), "password": "wrong-pw-9"},
        streams={
            "users": ("updated_at", 3),
            "line_items": ("updated_at", 3),
            "regions": (None, 1),
            "odd": (None, 2),
        },
        change=_insert_rows,
        second=PG_SECOND,
        needs_pg=True,
        exact_text=[b"9007199254740993"],
    ),
    "pipelinewise-tap-postgres": Case(
        venv="pipelinewise-tap-postgres",
        executable="tap-postgres",
        config=lambda env: {**_pg_config(env), "filter_schemas": "public,sales"},
        bad_config=lambda env: {**_pg_config(env), "password": "wrong-pw-9"},
        streams={
            "users": ("updated_at", 3),
            "line_items": ("updated_at", 3),
            "regions": (None, 1),
            "odd": (None, 2),
        },
        change=_insert_rows,
        second=PG_SECOND,
        needs_pg=True,
        exact_text=[b"9007199254740993"],
    ),
    "pipelinewise-tap-mysql": Case(
        venv="pipelinewise-tap-mysql",
        executable="tap-mysql",
        config=_mysql_config,
        bad_config=lambda env: {**_mysql_config(env), "password": "wrong-pw-9"},
        streams={"users": ("updated_at", 3), "line_items": ("updated_at", 3)},
        change=_insert_mysql_rows,
        second=PG_SECOND,
        needs_mysql=True,
    ),
    "tap-jsonl": Case(
        venv="tap-jsonl",
        executable="tap-jsonl",
        config=lambda env: {
            "path": str(_jsonl_files(env) / "*.jsonl"),
            "stream_name": "events",
            "primary_keys": ["id"],
        },
        bad_config=lambda env: {"stream_name": "events"},  # no path
        streams={"events": ("_sdc_last_modified", 5)},
        change=_add_jsonl_file,
        # tap-jsonl re-reads files whose mtime is >= its bookmark: a.jsonl comes back too
        second={"events": ("id", {1, 2, 3, 4, 5, 6}, {6})},
    ),
    "tap-rest-api-msdk": Case(
        venv="tap-rest-api-msdk",
        executable="tap-rest-api-msdk",
        config=lambda env: {
            "api_url": env.api.url if env.api else "",
            "auth_method": "bearer_token",
            "bearer_token": TOKEN,
            "pagination_next_page_param": "offset",
            "streams": [
                {
                    "name": "items",
                    "path": "/items",
                    "primary_keys": ["id"],
                    "records_path": "$.items[*]",
                    "replication_key": "updated_at",
                    "source_search_field": "since",
                    "source_search_query": "$last_run_date",
                }
            ],
        },
        bad_config=lambda env: {
            "api_url": env.api.url if env.api else "",
            "auth_method": "bearer_token",
            "bearer_token": "not-the-token",
            "streams": [{"name": "items", "path": "/items", "records_path": "$.items[*]"}],
        },
        streams={"items": ("updated_at", 5)},
        change=_add_item,
        second={"items": ("id", {5, 6}, {6})},
        needs_api=True,
    ),
    "tap-test-data-generator": Case(
        venv="tap-test-data-generator",
        executable="tap-test-data-generator",
        config=_generator_config,
        bad_config=lambda env: (
            _generator_config(env, records="lots") | {"schema_dir": "/nonexistent"}
        ),
        streams={"sample": (None, 7)},
    ),
    "tap-spreadsheets": Case(
        venv="tap-spreadsheets",
        executable="tap-spreadsheets",
        config=_spreadsheet_config,
        bad_config=lambda env: {"files": [{"path": str(env.tmp / "*.csv")}]},  # no format
        streams={"prices": ("_sdc_last_modified", 3)},
        change=_add_csv_file,
        second={"prices": ("id", {"4"}, {"4"})},  # files bookmarked one by one (mtime); CSV text
    ),
    "tap-applehealth": Case(  # an old singer-sdk (0.31), nested arrays of objects
        venv="tap-applehealth",
        executable="tap-applehealth",
        config=lambda env: {"file_path": _apple_health_file(env)},
        bad_config=lambda env: {"file_path": 42},
        streams={"workouts": (None, 2)},
    ),
    "tap-demo": Case(
        venv="tap-demo",
        executable="tap-demo",
        config=lambda env: {"api_key": "demo-key-123", "customer_count": 6},
        bad_config=lambda env: {"customer_count": "lots"},
        streams={"customers": ("updated_at", 6), "orders": ("updated_at", 12), "events": (None, 3)},
        second={"customers": ("id", {6}, {6}), "events": ("kind", {"login", "signup"}, {"signup"})},
        exact_text=[b"9007199254740994"],
    ),
}


@dataclass
class Results:
    case: Case
    discovered: dict[str, Any]
    first: list[dict[str, Any]]
    first_raw: bytes
    second: list[dict[str, Any]]
    bad_check: list[dict[str, Any]]
    bad_read: tuple[int, list[dict[str, Any]]]
    codes: list[int]


def bridge(tap: Path, *args: str) -> tuple[int, bytes, list[dict[str, Any]]]:
    argv = [sys.executable, "-m", "singer_bridge", "--tap", str(tap), *args]
    proc = subprocess.run(argv, capture_output=True, timeout=600, check=False)
    return proc.returncode, proc.stdout, validate_output(proc.stdout)


def write(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


@pytest.fixture(scope="module", params=sorted(CASES))
def results(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Results]:
    case = CASES[request.param]
    env = Env(tmp=tmp_path_factory.mktemp(request.param))
    if case.needs_pg:
        env.pg = request.getfixturevalue("postgres")
        env.database = "db_" + request.param.replace("-", "_")
        env.pg.psql(f"CREATE DATABASE {env.database}", database="postgres")
        env.pg.psql(SEED_SQL + PG_ODD_SQL, database=env.database)
    if case.needs_mysql:
        env.my = request.getfixturevalue("mariadb")
        env.database = "db_" + request.param.replace("-", "_")
        env.my.sql(f"CREATE DATABASE {env.database}")
        env.my.sql(MYSQL_SEED_SQL, database=env.database)
    if case.needs_api:
        env.api = ItemsApi().start()
    try:
        yield run_case(case, env)
    finally:
        if env.api:
            env.api.stop()


def run_case(case: Case, env: Env) -> Results:
    tap = tap_bin(case.venv, ALL_VENVS[case.venv]) / case.executable
    config = write(env.tmp / "config.json", case.config(env))
    code0, _, discovered_messages = bridge(tap, "discover", "--config", config)
    (catalog,) = [m["catalog"] for m in by_type(discovered_messages, "CATALOG")]
    configured = {"streams": []}
    for stream in catalog["streams"]:
        if stream["name"] not in case.streams:
            continue
        cursor, _ = case.streams[stream["name"]]
        configured["streams"].append(
            {
                "stream": stream,
                "sync_mode": "incremental" if cursor else "full_refresh",
                "cursor_field": [cursor] if cursor else [],
                "destination_sync_mode": "append",
            }
        )
    catalog_file = write(env.tmp / "catalog.json", configured)
    code1, raw1, first = bridge(tap, "read", "--config", config, "--catalog", catalog_file)
    case.change(env)
    state_file = write(env.tmp / "state.json", final_states(first))
    code2, _, second = bridge(
        tap, "read", "--config", config, "--catalog", catalog_file, "--state", state_file
    )
    bad = write(env.tmp / "bad.json", case.bad_config(env))
    _, _, bad_check = bridge(tap, "check", "--config", bad)
    code3, _, bad_read = bridge(tap, "read", "--config", bad, "--catalog", catalog_file)
    return Results(
        case, catalog, first, raw1, second, bad_check, (code3, bad_read), [code0, code1, code2]
    )


def per_stream(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for m in by_type(messages, "RECORD"):
        out.setdefault(m["record"]["stream"], []).append(m["record"]["data"])
    return out


def test_discover_offers_the_streams_with_keys_and_modes(results: Results) -> None:
    streams = {s["name"]: s for s in results.discovered["streams"]}
    for name, (cursor, _) in results.case.streams.items():
        assert name in streams, f"{name} not in {sorted(streams)}"
        assert "full_refresh" in streams[name]["supported_sync_modes"]
        if cursor:
            assert "incremental" in streams[name]["supported_sync_modes"]
    if results.case.needs_pg:
        assert streams["users"]["namespace"] == "public"
        assert streams["regions"]["namespace"] == "sales"
        assert streams["line_items"]["source_defined_primary_key"] == [["order_id"], ["line"]]
    if results.case.needs_mysql:
        assert streams["users"]["namespace"] == streams["line_items"]["namespace"]
        assert streams["users"]["namespace"].startswith("db_")
        assert streams["line_items"]["source_defined_primary_key"] == [["order_id"], ["line"]]


def test_full_read_delivers_every_record_with_statuses_and_states(results: Results) -> None:
    assert results.codes[:2] == [0, 0], errors(results.first)
    got = per_stream(results.first)
    for name, (_, count) in results.case.streams.items():
        assert len(got.get(name, [])) == count, (name, got.get(name))
        assert stream_statuses(results.first, name)[0] == "STARTED"
        assert stream_statuses(results.first, name)[-1] == "COMPLETE"
    states = by_type(results.first, "STATE")
    assert states, "a read must checkpoint"
    assert sum(s["state"]["sourceStats"]["recordCount"] for s in states) == sum(
        len(v) for v in got.values()
    )
    for text in results.case.exact_text:
        assert text in results.first_raw  # big integers keep their exact text


def test_schemas_are_draft7_and_every_record_matches_its_stream_schema(results: Results) -> None:
    checked = check_schemas_and_records(results.discovered, results.first + results.second)
    assert sum(checked.values()) == len(by_type(results.first + results.second, "RECORD")) > 0


def test_resumed_read_reads_only_what_changed(results: Results) -> None:
    assert results.codes[2] == 0, errors(results.second)
    got = per_stream(results.second)
    for name, (key, allowed, required) in results.case.second.items():
        keys = {row[key] for row in got.get(name, [])}
        assert keys <= allowed, (name, keys)
        assert required <= keys, (name, keys)
    for name, (cursor, count) in results.case.streams.items():
        if cursor is None:  # full refresh streams are read in full again
            assert len(got.get(name, [])) == count


def test_bad_config_fails_check_and_read_clearly(results: Results) -> None:
    (status,) = [m["connectionStatus"] for m in by_type(results.bad_check, "CONNECTION_STATUS")]
    assert status["status"] == "FAILED" and status["message"]
    code, messages = results.bad_read
    assert code == 1
    (error,) = errors(messages)
    assert error["failure_type"] in ("config_error", "system_error")
    assert "wrong-pw-9" not in json.dumps(results.bad_check + messages)
