"""Meltano runs a native source as a Singer extractor into MeltanoLabs target-postgres.

The recipe of docs/meltano.md, offline: Meltano and the target from PyPI in venvs of their own,
every plugin with a ``namespace`` (no Meltano Hub lookup), version check and telemetry off, no
``meltano install`` (the executables are absolute). The example source's ``order_lines`` has a
nested primary key (``order.id``, ``line``): a Meltano SDK target refuses a key that is not a
top-level field, so it loads only because Singer mode sends the key as ``order__id``.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer
from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin

pytestmark = [pytest.mark.realtap, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "taps" / "source-example-python" / "source_example_python.py"
OFFLINE = {
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
}

MELTANO_YML = """\
default_environment: dev
project_id: singer-bridge-test
send_anonymous_usage_stats: false
cli:
  disable_version_check: true
environments:
- name: dev
plugins:
  extractors:
  - name: tap-example
    namespace: tap_example
    executable: {tap}
    capabilities: [catalog, discover, state, about]
    settings:
    - name: database
    config:
      database: {database}
  loaders:
  - name: target-postgres
    namespace: target_postgres
    executable: {target}
    settings:
    - name: password
      sensitive: true
    config:
      host: 127.0.0.1
      port: {port}
      user: {user}
      password: {password}
      database: {pg_database}
      default_target_schema: shop
      load_method: upsert
      add_record_metadata: false
      activate_version: false
"""


def shop_database(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount REAL, updated_at TEXT);
            CREATE TABLE order_lines (order_id INTEGER, line INTEGER, sku TEXT);
            INSERT INTO customers VALUES (1, 'Ada', '2024-01-01'), (2, 'Bob', '2024-01-02'),
                                         (3, 'Cy', '2024-01-03');
            INSERT INTO orders VALUES (10, 'eu', 12.5, '2024-02-01'), (11, 'us', 3.0, '2024-02-02');
            INSERT INTO order_lines VALUES (10, 1, 'a'), (10, 2, 'b'), (11, 1, 'c');
            """
        )
    return path


def meltano_project(tmp: Path, pg: PostgresServer) -> Path:
    """A Meltano project whose extractor is the example source, run by this checkout."""
    tap = tmp / "source-example-python"
    tap.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{EXAMPLE}" "$@"\n')
    tap.chmod(0o755)
    project = tmp / "project"
    project.mkdir()
    target = tap_bin("meltanolabs-target-postgres", ALL_VENVS["meltanolabs-target-postgres"])
    (project / "meltano.yml").write_text(
        MELTANO_YML.format(
            tap=tap,
            database=shop_database(tmp / "shop.db"),
            target=target / "target-postgres",
            port=pg.port,
            user=pg.user,
            password=pg.password,
            pg_database=pg.database,
        )
    )
    return project


def meltano_run(project: Path) -> float:
    meltano = tap_bin("meltano", ALL_VENVS["meltano"]) / "meltano"
    started = time.monotonic()
    proc = subprocess.run(
        [str(meltano), "--cwd", str(project), "run", "tap-example", "target-postgres"],
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE},
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return time.monotonic() - started


def rows(pg: PostgresServer, sql: str) -> list[str]:
    return pg.psql(sql).splitlines()


def test_meltano_loads_a_nested_key_stream_once_then_upserts_only_what_changed(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    project = meltano_project(tmp_path, postgres)
    meltano_run(project)
    lines = "SELECT order__id, line, sku FROM shop.order_lines ORDER BY 1, 2"
    assert rows(postgres, lines) == ["10|1|a", "10|2|b", "11|1|c"]
    assert rows(postgres, "SELECT id, name FROM shop.customers ORDER BY id") == [
        "1|Ada",
        "2|Bob",
        "3|Cy",
    ]
    key = (
        "SELECT string_agg(a.attname, ',' ORDER BY a.attname) FROM pg_index i JOIN pg_attribute a"
        " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
        " WHERE i.indrelid = 'shop.order_lines'::regclass AND i.indisprimary"
    )
    assert rows(postgres, key) == ["line,order__id"]

    with sqlite3.connect(tmp_path / "shop.db") as db:
        db.execute("UPDATE order_lines SET sku = 'A' WHERE order_id = 10 AND line = 1")
        db.execute("INSERT INTO order_lines VALUES (11, 2, 'd')")
        db.execute("UPDATE customers SET name = 'Cyrus', updated_at = '2024-01-04' WHERE id = 3")
        db.execute("INSERT INTO customers VALUES (4, 'Di', '2024-01-05')")
    # marks in the warehouse that only a reload of those rows would overwrite
    postgres.psql("UPDATE shop.customers SET name = 'not reloaded' WHERE id IN (1, 2)")
    postgres.psql("UPDATE shop.order_lines SET sku = 'reloaded?' WHERE line = 1")
    meltano_run(project)
    # customers is incremental: the second run starts from the saved bookmark, so only the
    # changed and the new customer come again; order_lines (full table) comes whole and is
    # upserted by its key: one row per (order__id, line), the latest values
    assert rows(postgres, "SELECT id, name FROM shop.customers ORDER BY id") == [
        "1|not reloaded",
        "2|not reloaded",
        "3|Cyrus",
        "4|Di",
    ]
    assert rows(postgres, lines) == ["10|1|A", "10|2|b", "11|1|c", "11|2|d"]
