"""`singer-bridge init`: each template's project passes its own generated tests as generated."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PASSING = {"python": 1, "http": 1, "singer": 2}  # the tests each template generates


@pytest.mark.parametrize("template", ["python", "http", "singer"])
def test_generated_project_tests_pass(tmp_path: Path, template: str) -> None:
    made = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "init",
            "shop",
            "--template",
            template,
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    project = tmp_path / "source-shop"
    source = (project / "source_shop" / "source.py").read_text()
    assert "TODO" in source
    assert (project / "pyproject.toml").read_text().count("source-shop = ") == 1
    env = {**os.environ, "PYTHONPATH": str(project)}
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=300,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert f"{PASSING[template]} passed" in tests.stdout


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "singer_bridge", "init", "shop", "--out", str(tmp_path)]
    assert subprocess.run(argv, capture_output=True, check=False).returncode == 0
    again = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert again.returncode == 2 and "exists already" in again.stderr
