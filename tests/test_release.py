"""Release: the version lives in one place, and the built wheel installs into a fresh venv,
where `singer-bridge --version` and the bundled demo run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import singer_bridge
from tests.support.tapvenv import ROOT

REPO = Path(__file__).resolve().parent.parent


def test_the_version_lives_in_one_place() -> None:
    assert "version =" not in (REPO / "pyproject.toml").read_text().split("[project.optional")[0]
    assert f"## [{singer_bridge.__version__}]" in (REPO / "CHANGELOG.md").read_text()


@pytest.mark.slow
@pytest.mark.realtap
def test_the_wheel_installs_and_runs_the_demo(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("singer_bridge-*.whl")
    assert re.search(rf"singer_bridge-{re.escape(singer_bridge.__version__)}-", wheel.name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True
    )
    version = subprocess.run(
        [str(venv / "bin" / "singer-bridge"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert version.stdout.strip() == f"singer-bridge {singer_bridge.__version__}"
    env = {**os.environ, "SINGER_BRIDGE_VENVS": str(ROOT)}
    demo = subprocess.run(
        [str(venv / "bin" / "python"), str(REPO / "taps" / "demo.py")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
        check=False,
    )
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "secret api_key in any output: False" in demo.stdout
    check = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import singer_bridge; print(singer_bridge.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert str(venv) in check.stdout  # the demo ran the installed wheel, not the source tree
    hot_path = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from singer_bridge import speedups\nprint(speedups.hot_path())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert hot_path.stdout.strip() == "c"  # the wheel carries the compiled hot path
    # the templates ship in the wheel: `init` works from the installed package
    made = subprocess.run(
        [str(venv / "bin" / "singer-bridge"), "init", "shop", "--template", "singer"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "source-shop" / "source_shop" / "bridge.toml").exists()
    # the test kit's pytest plugin is registered by the wheel's entry point
    plugin = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "from importlib.metadata import entry_points;"
            "print(*(e.value for e in entry_points(group='pytest11')))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "singer_bridge.testing.plugin" in plugin.stdout.split()
