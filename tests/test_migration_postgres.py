"""A Singer connection moves to the bridge, and back, without re-reading old rows.

Real taps from PyPI (each in its own venv) read a PostgreSQL server started on 127.0.0.1:
pipelinewise-tap-postgres run as plain Singer with a hand-selected catalog, and
meltanolabs-tap-postgres run the way Meltano runs it (select rules, a ``metadata`` extra, state
stored as ``{"singer_state": ...}``). Their final state and selection are migrated with
``migrate-state`` / ``migrate-catalog``, the bridge reads on from there, and its Airbyte state
goes back to Singer for the plain tap to continue. Taps re-read the row that sits on the
bookmark (``>=``); no row before it comes back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.airbyte_check import by_type, errors, validate_output
from tests.support.postgres import SEED_SQL, PostgresServer
from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin

pytestmark = pytest.mark.realtap


def fresh_database(pg: PostgresServer, name: str) -> None:
    pg.psql(f"CREATE DATABASE {name}", database="postgres")
    pg.psql(SEED_SQL, database=name)


def add_user(pg: PostgresServer, database: str, user_id: int, day: int) -> None:
    pg.psql(
        f"INSERT INTO users VALUES ({user_id}, 'u{user_id}', 1, 1, true, '2024-02-0{day}T00:00Z')",
        database=database,
    )


def write(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def tap_path(venv: str) -> Path:
    return tap_bin(venv, ALL_VENVS[venv]) / "tap-postgres"


def singer_run(tap: Path, *args: str) -> tuple[list[int], dict[str, Any]]:
    """Run the tap as plain Singer: the users ids it sent, and its last STATE value."""
    out = subprocess.run([str(tap), *args], capture_output=True, check=True, timeout=300).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    ids = [m["record"]["id"] for m in lines if m["type"] == "RECORD" and "users" in m["stream"]]
    return ids, next(m["value"] for m in reversed(lines) if m["type"] == "STATE")


def singer_bridge(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "singer_bridge", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def bridge_read(tap: Path, config: str, catalog: str, state: str) -> list[dict[str, Any]]:
    argv = ["--tap", str(tap), "read", "--config", config, "--catalog", catalog, "--state", state]
    proc = subprocess.run(
        [sys.executable, "-m", "singer_bridge", *argv], capture_output=True, timeout=300
    )
    messages = validate_output(proc.stdout)
    assert proc.returncode == 0, errors(messages)
    return messages


def final_airbyte_state(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last: dict[Any, dict[str, Any]] = {}
    for m in by_type(messages, "STATE"):
        descriptor = m["state"]["stream"]["stream_descriptor"]
        last[(descriptor["name"], descriptor.get("namespace"))] = {
            "type": "STREAM",
            "stream": m["state"]["stream"],
        }
    return list(last.values())


def select_users_incrementally(catalog: dict[str, Any]) -> dict[str, Any]:
    """What a Singer user does by hand: select one stream, incremental on updated_at."""
    for entry in catalog["streams"]:
        if entry["stream"] == "users":
            root = next(m for m in entry["metadata"] if m["breadcrumb"] == [])["metadata"]
            root.update(
                {
                    "selected": True,
                    "replication-method": "INCREMENTAL",
                    "replication-key": "updated_at",
                }
            )
    return catalog


def test_a_plain_singer_connection_moves_to_the_bridge_and_back(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    fresh_database(postgres, "mig_plain")
    tap = tap_path("pipelinewise-tap-postgres")
    config = write(
        tmp_path / "config.json",
        {
            "host": postgres.host,
            "port": postgres.port,
            "user": postgres.user,
            "password": postgres.password,
            "dbname": "mig_plain",
            "filter_schemas": "public",
        },
    )
    discovered = json.loads(
        subprocess.run(
            [str(tap), "--config", config, "--discover"], capture_output=True, check=True
        ).stdout
    )
    catalog = write(tmp_path / "singer-catalog.json", select_users_incrementally(discovered))
    # 1. the Singer connection as it ran until today
    ids, singer_state = singer_run(tap, "--config", config, "--properties", catalog)
    assert ids == [1, 2, 3]
    singer_state_file = write(tmp_path / "singer-state.json", singer_state)
    # 2. moved over: state and selection migrated, the bridge reads on
    state = singer_bridge(
        "migrate-state", "--singer-catalog", catalog, "--state", singer_state_file
    )
    configured = singer_bridge("migrate-catalog", "--singer-catalog", catalog)
    add_user(postgres, "mig_plain", 4, 1)
    messages = bridge_read(
        tap,
        config,
        write(tmp_path / "catalog.json", json.loads(configured)),
        write(tmp_path / "state.json", json.loads(state)),
    )
    assert [m["record"]["data"]["id"] for m in by_type(messages, "RECORD")] == [3, 4]
    # 3. and back: the bridge's state as Singer state, the plain tap continues from it
    write(tmp_path / "airbyte-state.json", final_airbyte_state(messages))
    back = singer_bridge(
        "migrate-state",
        "--to",
        "singer",
        "--singer-catalog",
        catalog,
        "--state",
        str(tmp_path / "airbyte-state.json"),
    )
    add_user(postgres, "mig_plain", 5, 2)
    state_file = write(tmp_path / "back.json", json.loads(back))
    ids, _ = singer_run(tap, "--config", config, "--properties", catalog, "--state", state_file)
    assert ids == [4, 5]


def meltano_catalog(discovered: dict[str, Any]) -> dict[str, Any]:
    """What Meltano hands the tap for `select: [public-users.*, '!public-users.big']` and
    `metadata: {public-users: {replication-method: INCREMENTAL, replication-key: updated_at}}`."""
    for entry in discovered["streams"]:
        chosen = entry["tap_stream_id"] == "public-users"
        for item in entry["metadata"]:
            item["metadata"]["selected"] = chosen and item["breadcrumb"] != [
                "properties",
                "big",
            ]
            if chosen and item["breadcrumb"] == []:
                item["metadata"]["replication-method"] = "INCREMENTAL"
                item["metadata"]["replication-key"] = "updated_at"
    return discovered


def test_a_meltano_connection_moves_to_the_bridge(postgres: PostgresServer, tmp_path: Path) -> None:
    fresh_database(postgres, "mig_meltano")
    tap = tap_path("meltanolabs-tap-postgres")
    config = write(
        tmp_path / "config.json",
        {
            "host": postgres.host,
            "port": postgres.port,
            "user": postgres.user,
            "password": postgres.password,
            "database": "mig_meltano",
            "filter_schemas": ["public"],
        },
    )
    discovered = json.loads(
        subprocess.run(
            [str(tap), "--config", config, "--discover"], capture_output=True, check=True
        ).stdout
    )
    catalog = write(tmp_path / "meltano-catalog.json", meltano_catalog(discovered))
    ids, singer_state = singer_run(tap, "--config", config, "--catalog", catalog)
    assert ids == [1, 2, 3]
    # `meltano state get` prints the stored state wrapped in "singer_state"
    write(tmp_path / "meltano-state.json", {"singer_state": singer_state})
    # the catalog comes from the tap itself (--tap/--config), the selection from Meltano's rules
    tap_args = ["--tap", str(tap), "--config", config]
    state = singer_bridge(
        "migrate-state", *tap_args, "--state", str(tmp_path / "meltano-state.json")
    )
    configured = json.loads(
        singer_bridge(
            "migrate-catalog",
            *tap_args,
            "--select",
            "public-users.*",
            "--select",
            "!public-users.big",
            "--metadata",
            "public-users.replication-method=INCREMENTAL",
            "--metadata",
            "public-users.replication-key=updated_at",
        )
    )
    (stream,) = configured["streams"]
    assert stream["sync_mode"] == "incremental" and stream["cursor_field"] == ["updated_at"]
    assert "big" not in stream["stream"]["json_schema"]["properties"]
    add_user(postgres, "mig_meltano", 4, 1)
    messages = bridge_read(
        tap,
        config,
        write(tmp_path / "catalog.json", configured),
        write(tmp_path / "state.json", json.loads(state)),
    )
    records = [m["record"]["data"] for m in by_type(messages, "RECORD")]
    assert [r["id"] for r in records] == [3, 4]
    assert all("big" not in r for r in records)
