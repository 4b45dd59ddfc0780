"""`make bench` stays runnable: a 50,000-record run whose bridge output is checked in full.

Correctness only (every record once, exact state counts, decimals unchanged); never timing.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
