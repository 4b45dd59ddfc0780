"""Log-based replication through the bridge: pipelinewise-tap-mysql reading MariaDB's row
binlog, pipelinewise-tap-postgres and MeltanoLabs tap-postgres reading PostgreSQL's WAL
through wal2json.

The first read copies the table and remembers the binlog position; after an insert, an update
and a delete, the read resumed from the first read's state sees exactly those three rows (the
deleted one with ``_sdc_deleted_at``). The user asks for LOG_BASED in the bridge config
(``streams.NAME.replication_method``); the same read with a user ``catalog_file`` whose entry
forces LOG_BASED shows the rest of the pipeline works today.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.airbyte_check import (
    by_type,
    check_schemas_and_records,
    errors,
    final_states,
    records,
    validate_output,
)
from tests.support.mysql import MariaDBServer
from tests.support.postgres import PostgresServer
from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin

pytestmark = [pytest.mark.realtap, pytest.mark.xdist_group("log-based")]
TABLE_SQL = """
CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(20), balance DECIMAL(8, 2),
                    updated_at TIMESTAMP NOT NULL);
INSERT INTO users VALUES (1, 'Ada', 10.50, '2024-01-01'), (2, 'Bob', NULL, '2024-01-02'),
                         (3, 'Cy', 0.10, '2024-01-03');
"""
CHANGE_SQL = """
INSERT INTO users VALUES (4, 'Dee', 7.25, '2024-02-01');
UPDATE users SET name = 'Bobby' WHERE id = 2;
DELETE FROM users WHERE id = 3;
"""


@dataclass
class Bed:
    venv: str
    executable: str
    server: str  # the fixture that starts it
    sql: Callable[[Any, str, str], object]  # (server, database, statements)
    create: Callable[[Any, str], None]  # (server, database): a database to read, ready for logs
    tap_config: Callable[[Any, str], dict[str, Any]]


def _mysql_create(server: MariaDBServer, database: str) -> None:
    server.sql(f"CREATE DATABASE {database}")


def _postgres_create(server: PostgresServer, database: str) -> None:
    server.psql(f"CREATE DATABASE {database}", database="postgres")
    # pipelinewise-tap-postgres reads from a slot named after the database; it never makes one
    server.psql(
        f"SELECT pg_create_logical_replication_slot('pipelinewise_{database}', 'wal2json')",
        database=database,
    )


def _meltano_create(server: PostgresServer, database: str) -> None:
    server.psql(f"CREATE DATABASE {database}", database="postgres")
    # made before the table fills: the tap's first read replays the WAL from the slot's start
    server.psql(
        f"SELECT pg_create_logical_replication_slot('tappg_{database}', 'wal2json')",
        database=database,
    )


BEDS = {
    "pipelinewise-tap-mysql": Bed(
        venv="pipelinewise-tap-mysql",
        executable="tap-mysql",
        server="mariadb",
        sql=lambda server, database, sql: server.sql(sql, database=database),
        create=_mysql_create,
        tap_config=lambda server, database: {
            "host": server.host,
            "port": server.port,
            "user": server.user,
            "password": server.password,
            "filter_dbs": database,
            "server_id": 4243,
        },
    ),
    "pipelinewise-tap-postgres": Bed(
        venv="pipelinewise-tap-postgres",
        executable="tap-postgres",
        server="postgres",
        sql=lambda server, database, sql: server.psql(sql, database=database),
        create=_postgres_create,
        tap_config=lambda server, database: {
            "host": server.host,
            "port": server.port,
            "user": server.user,
            "password": server.password,
            "dbname": database,
            "filter_schemas": "public",
            "logical_poll_total_seconds": 5,
        },
    ),
    "meltanolabs-tap-postgres": Bed(
        venv="meltanolabs-tap-postgres",
        executable="tap-postgres",
        server="postgres",
        sql=lambda server, database, sql: server.psql(sql, database=database),
        create=_meltano_create,
        tap_config=lambda server, database: {
            "host": server.host,
            "port": server.port,
            "user": server.user,
            "password": server.password,
            "database": database,
            "filter_schemas": ["public"],
            "replication_slot_name": f"tappg_{database}",
            "replication_idle_exit_seconds": 3,
            "replication_max_run_seconds": 120,
        },
    ),
}


def bridge(tap: Path, *args: str) -> list[dict[str, Any]]:
    argv = [sys.executable, "-m", "singer_bridge", "--tap", str(tap), *args]
    proc = subprocess.run(argv, capture_output=True, timeout=600, check=False)
    return validate_output(proc.stdout)


def write(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def _forced_log_based_catalog(tap: Path, config: str, folder: Path) -> dict[str, Any]:
    """The tap's own catalog with LOG_BASED forced on every entry, as a user would keep it."""
    out = subprocess.run([str(tap), "--config", config, "--discover"], capture_output=True)
    catalog: dict[str, Any] = json.loads(out.stdout)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["forced-replication-method"] = "LOG_BASED"
    return {"catalog_file": write(folder / "singer-catalog.json", catalog)}


def _db(how: str, tap: str) -> str:
    return f"log_{how}_{tap.split('-')[0]}"


def run_log_based(
    bed: Bed, server: Any, folder: Path, database: str, how: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    bed.create(server, database)
    bed.sql(server, database, TABLE_SQL)
    tap = tap_bin(bed.venv, ALL_VENVS[bed.venv]) / bed.executable
    config = write(folder / "config.json", bed.tap_config(server, database))
    if how == "bridge-config":
        users: dict[str, Any] = {"replication_method": "LOG_BASED"}
        bridge_config: dict[str, Any] = {"streams": {"users": users}}
    else:
        bridge_config = _forced_log_based_catalog(tap, config, folder)
        users = {}
        bridge_config["streams"] = {"users": users}
    if bed.venv == "meltanolabs-tap-postgres":
        # its log position is a column it adds at run time, named nowhere in its catalog
        # (docs/concepts.md: log-based keys)
        users["cursor_field"] = ["_sdc_lsn"]
    options = ["--bridge-config", write(folder / "bridge.json", bridge_config)]
    discovered = bridge(tap, *options, "discover", "--config", config)
    assert not errors(discovered), errors(discovered)
    (catalog,) = [m["catalog"] for m in by_type(discovered, "CATALOG")]
    (stream,) = [s for s in catalog["streams"] if s["name"] == "users"]
    assert "incremental" in stream["supported_sync_modes"]
    configured = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental",
                "cursor_field": [],
                "destination_sync_mode": "append_dedup",
                "primary_key": [["id"]],
            }
        ]
    }
    catalog_file = write(folder / "catalog.json", configured)
    read = [*options, "read", "--config", config, "--catalog", catalog_file]
    first = bridge(tap, *read)
    assert not errors(first), errors(first)
    bed.sql(server, database, CHANGE_SQL)
    state = write(folder / "state.json", final_states(first))
    second = bridge(tap, *read, "--state", state)
    assert not errors(second), errors(second)
    return catalog, first, second


def assert_sees_insert_update_delete(
    catalog: dict[str, Any], first: list[dict[str, Any]], second: list[dict[str, Any]]
) -> None:
    """The resumed read holds the insert, the update and the delete, and nothing older."""
    assert sorted(r["id"] for r in records(first, "users")) == [1, 2, 3]
    changed = {r["id"]: r for r in records(second, "users")}
    assert sorted(changed) == [2, 3, 4], changed  # only what the log holds since
    assert changed[2]["name"] == "Bobby"
    assert changed[3].get("_sdc_deleted_at")
    assert not changed[4].get("_sdc_deleted_at")
    check_schemas_and_records(catalog, first + second)


TAPS = ["meltanolabs-tap-postgres", "pipelinewise-tap-mysql", "pipelinewise-tap-postgres"]


@pytest.mark.parametrize("tap", TAPS)
def test_log_based_read_asked_in_the_bridge_config_sees_insert_update_delete(
    tap: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bed = BEDS[tap]
    server = request.getfixturevalue(bed.server)
    catalog, first, second = run_log_based(bed, server, tmp_path, _db("user", tap), "bridge-config")
    assert_sees_insert_update_delete(catalog, first, second)


@pytest.mark.parametrize("tap", TAPS)
def test_log_based_read_from_a_catalog_forcing_it_sees_insert_update_delete(
    tap: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    bed = BEDS[tap]
    server = request.getfixturevalue(bed.server)
    catalog, first, second = run_log_based(
        bed, server, tmp_path, _db("catalog", tap), "catalog-file"
    )
    assert_sees_insert_update_delete(catalog, first, second)
