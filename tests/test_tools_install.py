"""install / --tap-pip: a tap from a pip spec, in a managed venv of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from singer_bridge._tap import venvs
from singer_bridge.errors import ConfigError
from tests.support.tapvenv import ROOT

REPO = Path(__file__).resolve().parent.parent
DEMO = str(REPO / "taps" / "tap-demo")
pytestmark = [pytest.mark.realtap, pytest.mark.xdist_group("tap-demo-install")]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SINGER_BRIDGE_VENVS": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "singer_bridge", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def test_install_prints_the_taps_executable_and_tap_pip_runs_it(tmp_path: Path) -> None:
    installed = run("install", DEMO)
    assert installed.returncode == 0, installed.stderr
    executable = Path(installed.stdout.strip())
    assert executable.name == "tap-demo" and executable.exists()
    spec = run("--tap-pip", DEMO, "spec")
    assert spec.returncode == 0, spec.stdout
    props = json.loads(spec.stdout.splitlines()[-1])["spec"]["connectionSpecification"][
        "properties"
    ]
    assert props["api_key"]["airbyte_secret"] is True


def test_an_ambiguous_or_missing_executable_is_named(tmp_path: Path) -> None:
    missing = run("install", DEMO, "--tap-executable", "tap-nope")
    assert missing.returncode == 2
    assert "'tap-nope' is not in the venv" in missing.stderr


def _old_python_tap(tmp_path: Path) -> Path:
    """A tap package that says it needs Python < 3.11, as many working taps still do."""
    project = tmp_path / "tap-oldpy"
    (project / "tap_oldpy").mkdir(parents=True)
    (project / "tap_oldpy" / "__init__.py").write_text("def main():\n    print('{}')\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tap-oldpy"\nversion = "1.0.0"\nrequires-python = ">=3.7,<3.11"\n'
        '[project.scripts]\ntap-oldpy = "tap_oldpy:main"\n'
    )
    return project


def test_a_tap_that_excludes_this_python_names_the_flag_that_installs_it(tmp_path: Path) -> None:
    env = {"SINGER_BRIDGE_VENVS": str(tmp_path / "venvs")}
    spec = str(_old_python_tap(tmp_path))
    refused = run_env(env, "install", spec)
    assert refused.returncode == 2
    assert "--ignore-requires-python" in refused.stderr
    installed = run_env(env, "install", spec, "--ignore-requires-python")
    assert installed.returncode == 0, installed.stderr
    assert Path(installed.stdout.strip()).name == "tap-oldpy"


def run_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "singer_bridge", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
        check=False,
    )


def test_a_failed_install_masks_an_index_password_before_cutting_its_output() -> None:
    # the output is cut to its last 3000 characters, here in the middle of the password
    url = "'https://me:' + 'P' * 40 + '@pypi.corp/simple'"  # the password only in the output
    script = f"print('x' * 10); print({url}); print('y' * 2959); raise SystemExit(1)"
    with pytest.raises(ConfigError) as caught:
        venvs._run([sys.executable, "-c", script], "tap-private")
    assert "PPP" not in caught.value.message
