"""The suite itself: a hung test fails alone instead of hanging the whole run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_every_test_has_a_generous_timeout(pytestconfig: pytest.Config) -> None:
    assert float(pytestconfig.getini("timeout")) == 600


def test_a_hung_test_fails_and_the_run_goes_on_under_xdist(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text(
        "import time\n\ndef test_hangs():\n    time.sleep(120)\n\ndef test_passes():\n    pass\n"
    )
    argv = [sys.executable, "-m", "pytest", "-c", str(REPO / "pyproject.toml"), "-n", "2"]
    argv += ["-p", "no:cacheprovider", "-o", "timeout=3", "--rootdir", str(tmp_path)]
    proc = subprocess.run(
        [*argv, str(tmp_path / "test_hang.py")],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 passed" in proc.stdout
    assert "Timeout" in proc.stdout
