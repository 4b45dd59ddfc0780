"""`singer-bridge package`: a connector folder in Airbyte's conventions that installs and runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from singer_bridge._cli.tools.package import Connector, files
from tests.airbyte_check import validate_metadata
from tests.scripted import SCRIPTED_TAP
from tests.support.generated import lint_and_type_check, write_files

REPO = Path(__file__).resolve().parent.parent


def package(
    tmp: Path, *args: str, python: str = sys.executable, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, "-m", "singer_bridge", "package", "--out", str(tmp), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        **kwargs,
    )


def venv_with_dependencies_of_this_one(folder: Path) -> Path:
    """A fresh venv whose imports fall back on this venv's site-packages (singer-bridge's
    dependencies, offline) without its editable singer-bridge (a ``.pth`` line adds the folder
    to ``sys.path`` but runs none of its ``.pth`` files); its python."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    (site,) = folder.glob("lib/python3*/site-packages")
    ours = next(p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    (site / "dependencies.pth").write_text(ours + "\n")
    return folder / "bin" / "python"


@pytest.fixture(scope="module")
def wheel_installed_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A python whose singer-bridge is installed from a wheel built from this checkout."""
    tmp = tmp_path_factory.mktemp("wheel-install")
    source = tmp / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(REPO / name, source / name)
    shutil.copytree(
        REPO / "singer_bridge",
        source / "singer_bridge",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]  # as a user builds it
    subprocess.run([*pip_wheel, "-w", str(tmp / "dist"), str(source)], check=True)
    (wheel,) = (tmp / "dist").glob("singer_bridge-*.whl")
    python = venv_with_dependencies_of_this_one(tmp / "venv")
    pip_install = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip_install, str(wheel)], check=True)
    return python


def package_ok(tmp: Path, name: str, *args: str) -> tuple[Path, str]:
    """`singer-bridge package --name NAME ARGS` succeeded: its folder and its Dockerfile."""
    proc = package(tmp, "--name", name, *args)
    assert proc.returncode == 0, proc.stderr
    folder = tmp / name
    return folder, (folder / "Dockerfile").read_text()


def run_packaged(folder: Path, module: str, *args: str, tap: str) -> list[dict]:
    env = {**os.environ, "SINGER_BRIDGE_TAP": tap, "PYTHONPATH": str(folder)}
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}; {module}.main()", *args],
        capture_output=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


PG_TAP = "pipelinewise-tap-postgres==1.8.4"  # in the real-tap venvs, so installed already


@pytest.mark.realtap
def test_package_writes_an_installable_connector(tmp_path: Path) -> None:
    folder, dockerfile = package_ok(
        tmp_path, "source-pg", "--subtype", "database", "--tap-pip", PG_TAP
    )
    assert 'ENV AIRBYTE_ENTRYPOINT="source-pg"' in dockerfile
    assert 'ENTRYPOINT ["source-pg"]' in dockerfile
    assert "LABEL io.airbyte.name=airbyte/source-pg" in dockerfile
    assert "LABEL io.airbyte.version=0.1.0" in dockerfile
    assert 'SINGER_BRIDGE_TAP="/opt/tap/bin/tap-postgres"' in dockerfile
    # the image's tap venv is exactly the one tried here: its pip freeze, installed --no-deps
    lock = (folder / "tap-lock.txt").read_text().splitlines()
    assert PG_TAP in lock and any(line.startswith("psycopg2-binary==") for line in lock)
    assert all("==" in line for line in lock)
    assert "/opt/tap/bin/pip install --no-cache-dir --no-deps -r /tmp/tap-lock.txt" in dockerfile
    metadata = validate_metadata((folder / "metadata.yaml").read_text())
    assert metadata["data"]["license"] == "AGPL-3.0-only"  # the tap's classifier, not MIT
    assert metadata["data"]["dockerRepository"] == "airbyte/source-pg"
    assert metadata["data"]["dockerImageTag"] == "0.1.0"
    assert metadata["data"]["connectorSubtype"] == "database"
    assert "**/__pycache__" in (folder / ".dockerignore").read_text().splitlines()
    assert list((folder / "wheels").glob("singer_bridge-*.whl"))
    # the package builds, and its command is the bridge around the tap named in the image
    wheel_dir = tmp_path / "w"
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir)]
    subprocess.run(
        [*pip_wheel, str(folder)],
        check=True,
        capture_output=True,
    )
    assert list(wheel_dir.glob("source_pg-0.1.0-*.whl"))
    (spec,) = run_packaged(folder, "source_pg", "spec", tap=" ".join(SCRIPTED_TAP))
    assert spec["type"] == "SPEC"


@pytest.mark.realtap
def test_a_tap_installed_from_a_local_path_is_packaged_with_its_bridge_config(
    tmp_path: Path,
) -> None:
    from tests.support.realtaps import ALL_VENVS
    from tests.support.tapvenv import tap_bin

    installed = tap_bin("tap-demo", ALL_VENVS["tap-demo"]) / "tap-demo"
    spec = {"connectionSpecification": {"type": "object", "properties": {"k": {"type": "string"}}}}
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "spec.json").write_text(json.dumps(spec))
    bridge = {"tap": ["/somewhere/local"], "spec_file": "spec.json", "catalog_flag": "--catalog"}
    (tmp_path / "conf" / "bridge.json").write_text(json.dumps(bridge))
    folder, dockerfile = package_ok(
        tmp_path,
        "source-demo",
        "--tap",
        f"{installed} --debug",
        "--bridge-config",
        str(tmp_path / "conf" / "bridge.json"),
    )
    # the tap's source travels in the build context once; the image installs the copy
    assert "COPY tap-src/ /tmp/tap-src/" in dockerfile
    assert "COPY . ." not in dockerfile and dockerfile.count("COPY tap-src/") == 1
    assert "tap-demo @ file:///tmp/tap-src/tap-demo" in (folder / "tap-lock.txt").read_text()
    metadata = validate_metadata((folder / "metadata.yaml").read_text())
    assert metadata["data"]["license"] == "TODO"  # tap-demo declares none
    assert (folder / "tap-src" / "tap-demo" / "pyproject.toml").exists()
    assert not (folder / "tap-src" / "tap-demo" / "build").exists()
    assert 'SINGER_BRIDGE_TAP="/opt/tap/bin/tap-demo --debug"' in dockerfile
    packaged = json.loads((folder / "source_demo" / "bridge.json").read_text())
    assert packaged["spec_file"] == "spec.json" and "tap" not in packaged
    (message,) = run_packaged(folder, "source_demo", "spec", tap=str(installed))
    assert message["spec"]["connectionSpecification"]["properties"] == {"k": {"type": "string"}}


def test_packaged_code_passes_ruff_and_strict_mypy(tmp_path: Path) -> None:
    connector = Connector(
        "source-a-long-connector-name-for-long-lines",
        "1.2.3",
        ["tap-x==1.0", "/tmp/tap-src/tap-y"],
        ["/opt/tap/bin/tap-x", "--config-flag", "it's quoted"],
    )
    written = files(connector, local_sources=True)
    folder = write_files(tmp_path / "folder", written)
    lint_and_type_check(folder, tmp_path)
    assert "COPY tap-src/ /tmp/tap-src/\n" in written["Dockerfile"]
    assert "COPY tap-src" not in files(connector)["Dockerfile"]
    assert (
        "SINGER_BRIDGE_TAP=\"/opt/tap/bin/tap-x --config-flag 'it'\"'\"'s quoted'\""
        in (written["Dockerfile"])
    )
    module = folder / connector.module / "__init__.py"
    namespace: dict[str, object] = {"__file__": str(module)}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    assert namespace["DEFAULT_TAP"] == "/opt/tap/bin/tap-x --config-flag 'it'\"'\"'s quoted'"


def dockerfile_steps(dockerfile: str) -> list[str]:
    """The instructions of a Dockerfile, continuation lines joined, comments left out."""
    joined = dockerfile.replace("\\\n", " ")
    lines = joined.splitlines()
    return [" ".join(line.split()) for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.realtap
def test_package_works_from_a_wheel_install_offline_and_ships_an_installable_wheel(
    tmp_path: Path, wheel_installed_python: Path
) -> None:
    # no package index at all: the bridge wheel is rebuilt from the installed files
    offline = {**os.environ, "PIP_NO_INDEX": "1", "PIP_INDEX_URL": "http://127.0.0.1:9/"}
    proc = package(
        tmp_path / "out",
        "--name",
        "source-pg",
        "--tap-pip",
        PG_TAP,
        python=str(wheel_installed_python),
        cwd=tmp_path,  # not the checkout: `-m singer_bridge` must import the installed copy
        env=offline,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "source-pg" / ".dockerignore").exists()  # template in the wheel
    (wheel,) = (tmp_path / "out" / "source-pg" / "wheels").glob("*.whl")
    assert wheel.name == "singer_bridge-0.1.0-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "singer_bridge/_cli/tools/templates/package/native/Dockerfile.jinja" in names
    assert "singer_bridge-0.1.0.dist-info/entry_points.txt" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("..")]
    # the shipped wheel installs and runs: package again from a venv holding only it
    python = venv_with_dependencies_of_this_one(tmp_path / "again")
    pip_install = [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run([*pip_install, str(wheel)], check=True)
    again = package(
        tmp_path / "out2",
        "--name",
        "source-pg",
        "--tap-pip",
        PG_TAP,
        python=str(python),
        cwd=tmp_path,
        env=offline,
    )
    assert again.returncode == 0, again.stderr


def test_a_failed_package_leaves_nothing_behind(tmp_path: Path) -> None:
    failed = package(
        tmp_path, "--name", "source-x", "--tap-pip", "tap-x", "--bridge-config", "missing.json"
    )
    assert failed.returncode == 2 and "missing.json" in failed.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_native_source_from_init_is_packaged_with_one_command(tmp_path: Path) -> None:
    init = [sys.executable, "-m", "singer_bridge", "init", "shop", "--template", "python"]
    subprocess.run([*init, "--out", str(tmp_path)], check=True, capture_output=True)
    project = tmp_path / "source-shop"
    (project / ".venv").mkdir()  # a developer's venv is never copied
    folder, dockerfile = package_ok(tmp_path / "out", "source-shop", "--native", str(project))
    assert "COPY native-src/ /tmp/native-src/" in dockerfile
    install = next(step for step in dockerfile_steps(dockerfile) if "pip install" in step)
    assert "--find-links wheels/ wheels/singer_bridge-0.1.0-py3-none-any.whl" in install
    assert "/tmp/native-src/source-shop && rm -rf /tmp/native-src" in install
    assert 'ENTRYPOINT ["source-shop"]' in dockerfile
    assert 'ENV AIRBYTE_ENTRYPOINT="source-shop"' in dockerfile
    assert (folder / "native-src" / "source-shop" / "pyproject.toml").exists()
    assert not (folder / "native-src" / "source-shop" / ".venv").exists()
    assert not (folder / "source_shop").exists()  # no wrapper package: the source is one
    validate_metadata((folder / "metadata.yaml").read_text())
    # the image's install step, in a clean venv: singer-bridge comes from the shipped wheel
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "image")], check=True)
    pip = [str(tmp_path / "image" / "bin" / "pip"), "install", "-q", "--no-cache-dir"]
    args = install.split("--no-cache-dir", 1)[1].split("&&")[0].split()
    args = [
        str(folder / "native-src" / "source-shop") if a.startswith("/tmp/") else a for a in args
    ]
    subprocess.run([*pip, *args], check=True, cwd=folder)
    wheel_file = subprocess.run(
        [
            str(tmp_path / "image" / "bin" / "python"),
            "-c",
            "import importlib.metadata as m; "
            "print(m.distribution('singer-bridge').read_text('WHEEL'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,  # not the checkout, whose own singer_bridge would be found first
    ).stdout
    assert "rebuilt from the installed distribution" in wheel_file
    spec = subprocess.run(
        [str(tmp_path / "image" / "bin" / "source-shop"), "spec"],
        capture_output=True,
        check=True,
    )
    assert json.loads(spec.stdout.splitlines()[-1])["type"] == "SPEC"


def test_a_native_source_from_a_pip_spec_is_installed_from_it(tmp_path: Path) -> None:
    _, dockerfile = package_ok(
        tmp_path, "source-shop", "--native", "source-shop==1.0", "--native-command", "shop"
    )
    assert "COPY native-src" not in dockerfile
    (install,) = [step for step in dockerfile_steps(dockerfile) if "pip install" in step]
    assert "wheels/singer_bridge-0.1.0-py3-none-any.whl source-shop==1.0 &&" in install
    assert 'ENTRYPOINT ["shop"]' in dockerfile
    mixed = package(tmp_path, "--name", "source-y", "--native", "x", "--tap-pip", "tap-x")
    assert mixed.returncode == 2 and "--native is a source of its own" in mixed.stderr


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(["--tap-pip", PG_TAP], marks=pytest.mark.realtap),
        ["--native", "source-x==1.0"],
    ],
)
def test_the_image_runs_as_the_unprivileged_airbyte_user_and_can_read_its_files(
    tmp_path: Path, source: list[str]
) -> None:
    # written under a strict umask, the files are still readable by the image's user
    proc = package(tmp_path, "--name", "source-x", *source, preexec_fn=lambda: os.umask(0o077))
    assert proc.returncode == 0, proc.stderr
    folder = tmp_path / "source-x"
    for path in [folder, *folder.rglob("*")]:
        wanted = 0o005 if path.is_dir() else 0o004
        assert path.stat().st_mode & wanted == wanted, path
    steps = dockerfile_steps((folder / "Dockerfile").read_text())
    keywords = [step.split()[0] for step in steps]
    user = keywords.index("USER")
    assert steps[user] == "USER airbyte"
    assert any("useradd --create-home --uid 1000 --user-group airbyte" in step for step in steps)
    # every install step runs as root before, the connector after
    assert user > max(i for i, word in enumerate(keywords) if word in ("RUN", "COPY"))
    assert user < keywords.index("ENTRYPOINT")
    last_run = steps[max(i for i, word in enumerate(keywords) if word == "RUN")]
    assert "chmod -R a+rX /airbyte" in last_run
    # a chmod in a later layer than the one that made the files stores them all again
    runs = [step for step in steps if step.startswith("RUN")]
    for made in [step for step in runs if "python -m venv /opt/tap" in step]:
        assert "chmod -R a+rX /opt/tap" in made
        assert not [step for step in runs if "/opt/tap" in step and step != made]
    assert len([step for step in runs if "/opt/tap" in step]) == ("--tap-pip" in source)


def test_package_names_what_is_missing(tmp_path: Path) -> None:
    bad_name = package(tmp_path, "--tap-pip", "tap-x", "--name", "Bad Name")
    assert bad_name.returncode == 2 and "--name must look like source-x" in bad_name.stderr
    no_spec = package(tmp_path, "--tap", "tap-x", "--name", "source-x")
    assert no_spec.returncode == 2 and "name the tap with --tap-pip SPEC" in no_spec.stderr
