"""`singer-bridge init`: each template's project passes its own generated tests as generated,
lints and type-checks clean, and its README's commands work verbatim in a fresh venv."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from singer_bridge._cli.tools.init import TEMPLATE_NAMES, project_files
from tests.support.generated import lint_and_type_check, readme_commands, write_files

REPO = Path(__file__).resolve().parent.parent
PASSING = {"python": 1, "http": 1, "singer": 2}  # the tests each template generates


def init(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "singer_bridge", "init", *args, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_template_is_tested() -> None:
    assert sorted(PASSING) == sorted(TEMPLATE_NAMES)


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_generated_project_tests_pass(tmp_path: Path, template: str) -> None:
    made = init(tmp_path, "shop", "--template", template)
    assert made.returncode == 0, made.stderr
    project = tmp_path / "source-shop"
    assert "TODO" in (project / "source_shop" / "source.py").read_text()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["scripts"] == {"source-shop": "source_shop.source:main"}
    assert "pytest>=8" in pyproject["project"]["optional-dependencies"]["dev"]
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


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_generated_code_passes_ruff_and_strict_mypy(tmp_path: Path, template: str) -> None:
    name = "a-forty-character-name-for-long-lines-xy"  # the longest name init accepts
    assert len(name) == 40
    project = write_files(tmp_path / "project", project_files(name, template))
    lint_and_type_check(project, tmp_path)


@pytest.mark.slow
def test_readme_commands_work_verbatim_in_a_fresh_venv(tmp_path: Path) -> None:
    """The http template (it needs the most: the testing extra's fixture) from its README."""
    assert init(tmp_path, "shop", "--template", "http").returncode == 0
    project = tmp_path / "source-shop"
    commands = readme_commands((project / "README.md").read_text())
    assert commands[0] == 'pip install -e ".[dev]"'
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    # the README's precondition: singer-bridge installed (this checkout, not PyPI)
    subprocess.run([*pip, str(REPO)], check=True, capture_output=True, timeout=600)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        "VIRTUAL_ENV": str(venv),
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    said = {}
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, (command, done.stdout[-2000:], done.stderr[-2000:])
        said[command] = done.stdout
    assert said["source-shop spec"].startswith('{"type":"SPEC"')
    assert "1 passed" in said["pytest tests"]


def test_init_refuses_to_overwrite_and_bad_names(tmp_path: Path) -> None:
    assert init(tmp_path, "shop").returncode == 0
    again = init(tmp_path, "shop")
    assert again.returncode == 2 and "exists already" in again.stderr
    for bad in ("Shop", "9shop", "x" * 41):
        refused = init(tmp_path, bad)
        assert refused.returncode == 2 and "lower case" in refused.stderr


@pytest.mark.parametrize("template", TEMPLATE_NAMES)
def test_init_writes_a_meltano_project_that_stays_offline(template: str) -> None:
    """Every plugin is custom (a namespace: no Meltano Hub lookup), no version check, no
    telemetry; the extractor's settings come from the spec, secrets marked sensitive."""
    import yaml

    meltano = yaml.safe_load(project_files("shop", template)["meltano.yml"])
    assert meltano["send_anonymous_usage_stats"] is False
    assert meltano["cli"] == {"disable_version_check": True}
    assert meltano["project_id"] and meltano["default_environment"] == "dev"
    plugins = [p for kind in meltano["plugins"].values() for p in kind]
    assert all(p["namespace"] for p in plugins)
    (extractor,) = meltano["plugins"]["extractors"]
    expected = {"http": "source-shop", "python": "source-shop", "singer": "tap-shop"}
    assert extractor["executable"] == expected[template]
    assert {"catalog", "discover", "state"} <= set(extractor["capabilities"])
    if template == "http":
        assert extractor["settings"] == [
            {"name": "api_url"},
            {"name": "api_token", "sensitive": True},
        ]
