"""Soak: the bridge over a real singer-sdk tap 200 times; no record lost or duplicated.

Each run's records are counted and checksummed per stream and compared with the first run;
primary keys must be unique within a run. The figures go to stdout for RELIABILITY.md
(`pytest tests/test_soak.py -s`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.airbyte_check import by_type, stream_statuses
from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin

pytestmark = [pytest.mark.realtap, pytest.mark.slow]
RUNS = int(os.environ.get("SOAK_RUNS", "200"))  # fewer for a quick local look
HALVES = 2  # run as two tests so the two xdist workers share the work
KEYS = {"customers": ("id",), "orders": ("customer_id", "order_id"), "events": None}


def fingerprint(stdout: bytes) -> dict[str, tuple[int, str]]:
    """(count, sha256 of the sorted record bodies) per stream; fails on a duplicated key."""
    bodies: dict[str, list[bytes]] = {}
    for line in stdout.splitlines():
        if line.startswith(b'{"type":"RECORD"'):
            record = json.loads(line)["record"]
            bodies.setdefault(record["stream"], []).append(
                json.dumps(record["data"], sort_keys=True).encode()
            )
    for stream, key in KEYS.items():
        if key:
            rows = [json.loads(b) for b in bodies.get(stream, [])]
            keys = [tuple(r[k] for k in key) for r in rows]
            assert len(keys) == len(set(keys)), f"duplicated {stream} record"
    return {
        s: (len(b), hashlib.sha256(b"\n".join(sorted(b))).hexdigest()) for s, b in bodies.items()
    }


@pytest.mark.parametrize("half", range(HALVES))
def test_two_hundred_reads_lose_and_duplicate_nothing(tmp_path: Path, half: int) -> None:
    tap = tap_bin("tap-demo", ALL_VENVS["tap-demo"]) / "tap-demo"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": "soak-key", "customer_count": 60}))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "--tap",
            str(tap),
            "discover",
            "--config",
            str(config),
        ],
        capture_output=True,
        check=True,
    )
    catalog = json.loads(proc.stdout.splitlines()[-1])["catalog"]
    configured = {
        "streams": [
            {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
            for s in catalog["streams"]
        ]
    }
    (tmp_path / "catalog.json").write_text(json.dumps(configured))
    argv = [
        sys.executable,
        "-m",
        "singer_bridge",
        "--tap",
        str(tap),
        "read",
        "--config",
        str(config),
        "--catalog",
        str(tmp_path / "catalog.json"),
    ]
    expected: dict[str, tuple[int, str]] | None = None
    started, records = time.monotonic(), 0
    for _ in range(RUNS // HALVES):
        run = subprocess.run(argv, capture_output=True, timeout=300, check=False)
        assert run.returncode == 0, run.stdout[-2000:]
        got = fingerprint(run.stdout)
        expected = expected or got
        assert got == expected
        records += sum(count for count, _ in got.values())
        messages = [
            json.loads(line) for line in run.stdout.splitlines() if b'"STREAM_STATUS"' in line
        ]
        assert all(stream_statuses(messages, s)[-1] == "COMPLETE" for s in KEYS)
        states: list[dict[str, Any]] = by_type(
            [
                json.loads(line)
                for line in run.stdout.splitlines()
                if line.startswith(b'{"type":"STATE"')
            ],
            "STATE",
        )
        assert sum(s["state"]["sourceStats"]["recordCount"] for s in states) == sum(
            count for count, _ in got.values()
        )
    assert expected == {
        "customers": (60, expected["customers"][1]),
        "orders": (120, expected["orders"][1]),
        "events": (30, expected["events"][1]),
    }
    print(
        f"\nsoak half {half}: {RUNS // HALVES} runs, {records} records, "
        f"{time.monotonic() - started:.1f} s, 0 lost, 0 duplicated"
    )
