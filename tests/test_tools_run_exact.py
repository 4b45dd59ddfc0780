"""`singer-bridge run` writes each record's JSON exactly as the translator produced it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.scripted import SCRIPTED_TAP, singer_entry

RAW = (
    '{"type":"RECORD","stream":"prices","record":'
    '{"id":123456789012345678901234567890,"amount":1234.50,"tiny":1e-7}}'
)


@pytest.mark.parametrize("where", ["--out", "--duckdb"])
def test_run_keeps_numbers_as_the_tap_wrote_them(tmp_path: Path, where: str) -> None:
    entry = singer_entry(
        "prices",
        {"id": {"type": "integer"}, "amount": {"type": "number"}, "tiny": {"type": "number"}},
        keys=["id"],
    )
    config = {"catalog": {"streams": [entry]}, "messages": [{"raw": RAW}]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    target = tmp_path / ("data" if where == "--out" else "data.duckdb")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "run",
            "--tap",
            " ".join(SCRIPTED_TAP),
            "--config",
            str(tmp_path / "config.json"),
            where,
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    if where == "--out":
        (line,) = (target / "prices.jsonl").read_text().splitlines()
    else:
        with duckdb.connect(str(target)) as db:
            (line,) = [str(row[0]) for row in db.execute("SELECT data FROM prices").fetchall()]
    assert "123456789012345678901234567890" in line  # not 1.2345678901234568e+29
    assert "1234.50" in line  # not 1234.5
