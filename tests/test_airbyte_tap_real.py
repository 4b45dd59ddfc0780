"""Real Airbyte sources run as Singer taps by ``singer-bridge-tap``, read by real Singer clients.

- source-faker 7.2 (PyPI, airbyte-cdk 6) installed beside singer-bridge in one venv, as Meltano's
  ``pip_url`` would: discovery and records against the source's own ``discover``/``read``;
  Meltano 4.4 runs it into target-jsonl twice, the state kept in Meltano's system database;
  MeltanoLabs target-postgres loads it with the column types the schema asks for.
- A declarative manifest (fixtures/airbyte-manifest/tickets.yaml) run by airbyte-cdk 7 against
  a local API (tests/support/tickets_api.py): records equal to the API's, a resumed read from the
  Singer state asks the API for what is new only, a refused token fails naming the stream and
  passes on no STATE; an OAuth manifest (agents-oauth.yaml) whose single-use refresh token the
  CDK rotates: its CONTROL message is written back to the tap's config file.
- A singer-bridge native source named by ``class``.
- Round trip: tap-demo (a real singer-sdk tap) wrapped by ``singer-bridge --tap`` and unwrapped
  by ``singer-bridge-tap``: the same records and the very same state as the tap alone.

faker's incremental contract (its streams.py): with ``always_updated: false`` a stream whose state
has a cursor emits nothing, whatever ``count`` says; with ``true`` every sync re-emits all rows.
So "the second run loads only new rows" is, for faker, "the second run loads none".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.support.postgres import PostgresServer
from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin
from tests.support.tickets_api import CLIENT_ID, CLIENT_SECRET, TOKEN, TicketsApi

pytestmark = pytest.mark.realtap

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / "fixtures" / "airbyte-manifest" / "tickets.yaml"
OAUTH_MANIFEST = REPO / "fixtures" / "airbyte-manifest" / "agents-oauth.yaml"
EXAMPLE_DIR = REPO / "taps" / "source-example-python"
OFFLINE = {
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
}
SINGER_TYPES = {"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION"}
FAKER_COUNT = 7
FAKER_CONFIG = {
    "count": FAKER_COUNT,
    "seed": 42,
    "records_per_slice": 3,
    "parallelism": 1,
    "always_updated": False,
}


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    started: float = 0.0  # the clock (epoch seconds) around the run
    ended: float = 0.0

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.splitlines()]

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [m["record"] for m in self.of("RECORD") if m["stream"] == stream]

    def last_state(self) -> dict[str, Any]:
        states = self.of("STATE")
        assert states, self.stderr[-3000:]
        return states[-1]["value"]  # type: ignore[no-any-return]


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def run_tap(
    tap: Path | str,
    config: dict[str, Any],
    tmp: Path,
    *args: str,
    catalog: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    catalog_flag: str = "--catalog",
) -> Run:
    """A Singer tap run as a Singer client runs it: files in, lines out, nothing else."""
    argv = [str(tap), "--config", str(write(tmp / "config.json", config)), *args]
    if catalog is not None:
        argv += [catalog_flag, str(write(tmp / "catalog.json", catalog))]
    if state is not None:
        argv += ["--state", str(write(tmp / "state.json", state))]
    started = time.time()
    proc = subprocess.run(
        argv, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, started, time.time())


def discover(tap: Path | str, config: dict[str, Any], tmp: Path, **kw: Any) -> dict[str, Any]:
    run = run_tap(tap, config, tmp, "--discover", **kw)
    assert run.code == 0, run.stderr[-3000:]
    return json.loads(run.stdout)  # type: ignore[no-any-return]  # one JSON document


def root_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    return next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])  # type: ignore[no-any-return]


def select(catalog: dict[str, Any], streams: set[str] | None = None) -> dict[str, Any]:
    """Every stream (or those named) selected, INCREMENTAL where it has a replication key."""
    for entry in catalog["streams"]:
        meta = root_metadata(entry)
        meta["selected"] = streams is None or entry["tap_stream_id"] in streams
        keys = meta.get("valid-replication-keys") or []
        if keys and meta.get("forced-replication-method") != "FULL_TABLE":
            meta["replication-method"] = "INCREMENTAL"
            meta["replication-key"] = keys[0]
            entry["replication_method"], entry["replication_key"] = "INCREMENTAL", keys[0]
    return catalog


def check_singer_stream(run: Run) -> None:
    """What a Singer target relies on: only Singer messages on stdout (logs go to stderr), a
    SCHEMA before a stream's records, records valid against it (jsonschema, the library Singer
    targets use), ``time_extracted`` the moment the source extracted the record."""
    schemas: dict[str, dict[str, Any]] = {}
    for message in run.messages:
        assert message["type"] in SINGER_TYPES, message
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = message["schema"]
        elif message["type"] == "RECORD":
            assert message["stream"] in schemas, f"RECORD before SCHEMA: {message['stream']}"
            jsonschema.validate(message["record"], schemas[message["stream"]])
            at = dt.datetime.fromisoformat(message["time_extracted"].replace("Z", "+00:00"))
            # during the run (a millisecond clock, so a second of slack either side)
            assert run.started - 1 <= at.timestamp() <= run.ended + 1, message


def airbyte_read(
    argv: list[str], config: dict[str, Any], tmp: Path, streams: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The source run by itself (the ground truth): every stream, incremental where it can."""
    configured = {
        "streams": [
            {
                "stream": s,
                "sync_mode": "incremental"
                if "incremental" in s["supported_sync_modes"]
                else "full_refresh",
                "destination_sync_mode": "append",
                "cursor_field": s.get("default_cursor_field") or [],
            }
            for s in streams
        ]
    }
    cfg = write(tmp / "direct-config.json", config)
    cat = write(tmp / "direct-catalog.json", configured)
    proc = subprocess.run(
        [*argv, "read", "--config", str(cfg), "--catalog", str(cat)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def airbyte_discover(
    argv: list[str], config: dict[str, Any], tmp: Path, *extra: str
) -> list[dict[str, Any]]:
    cfg = write(tmp / "direct-config.json", config)
    proc = subprocess.run(
        [*argv, "discover", "--config", str(cfg), *extra],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for line in proc.stdout.splitlines():
        if line.startswith("{") and json.loads(line)["type"] == "CATALOG":
            return json.loads(line)["catalog"]["streams"]  # type: ignore[no-any-return]
    raise AssertionError(proc.stdout[-2000:])


# --------------------------------------------------------------------------- source-faker


@pytest.fixture(scope="module")
def faker_bin() -> Path:
    return tap_bin("airbyte-source-faker", ALL_VENVS["airbyte-source-faker"])


def faker_tap_config(faker_bin: Path, **source: Any) -> dict[str, Any]:
    return {
        "airbyte_source": source or {"executable": str(faker_bin / "source-faker")},
        "airbyte_config": FAKER_CONFIG,
    }


def without_updated_at(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # faker stamps updated_at with the clock; every other field follows the seed
    return [{k: v for k, v in r.items() if k != "updated_at"} for r in records]


def test_faker_discovery_is_the_sources_catalog_in_singer_terms(
    faker_bin: Path, tmp_path: Path
) -> None:
    streams = airbyte_discover([str(faker_bin / "source-faker")], FAKER_CONFIG, tmp_path)
    catalog = discover(faker_bin / "singer-bridge-tap", faker_tap_config(faker_bin), tmp_path)
    entries = {e["tap_stream_id"]: e for e in catalog["streams"]}
    assert set(entries) == {s["name"] for s in streams}
    for stream in streams:
        entry = entries[stream["name"]]
        meta = root_metadata(entry)
        assert entry["stream"] == stream["name"]
        assert meta["table-key-properties"] == [k[0] for k in stream["source_defined_primary_key"]]
        assert meta["valid-replication-keys"] == stream["default_cursor_field"]
        assert meta["replication-method"] == "INCREMENTAL"  # faker supports incremental
        assert set(entry["schema"]["properties"]) == set(stream["json_schema"]["properties"])
        fields = {tuple(m["breadcrumb"]) for m in entry["metadata"]} - {()}
        assert fields == {("properties", p) for p in stream["json_schema"]["properties"]}


def test_faker_read_through_the_tap_gives_the_sources_records_and_its_state(
    faker_bin: Path, tmp_path: Path
) -> None:
    source = [str(faker_bin / "source-faker")]
    direct = airbyte_read(
        source, FAKER_CONFIG, tmp_path, airbyte_discover(source, FAKER_CONFIG, tmp_path)
    )
    tap = faker_bin / "singer-bridge-tap"
    config = faker_tap_config(faker_bin)
    catalog = select(discover(tap, config, tmp_path))
    first = run_tap(tap, config, tmp_path, catalog=catalog)
    assert first.code == 0, first.stderr[-3000:]
    check_singer_stream(first)
    for name in ("products", "users", "purchases"):
        expected = [
            m["record"]["data"]
            for m in direct
            if m["type"] == "RECORD" and m["record"]["stream"] == name
        ]
        assert without_updated_at(first.records(name)) == without_updated_at(expected)
    assert len(first.records("users")) == FAKER_COUNT
    # the bookmark of each stream is the source's last stream_state, whole
    last = {}
    for m in direct:
        if m["type"] == "STATE":
            last[m["state"]["stream"]["stream_descriptor"]["name"]] = m["state"]["stream"]
    bookmarks = first.last_state()["bookmarks"]
    assert set(bookmarks) == set(last)
    for name, stream in last.items():
        mine = {k: v for k, v in bookmarks[name].items() if k != "updated_at"}
        assert mine == {k: v for k, v in stream["stream_state"].items() if k != "updated_at"}
    assert bookmarks["users"]["loop_offset"] == FAKER_COUNT

    # faker's contract: a stream whose state has a cursor emits nothing (always_updated false)
    second = run_tap(tap, config, tmp_path, catalog=catalog, state=first.last_state())
    assert second.code == 0, second.stderr[-3000:]
    assert second.of("RECORD") == []
    assert second.last_state()["bookmarks"] == bookmarks


def test_faker_as_a_module_and_as_a_cdk_class_reads_the_same_records(
    faker_bin: Path, tmp_path: Path
) -> None:
    python = str(faker_bin / "python")
    tap = faker_bin / "singer-bridge-tap"
    reads = []
    for source in (
        {"module": "source_faker.run", "python": python},
        {"class": "source_faker:SourceFaker", "python": python},
    ):
        config = faker_tap_config(faker_bin, **source)
        catalog = select(discover(tap, config, tmp_path), {"users"})
        run = run_tap(tap, config, tmp_path, catalog=catalog)
        assert run.code == 0, (source, run.stderr[-3000:])
        assert {m["stream"] for m in run.of("RECORD")} == {"users"}
        reads.append(without_updated_at(run.records("users")))
    assert reads[0] == reads[1]
    assert [r["id"] for r in reads[0]] == list(range(1, FAKER_COUNT + 1))


def test_the_source_can_come_from_the_environment_with_a_flat_config(
    faker_bin: Path, tmp_path: Path
) -> None:
    tap = faker_bin / "singer-bridge-tap"
    env = {"SINGER_BRIDGE_AIRBYTE_SOURCE": f"executable:{faker_bin / 'source-faker'}"}
    catalog = select(discover(tap, FAKER_CONFIG, tmp_path, env=env), {"products"})
    # deselect a field: the tap drops it from the schema and every record
    for m in next(e for e in catalog["streams"] if e["tap_stream_id"] == "products")["metadata"]:
        if m["breadcrumb"] == ["properties", "model"]:
            m["metadata"]["selected"] = False
    # --properties, the older name some clients (Meltano's `properties` capability) use
    run = run_tap(
        tap, FAKER_CONFIG, tmp_path, catalog=catalog, env=env, catalog_flag="--properties"
    )
    assert run.code == 0, run.stderr[-3000:]
    check_singer_stream(run)
    products = run.records("products")
    assert [p["id"] for p in products] == list(range(1, FAKER_COUNT + 1))  # ids <= count
    assert all("model" not in p and "make" in p for p in products)
    (schema,) = [m["schema"] for m in run.of("SCHEMA") if m["stream"] == "products"]
    assert "model" not in schema["properties"] and "make" in schema["properties"]


def test_about_with_a_config_gives_the_sources_own_spec_as_its_settings(
    faker_bin: Path, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [str(faker_bin / "source-faker"), "spec"], capture_output=True, text=True, check=True
    )
    (spec,) = [json.loads(x)["spec"] for x in proc.stdout.splitlines() if '"SPEC"' in x]
    about = run_tap(
        faker_bin / "singer-bridge-tap", faker_tap_config(faker_bin), tmp_path, "--about"
    )
    assert about.code == 0, about.stderr[-3000:]
    doc = json.loads(about.stdout)
    assert {"discover", "state"} <= set(doc["capabilities"])
    assert doc["settings"]["properties"]["airbyte_config"] == spec["connectionSpecification"]


# ----------------------------------------------------------------------- Meltano + targets


MELTANO_YML = """\
default_environment: dev
project_id: singer-bridge-airbyte-tap-test
send_anonymous_usage_stats: false
cli:
  disable_version_check: true
environments:
- name: dev
plugins:
  extractors:
  - name: tap-faker
    namespace: tap_faker
    executable: {tap}
    capabilities: [catalog, discover, state, about]
    settings:
    - name: airbyte_source
      kind: object
    - name: airbyte_config
      kind: object
    config:
      airbyte_source: {{executable: {source}}}
      airbyte_config: {config}
  loaders:
  - name: target-jsonl
    namespace: target_jsonl
    executable: {target}
    config:
      destination_path: {output}
      do_timestamp_file: false
"""


def meltano(project: Path, *args: str) -> str:
    exe = tap_bin("meltano", ALL_VENVS["meltano"]) / "meltano"
    proc = subprocess.run(
        [str(exe), "--cwd", str(project), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE},
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc.stdout


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.slow
def test_meltano_runs_faker_twice_and_the_second_run_resumes_from_its_system_db(
    faker_bin: Path, tmp_path: Path
) -> None:
    project, output = tmp_path / "project", tmp_path / "output"
    project.mkdir()
    output.mkdir()
    target = tap_bin("target-jsonl", ALL_VENVS["target-jsonl"]) / "target-jsonl"
    (project / "meltano.yml").write_text(
        MELTANO_YML.format(
            tap=faker_bin / "singer-bridge-tap",
            source=faker_bin / "source-faker",
            config=json.dumps(FAKER_CONFIG),
            target=target,
            output=output,
        )
    )
    meltano(project, "run", "tap-faker", "target-jsonl")
    users = jsonl(output / "users.jsonl")
    assert [u["id"] for u in users] == list(range(1, FAKER_COUNT + 1))
    purchases = jsonl(output / "purchases.jsonl")
    assert purchases and {p["user_id"] for p in purchases} <= {u["id"] for u in users}
    with sqlite3.connect(project / ".meltano" / "meltano.db") as db:
        (saved,) = db.execute("SELECT partial_state, completed_state FROM state").fetchall()
    bookmarks = json.loads(saved[1])["singer_state"]["bookmarks"]
    assert bookmarks["users"]["loop_offset"] == FAKER_COUNT
    assert bookmarks["users"]["seed"] == FAKER_CONFIG["seed"]

    meltano(project, "run", "tap-faker", "target-jsonl")  # resumes: faker has nothing new
    assert jsonl(output / "users.jsonl") == users
    assert jsonl(output / "purchases.jsonl") == purchases

    meltano(project, "run", "--full-refresh", "tap-faker", "target-jsonl")  # state ignored
    assert [u["id"] for u in jsonl(output / "users.jsonl")] == 2 * [u["id"] for u in users]


def pg_type(prop: dict[str, Any]) -> str:
    """The column type MeltanoLabs target-postgres 0.8 gives a JSON Schema property."""
    types = prop.get("type", [])
    types = {types} if isinstance(types, str) else set(types) - {"null"}
    if prop.get("format") == "date-time" and "string" in types:
        return "timestamp without time zone"
    return {
        frozenset({"integer"}): "bigint",
        frozenset({"number"}): "numeric",
        frozenset({"boolean"}): "boolean",
        frozenset({"object"}): "jsonb",
        frozenset({"array"}): "jsonb",
        frozenset({"string"}): "text",
    }[frozenset(types)]


@pytest.mark.slow
def test_target_postgres_loads_every_faker_record_with_the_schemas_column_types(
    faker_bin: Path, tmp_path: Path, postgres: PostgresServer
) -> None:
    tap = faker_bin / "singer-bridge-tap"
    config = faker_tap_config(faker_bin)
    catalog = select(discover(tap, config, tmp_path))
    target = tap_bin("meltanolabs-target-postgres", ALL_VENVS["meltanolabs-target-postgres"])
    target_config = {
        "host": postgres.host,
        "port": postgres.port,
        "user": postgres.user,
        "password": postgres.password,
        "database": postgres.database,
        "default_target_schema": "faker",
        "add_record_metadata": False,
        "activate_version": False,  # needs the metadata columns otherwise
    }
    read = run_tap(tap, config, tmp_path, catalog=catalog)
    assert read.code == 0, read.stderr[-3000:]
    loader = subprocess.run(
        [
            str(target / "target-postgres"),
            "--config",
            str(write(tmp_path / "t.json", target_config)),
        ],
        input=read.stdout,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loader.returncode == 0, loader.stderr[-4000:]
    for entry in catalog["streams"]:
        name = entry["stream"]
        records = read.records(name)
        assert records, name
        ids = postgres.psql(f"SELECT id FROM faker.{name} ORDER BY id").split()
        assert ids == [str(r["id"]) for r in sorted(records, key=lambda r: r["id"])], name
        columns = postgres.psql(
            "SELECT column_name, data_type FROM information_schema.columns"
            f" WHERE table_schema = 'faker' AND table_name = '{name}'"
        ).splitlines()
        loaded = dict(line.split("|") for line in columns)
        expected = {p: pg_type(s) for p, s in entry["schema"]["properties"].items()}
        assert loaded == expected, name
    emails = postgres.psql("SELECT id, email, address->>'city' FROM faker.users ORDER BY id")
    assert emails.splitlines() == [
        f"{u['id']}|{u['email']}|{u['address']['city']}" for u in read.records("users")
    ]


# ------------------------------------------------------------------ declarative manifest


@pytest.fixture(scope="module")
def cdk_bin() -> Path:
    return tap_bin("airbyte-cdk", ALL_VENVS["airbyte-cdk"])


@pytest.fixture
def api() -> Iterator[TicketsApi]:
    server = TicketsApi().start()
    yield server
    server.stop()


def manifest_config(api: TicketsApi) -> dict[str, Any]:
    return {"base_url": api.url, "api_token": TOKEN, "start_date": "2024-03-02T00:00:00Z"}


def test_a_manifest_reads_the_api_and_resumes_from_the_singer_state(
    cdk_bin: Path, api: TicketsApi, tmp_path: Path
) -> None:
    sdm = [str(cdk_bin / "source-declarative-manifest")]
    streams = airbyte_discover(
        sdm, manifest_config(api), tmp_path, "--manifest-path", str(MANIFEST)
    )
    assert {s["name"] for s in streams} == {"tickets", "agents"}  # the CDK's own reading
    tap = cdk_bin / "singer-bridge-tap"
    config = {"airbyte_source": {"manifest": str(MANIFEST)}, **manifest_config(api)}
    catalog = discover(tap, config, tmp_path)
    meta = {e["tap_stream_id"]: root_metadata(e) for e in catalog["streams"]}
    assert meta["tickets"]["replication-method"] == "INCREMENTAL"
    assert meta["tickets"]["valid-replication-keys"] == ["updated_at"]
    assert meta["agents"]["replication-method"] == "FULL_TABLE"
    assert meta["agents"]["table-key-properties"] == ["id"]

    catalog = select(catalog)
    first = run_tap(tap, config, tmp_path, catalog=catalog)
    assert first.code == 0, first.stderr[-3000:]
    check_singer_stream(first)
    since = manifest_config(api)["start_date"]
    tickets = [t for t in api.sorted_tickets() if t["updated_at"] >= since]
    assert first.records("tickets") == tickets
    # the CDK drops null values from a record's data (agent 3 has "email": null)
    agents = [{k: v for k, v in a.items() if v is not None} for a in api.agents]
    assert first.records("agents") == agents
    # agents is FULL_TABLE: ACTIVATE_VERSION, and its records carry that version
    versions = {m["version"] for m in first.of("ACTIVATE_VERSION") if m["stream"] == "agents"}
    assert len(versions) == 1
    assert {m.get("version") for m in first.of("RECORD") if m["stream"] == "agents"} == versions
    state = first.last_state()
    assert state["bookmarks"]["tickets"] == {"updated_at": tickets[-1]["updated_at"]}

    added = api.add_ticket("2024-03-20T10:00:00Z")
    touched = api.touch_ticket(2, "2024-03-21T10:00:00Z", "reopened")
    api.requests.clear()
    second = run_tap(tap, config, tmp_path, catalog=catalog, state=state)
    assert second.code == 0, second.stderr[-3000:]
    # the bookmark is inclusive: the last ticket of the first read comes again
    assert second.records("tickets") == [tickets[-1], added, touched]
    asked = {q.get("updated_since") for path, q in api.requests if path == "/api/tickets"}
    assert asked == {tickets[-1]["updated_at"]}
    assert second.last_state()["bookmarks"]["tickets"] == {"updated_at": touched["updated_at"]}


BAD_TOKEN = "bad-token-5150"


@pytest.fixture
def refused(cdk_bin: Path, api: TicketsApi, tmp_path: Path) -> Run:
    """The manifest read with a token the API refuses (401)."""
    tap = cdk_bin / "singer-bridge-tap"
    config = {
        "airbyte_source": {"manifest": str(MANIFEST)},
        "airbyte_config": {**manifest_config(api), "api_token": BAD_TOKEN},
    }
    catalog = select(discover(tap, config, tmp_path), {"tickets"})
    return run_tap(tap, config, tmp_path, catalog=catalog)


def test_a_manifest_the_api_refuses_fails_naming_the_stream_and_the_failure(
    refused: Run,
) -> None:
    assert refused.code != 0
    assert refused.of("RECORD") == []
    assert "'tickets'" in refused.stderr and "401" in refused.stderr
    assert "(config_error)" in refused.stderr  # the CDK's failure_type for a 401
    assert BAD_TOKEN not in refused.stderr  # a secret of the spec never reaches a log


def test_after_the_failure_no_state_is_passed_on(refused: Run) -> None:
    # airbyte-cdk 7 emits STREAM_STATUS INCOMPLETE, then a STATE, after the 401's ERROR trace
    assert refused.of("STATE") == []


def test_a_rotated_refresh_token_is_written_back_to_the_config_file(
    cdk_bin: Path, api: TicketsApi, tmp_path: Path
) -> None:
    """The CDK refreshes with a single-use token and emits the new one as a CONTROL message;
    the tap writes it to its config file, so the next run (the access token expired by then)
    refreshes with the new token instead of the retired one."""
    tap = cdk_bin / "singer-bridge-tap"
    credentials = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": "r1"}
    config = {
        "airbyte_source": {"manifest": str(OAUTH_MANIFEST)},
        "airbyte_config": {"base_url": api.url, "credentials": credentials},
    }
    config_file = write(tmp_path / "tap.json", config)
    catalog = write(tmp_path / "catalog.json", discover(tap, config, tmp_path))
    argv = [str(tap), "--config", str(config_file), "--catalog", str(catalog)]
    for run in (1, 2):
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert len(api.issued) == run  # one refresh a run, each with the newest token
        saved = json.loads(config_file.read_text())
        assert saved["airbyte_source"] == config["airbyte_source"]
        assert saved["airbyte_config"]["credentials"]["refresh_token"] == api.issued[-1]
        assert saved["airbyte_config"]["base_url"] == api.url
        assert set(saved["airbyte_config"]) == {"base_url", "credentials"}  # nothing injected
        time.sleep(api.access_ttl + 0.5)  # the access token expires (not a timed assertion)
    records = Run(0, proc.stdout, proc.stderr).records("agents")
    assert [a["id"] for a in records] == [a["id"] for a in api.agents]


# ------------------------------------------------------------------------ native source


def test_a_native_source_named_by_class_reads_like_its_own_singer_mode(tmp_path: Path) -> None:
    database = tmp_path / "shop.db"
    with sqlite3.connect(database) as db:
        db.executescript(
            """
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount REAL, updated_at TEXT);
            CREATE TABLE order_lines (order_id INTEGER, line INTEGER, sku TEXT);
            INSERT INTO customers VALUES (1, 'Ada', '2024-01-01'), (2, 'Bob', '2024-01-02');
            INSERT INTO orders VALUES (10, 'eu', 12.5, '2024-02-01'), (11, 'us', 3.0, '2024-02-02');
            INSERT INTO order_lines VALUES (10, 1, 'a');
            """
        )
    env = {"PYTHONPATH": str(EXAMPLE_DIR)}
    tap = Path(sys.executable).parent / "singer-bridge-tap"
    config = {
        "airbyte_source": {"class": "source_example_python:SOURCE"},
        "database": str(database),
    }
    catalog = select(discover(tap, config, tmp_path, env=env), {"customers", "orders"})
    first = run_tap(tap, config, tmp_path, catalog=catalog, env=env)
    assert first.code == 0, first.stderr[-3000:]
    check_singer_stream(first)

    own = [sys.executable, str(EXAMPLE_DIR / "source_example_python.py")]
    native = subprocess.run(
        [
            *own,
            "--config",
            str(write(tmp_path / "n.json", {"database": str(database)})),
            "--discover",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    native_catalog = select(json.loads(native.stdout), {"customers", "orders"})
    native_read = subprocess.run(
        [
            *own,
            "--config",
            str(tmp_path / "n.json"),
            "--catalog",
            str(write(tmp_path / "nc.json", native_catalog)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    singer = Run(0, native_read.stdout, native_read.stderr)
    for name in ("customers", "orders"):
        assert first.records(name) == singer.records(name), name
    assert [c["name"] for c in first.records("customers")] == ["Ada", "Bob"]

    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO customers VALUES (3, 'Cy', '2024-01-03')")
    second = run_tap(tap, config, tmp_path, catalog=catalog, env=env, state=first.last_state())
    assert second.code == 0, second.stderr[-3000:]
    assert [c["id"] for c in second.records("customers")] == [2, 3]  # from the bookmark on


# ----------------------------------------------------------------------------- round trip


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Run, Run]]:
    """tap-demo alone, and wrapped by ``singer-bridge --tap`` then run by ``singer-bridge-tap``:
    a first read, then a read resumed from each one's own state. [(alone, through), ...]"""
    tmp = tmp_path_factory.mktemp("round-trip")
    demo = tap_bin("tap-demo", ALL_VENVS["tap-demo"]) / "tap-demo"
    bridged = tmp / "source-demo"
    bridged.write_text(
        f"#!/bin/sh\nSINGER_BRIDGE_TAP='{demo}' exec '{sys.executable}' -m singer_bridge \"$@\"\n"
    )
    bridged.chmod(0o755)
    demo_config = {"api_key": "demo-key-123", "customer_count": 6}
    tap = Path(sys.executable).parent / "singer-bridge-tap"
    config = {"airbyte_source": {"executable": str(bridged)}, "airbyte_config": demo_config}
    alone_dir, through_dir = tmp / "alone", tmp / "through"
    alone_dir.mkdir()
    through_dir.mkdir()
    alone_catalog = select(discover(demo, demo_config, alone_dir))
    through_catalog = select(discover(tap, config, through_dir))
    assert {e["tap_stream_id"] for e in through_catalog["streams"]} == {
        e["tap_stream_id"] for e in alone_catalog["streams"]
    }
    rounds: list[tuple[Run, Run]] = []
    states: list[dict[str, Any] | None] = [None, None]
    for _ in range(2):
        alone = run_tap(demo, demo_config, alone_dir, catalog=alone_catalog, state=states[0])
        through = run_tap(tap, config, through_dir, catalog=through_catalog, state=states[1])
        assert alone.code == 0, alone.stderr[-3000:]
        assert through.code == 0, through.stderr[-3000:]
        rounds.append((alone, through))
        states = [alone.last_state(), through.last_state()]
    return rounds


def test_a_singer_tap_through_the_bridge_and_back_reads_the_same_records(
    round_trip: list[tuple[Run, Run]],
) -> None:
    for alone, through in round_trip:
        check_singer_stream(through)
        for name in ("customers", "orders", "events"):
            assert through.records(name) == alone.records(name), name
    # the resumed reads really resumed: only rows at or after the bookmark
    assert [c["id"] for c in round_trip[1][1].records("customers")] == [6]


def test_a_singer_tap_through_the_bridge_and_back_keeps_exactly_its_own_state(
    round_trip: list[tuple[Run, Run]],
) -> None:
    for alone, through in round_trip:
        assert through.last_state() == alone.last_state()
