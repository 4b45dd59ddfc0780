"""The suite's own scheduling works: ``xdist_group`` keeps a group's tests on one worker (the
PyAirbyte venv, the log-based PostgreSQL, the Docker daemon rely on it). Under pytest 9.2 with
pytest-xdist 3.8 it silently grouped nothing; this probe runs a two-worker session to see."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import os, pathlib, pytest

@pytest.mark.xdist_group("one")
@pytest.mark.parametrize("i", range(6))
def test_grouped(i):
    pathlib.Path(os.environ["PROBE_OUT"], str(i)).write_text(os.environ["PYTEST_XDIST_WORKER"])
"""


def test_an_xdist_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_probe.py").write_text(PROBE)
    out = tmp_path / "out"
    out.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-p",
            "no:cacheprovider",
            "test_probe.py",
        ],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PROBE_OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    workers = {p.read_text() for p in out.iterdir()}
    assert len(list(out.iterdir())) == 6 and len(workers) == 1, workers
