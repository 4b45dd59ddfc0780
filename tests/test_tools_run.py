"""`singer-bridge run`: progress and a summary on stderr, data into JSONL or DuckDB, resumable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.scripted import SCRIPTED_TAP, singer_entry

ENTRY = singer_entry(
    "orders",
    {"id": {"type": "integer"}, "at": {"type": "string"}},
    keys=["id"],
    replication_key="at",
)


def run(tmp: Path, *where: str, inputs: Path | None = None) -> subprocess.CompletedProcess[str]:
    messages = [
        {"type": "RECORD", "stream": "orders", "record": {"id": i, "at": f"2024-0{i}"}}
        for i in (1, 2, 3)
    ]
    messages.append({"type": "STATE", "value": {"bookmarks": {"orders": {"at": "2024-03"}}}})
    config = {"catalog": {"streams": [ENTRY]}, "messages": messages}
    if inputs is not None:
        config["record_inputs"] = str(inputs)
    (tmp / "config.json").write_text(json.dumps(config))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "--tap",
            " ".join(SCRIPTED_TAP),
            "run",
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
    first = run(tmp_path, "--out", str(tmp_path / "data"))
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""  # people read stderr; nothing else is written to stdout
    assert "orders" in first.stderr and "total" in first.stderr
    rows = (tmp_path / "data" / "orders.jsonl").read_text().splitlines()
    assert [json.loads(r)["id"] for r in rows] == [1, 2, 3]
    state = json.loads((tmp_path / "data" / "state.json").read_text())
    assert state[0]["stream"]["stream_state"] == {"at": "2024-03"}
    inputs = tmp_path / "inputs.json"
    assert run(tmp_path, "--out", str(tmp_path / "data"), inputs=inputs).returncode == 0
    assert json.loads(inputs.read_text())["state"] == {"bookmarks": {"orders": {"at": "2024-03"}}}


def test_run_into_duckdb(tmp_path: Path) -> None:
    database = tmp_path / "shop.duckdb"
    proc = run(tmp_path, "--duckdb", str(database))
    assert proc.returncode == 0, proc.stderr
    with duckdb.connect(str(database)) as db:
        ids = [
            json.loads(row[0])["id"] for row in db.execute('SELECT data FROM "orders"').fetchall()
        ]
    assert sorted(ids) == [1, 2, 3]
