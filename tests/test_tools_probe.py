"""probe: what a tap can do, and the bridge config it suggests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripted import SCRIPTED_TAP, singer_entry


def probe(tmp: Path, tap: str, *args: str, env: dict[str, str] | None = None) -> tuple[dict, dict]:
    out = tmp / "bridge.json"
    command = [sys.executable, "-m", "singer_bridge", "probe", "--tap", tap]
    proc = subprocess.run(
        [*command, "--write-config", str(out), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), json.loads(out.read_text())


def test_probe_reports_streams_and_suggests_a_config(tmp_path: Path) -> None:
    catalog = {
        "streams": [
            singer_entry(
                "users",
                {"id": {"type": "integer"}, "at": {"type": "string"}},
                keys=["id"],
                replication_key="at",
            )
        ]
    }
    (tmp_path / "config.json").write_text(json.dumps({"catalog": catalog}))
    report, suggested = probe(
        tmp_path, " ".join(SCRIPTED_TAP), "--config", str(tmp_path / "config.json")
    )
    assert report["about"] is True and "state" in report["capabilities"]
    assert report["catalog_flag"] == "--catalog" and suggested["catalog_flag"] == "--catalog"
    (stream,) = report["streams"]
    assert stream["incremental_keys"] == ["at"] and stream["primary_key"] == [["id"]]
    from singer_bridge.bridge_config import load_bridge_config

    assert load_bridge_config(tmp_path / "bridge.json").catalog_flag == "--catalog"


def test_a_tap_without_about_gets_a_spec_inferred_from_the_config(tmp_path: Path) -> None:
    (tmp_path / "about.txt").write_text("no --about here")
    config = {"catalog": {"streams": []}, "host": "db", "port": 5432, "api_token": "t-1"}
    (tmp_path / "config.json").write_text(json.dumps(config))
    env = {**os.environ, "TAP_SCRIPTED_ABOUT": str(tmp_path / "about.txt")}
    report, suggested = probe(
        tmp_path, " ".join(SCRIPTED_TAP), "--config", str(tmp_path / "config.json"), env=env
    )
    assert report["about"] is False and suggested["spec_file"] == "bridge.spec.json"
    bridge = str(tmp_path / "bridge.json")
    spec = subprocess.run(
        [sys.executable, "-m", "singer_bridge", "--bridge-config", bridge, "spec"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    properties = json.loads(spec.stdout)["spec"]["connectionSpecification"]["properties"]
    assert properties["port"] == {"type": "integer"}
    assert properties["api_token"] == {"type": "string", "airbyte_secret": True}


@pytest.mark.realtap
def test_probe_of_a_singer_python_tap_without_about(tmp_path: Path) -> None:
    from tests.support.realtaps import ALL_VENVS
    from tests.support.tapvenv import tap_bin

    tap = (
        tap_bin("pipelinewise-tap-postgres", ALL_VENVS["pipelinewise-tap-postgres"])
        / "tap-postgres"
    )
    report, suggested = probe(tmp_path, str(tap))
    assert report["about"] is False and suggested["catalog_flag"] == "both"
    assert any("spec_file" in tip for tip in report["advice"])
    from singer_bridge.bridge_config import load_bridge_config

    assert load_bridge_config(tmp_path / "bridge.json").tap == [str(tap)]
