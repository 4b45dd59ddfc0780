"""Release: the version lives in one place, and the built wheel installs into a fresh venv,
where `singer-bridge --version` and the bundled demo run."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
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
@pytest.mark.timeout(1800)  # a build and a fresh venv: minutes on a busy machine
def test_the_wheel_installs_and_runs_the_demo(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (tmp_path / "dist").glob("singer_bridge-*.whl")
    # pure Python: one wheel for every Python 3, OS and CPU (a package index refuses a
    # linux_x86_64 tag, and an image built from another host's wheel would not install it)
    assert wheel.name == f"singer_bridge-{singer_bridge.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert not [n for n in names if n.endswith((".so", ".c", ".pyd"))], names
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


def other_python() -> Path | None:
    """An interpreter of another Python minor version (3.12 or later), where one is at hand."""
    candidates = [shutil.which(f"python3.{minor}") for minor in range(12, 15)]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(p) for p in pyenv.glob("3.1[2-9]*/bin/python3.1[2-9]"))
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys, venv; print(sys.version_info[:2] > (3, 11))"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return Path(candidate)
    return None


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_wheel_from_another_python_is_the_same_pure_wheel_and_runs_there(
    tmp_path: Path,
) -> None:
    python = other_python()
    if python is None:
        pytest.skip("no Python 3.12 or later on this machine")
    venv = tmp_path / "venv"
    subprocess.run([str(python), "-m", "venv", str(venv)], check=True)
    # built from that Python, the wheel is the same py3-none-any wheel (what `package` ships)
    subprocess.run(
        [str(venv / "bin" / "pip"), "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("singer_bridge-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True, capture_output=True
    )
    about = '{"name": "tap-x", "settings": {"properties": {"token": {"writeOnly": true}}}}'
    tap = shlex.join([str(venv / "bin" / "python"), "-c", f"print({about!r})"])
    spec = subprocess.run(
        [str(venv / "bin" / "singer-bridge"), "--tap", tap, "spec"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    token = json.loads(spec.stdout)["spec"]["connectionSpecification"]["properties"]["token"]
    assert token["airbyte_secret"] is True
    # and `package` works from that Python's install: the image gets the same pure wheel
    native = REPO / "taps" / "source-example-python"
    command = [str(venv / "bin" / "singer-bridge"), "package", "--native", str(native)]
    packaged = subprocess.run(
        [*command, "--name", "source-example", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert packaged.returncode == 0, packaged.stderr[-3000:]
    (shipped,) = (tmp_path / "out" / "source-example" / "wheels").glob("singer_bridge-*.whl")
    assert shipped.name == wheel.name
