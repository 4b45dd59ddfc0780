"""`singer-bridge package`: a connector folder in Airbyte's conventions that installs and runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from singer_bridge._cli.tools.package import Connector, files
from tests.scripted import SCRIPTED_TAP
from tests.support.generated import lint_and_type_check, write_files

SUBTYPES = ("api", "database", "datalake", "file", "custom", "message_queue", "unknown")
# The fields and enums of Airbyte's ConnectorMetadataDefinitionV0 that a folder must get right.
METADATA_SCHEMA = {
    "type": "object",
    "required": ["metadataSpecVersion", "data"],
    "properties": {
        "data": {
            "type": "object",
            "required": [
                "name",
                "definitionId",
                "connectorType",
                "dockerRepository",
                "dockerImageTag",
                "license",
                "documentationUrl",
                "githubIssueLabel",
                "connectorSubtype",
                "releaseStage",
            ],
            "properties": {
                "connectorType": {"enum": ["source", "destination"]},
                "connectorSubtype": {"enum": [*SUBTYPES]},
                "releaseStage": {"enum": ["alpha", "beta", "generally_available", "custom"]},
                "supportLevel": {"enum": ["community", "certified", "archived"]},
            },
        }
    },
}


def package(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "singer_bridge", "package", "--out", str(tmp), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


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


def test_package_writes_an_installable_connector(tmp_path: Path) -> None:
    folder, dockerfile = package_ok(
        tmp_path,
        "source-pg",
        "--subtype",
        "database",
        "--tap-pip",
        "pipelinewise-tap-postgres==1.8.4",
    )
    assert 'ENV AIRBYTE_ENTRYPOINT="source-pg"' in dockerfile
    assert 'ENTRYPOINT ["source-pg"]' in dockerfile
    assert "LABEL io.airbyte.name=airbyte/source-pg" in dockerfile
    assert "LABEL io.airbyte.version=0.1.0" in dockerfile
    assert "/opt/tap/bin/pip install --no-cache-dir pipelinewise-tap-postgres==1.8.4" in dockerfile
    assert 'SINGER_BRIDGE_TAP="/opt/tap/bin/tap-postgres"' in dockerfile
    metadata = yaml.safe_load((folder / "metadata.yaml").read_text())
    jsonschema.validate(metadata, METADATA_SCHEMA)
    assert metadata["data"]["dockerRepository"] == "airbyte/source-pg"
    assert metadata["data"]["connectorSubtype"] == "database"
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
    # the tap's source travels in the build context; the image installs the copy
    assert "COPY tap-src/ /tmp/tap-src/" in dockerfile
    assert "pip install --no-cache-dir /tmp/tap-src/tap-demo" in dockerfile
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


def test_package_names_what_is_missing(tmp_path: Path) -> None:
    bad_name = package(tmp_path, "--tap-pip", "tap-x", "--name", "Bad Name")
    assert bad_name.returncode == 2 and "--name must look like source-x" in bad_name.stderr
    no_spec = package(tmp_path, "--tap", "tap-x", "--name", "source-x")
    assert no_spec.returncode == 2 and "name the tap with --tap-pip SPEC" in no_spec.stderr
