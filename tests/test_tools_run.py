"""`singer-bridge run`: progress and a summary on stderr, data into JSONL or DuckDB, resumable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

from tests.scripted import SCRIPTED_TAP, singer_entry

ENTRY = singer_entry(
    "orders",
    {"id": {"type": "integer"}, "at": {"type": "string"}},
    keys=["id"],
    replication_key="at",
)
RECORDS = [
    {"type": "RECORD", "stream": "orders", "record": {"id": i, "at": f"2024-0{i}"}}
    for i in (1, 2, 3)
]
STATE = {"type": "STATE", "value": {"bookmarks": {"orders": {"at": "2024-03"}}}}


def run(
    tmp: Path,
    *where: str,
    messages: list[dict[str, Any]] | None = None,
    inputs: Path | None = None,
    python: tuple[str, ...] = ("-m", "singer_bridge"),
    streams: list[dict[str, Any]] | None = None,
) -> subprocess.CompletedProcess[str]:
    config: dict[str, Any] = {
        "catalog": {"streams": streams or [ENTRY]},
        "messages": [*RECORDS, STATE] if messages is None else messages,
    }
    if inputs is not None:
        config["record_inputs"] = str(inputs)
    (tmp / "config.json").write_text(json.dumps(config))
    tap = " ".join(SCRIPTED_TAP)
    return subprocess.run(
        [
            sys.executable,
            *python,
            "run",
            "--tap",
            tap,
            "--config",
            str(tmp / "config.json"),
            *where,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_run_writes_jsonl_with_a_summary_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = run(tmp_path, "--out", str(data))
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""  # people read stderr; nothing else is written to stdout
    assert "orders" in first.stderr and "total" in first.stderr
    rows = (data / "orders.jsonl").read_text().splitlines()
    assert [json.loads(r)["id"] for r in rows] == [1, 2, 3]
    state = json.loads((data / "state.json").read_text())
    assert state[0]["stream"]["stream_state"] == {"at": "2024-03"}
    inputs = tmp_path / "inputs.json"
    assert run(tmp_path, "--out", str(data), inputs=inputs).returncode == 0
    assert json.loads(inputs.read_text())["state"] == {
        "currently_syncing": None,
        "bookmarks": {"orders": {"at": "2024-03"}},
    }


def test_a_run_without_new_state_keeps_the_last_one(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert run(tmp_path, "--out", str(data)).returncode == 0
    quiet = run(tmp_path, "--out", str(data), messages=[])  # nothing new, no STATE sent
    assert quiet.returncode == 0, quiet.stderr
    state = json.loads((data / "state.json").read_text())
    assert state[0]["stream"]["stream_state"] == {"at": "2024-03"}


def test_run_into_duckdb(tmp_path: Path) -> None:
    database = tmp_path / "shop.duckdb"
    proc = run(tmp_path, "--duckdb", str(database))
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(database)) as db:
        ids = [
            json.loads(row[0])["id"] for row in db.execute('SELECT data FROM "orders"').fetchall()
        ]
    assert sorted(ids) == [1, 2, 3]
    assert json.loads((tmp_path / "shop.state.json").read_text())[0]["type"] == "STREAM"


def test_duckdb_missing_is_named_with_the_fix(tmp_path: Path) -> None:
    without_duckdb = (
        "-c",
        "import sys; sys.modules['duckdb'] = None; "
        "from singer_bridge._cli.main import main; main()",
    )
    proc = run(tmp_path, "--duckdb", str(tmp_path / "x.duckdb"), python=without_duckdb)
    assert proc.returncode == 1
    assert "pip install 'singer-bridge[duckdb]'" in proc.stderr


def test_streams_of_one_name_in_two_namespaces_stay_apart(tmp_path: Path) -> None:
    """``public.users`` and ``sales.users`` are two streams: two files, two tables."""
    streams = [
        singer_entry(
            f"{ns}-users", {"id": {"type": "integer"}}, stream="users", md={"schema-name": ns}
        )
        for ns in ("public", "sales")
    ]
    messages = [
        {"type": "RECORD", "stream": f"{ns}-users", "record": {"id": i}}
        for ns, i in (("public", 1), ("sales", 2), ("public", 3))
    ]
    data, database = tmp_path / "data", tmp_path / "shop.duckdb"
    for where in (["--out", str(data)], ["--duckdb", str(database)]):
        proc = run(tmp_path, *where, messages=messages, streams=streams)
        assert proc.returncode == 0, proc.stderr
    rows = {
        ns: [json.loads(r)["id"] for r in (data / f"{ns}.users.jsonl").read_text().splitlines()]
        for ns in ("public", "sales")
    }
    assert rows == {"public": [1, 3], "sales": [2]}
    assert sorted(p.name for p in data.glob("*.jsonl")) == [
        "public.users.jsonl",
        "sales.users.jsonl",
    ]
    with duckdb.connect(str(database)) as db:
        for ns, ids in rows.items():
            found = db.execute(f'SELECT data FROM "{ns}.users"').fetchall()
            assert sorted(json.loads(row[0])["id"] for row in found) == ids
