"""`singer-bridge package`: a connector folder in Airbyte's conventions that installs and runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from tests.scripted import SCRIPTED_TAP


def test_package_writes_an_installable_connector(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "--tap-pip",
            "pipelinewise-tap-postgres==1.8.4",
            "package",
            "--name",
            "source-pg",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "source-pg"
    dockerfile = (folder / "Dockerfile").read_text()
    assert 'ENV AIRBYTE_ENTRYPOINT="source-pg"' in dockerfile
    assert "LABEL io.airbyte.name=airbyte/source-pg" in dockerfile
    assert "SINGER_BRIDGE_TAP=/opt/tap/bin/tap-postgres" in dockerfile
    metadata = yaml.safe_load((folder / "metadata.yaml").read_text())["data"]
    assert (
        metadata["connectorType"] == "source"
        and metadata["dockerRepository"] == "airbyte/source-pg"
    )
    assert list((folder / "wheels").glob("singer_bridge-*.whl"))
    # the package builds, and its command is the bridge around the tap named in the image
    wheel_dir = tmp_path / "w"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(wheel_dir),
            str(folder),
        ],
        check=True,
        capture_output=True,
    )
    assert list(wheel_dir.glob("source_pg-0.1.0-*.whl"))
    env = {**os.environ, "SINGER_BRIDGE_TAP": " ".join(SCRIPTED_TAP), "PYTHONPATH": str(folder)}
    spec = subprocess.run(
        [sys.executable, "-c", "import source_pg; source_pg.main()", "spec"],
        capture_output=True,
        env=env,
        check=False,
    )
    assert spec.returncode == 0
    assert json.loads(spec.stdout.splitlines()[-1])["type"] == "SPEC"


def test_package_names_a_bad_name(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "--tap-pip",
            "tap-x",
            "package",
            "--name",
            "Bad Name",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "--name must look like source-x" in proc.stderr
