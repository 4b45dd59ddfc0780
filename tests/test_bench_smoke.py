"""`make bench` stays runnable: a 50,000-record run whose bridge output is checked in full.

Correctness only (every record once, exact state counts, decimals unchanged); never timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.postgres import postgres_bin

REPO = Path(__file__).resolve().parent.parent


def test_bench_quick_run_checks_the_bridge_output() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--no-write"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| singer-bridge |" in proc.stdout


@pytest.mark.realtap
def test_parallel_taps_bench_runs_and_checks_every_record() -> None:
    # tap-rest-api-msdk, 8 streams, 1 and 8 processes: each run checked for exactly-once.
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "parallel_taps.py"), "--pages", "2", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| 8 (`--parallel 8`) |" in proc.stdout


@pytest.mark.realtap
def test_real_tap_bench_runs_and_checks_the_bridged_output() -> None:
    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "realtap.py"), "--rows", "500", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "pipelinewise-tap-postgres" in proc.stdout


@pytest.mark.realtap
def test_airbyte_tap_bench_runs_and_checks_every_replayed_record() -> None:
    # replayed Airbyte records through singer-bridge-tap (every record once, a STATE last),
    # and airbyte-source-faker (its venv as the tests build it) alone and through the tap
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "airbyte_tap.py"),
            "--records",
            "5000",
            "--repeat",
            "1",
            "--faker-count",
            "100",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| 5,000 |" in proc.stdout
    assert "| through singer-bridge-tap |" in proc.stdout
