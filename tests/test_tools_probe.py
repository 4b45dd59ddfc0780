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
    from singer_bridge._tap.bridge_config import load_bridge_config

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
    from singer_bridge._tap.bridge_config import load_bridge_config

    assert load_bridge_config(tmp_path / "bridge.json").tap == [str(tap)]


def test_a_written_bridge_config_works_from_anywhere_and_starts_the_tap_once_per_read(
    tmp_path: Path,
) -> None:
    """probe --write-config --write-catalog records what a read would otherwise ask the tap."""
    tap_dir = tmp_path / "taps"
    tap_dir.mkdir()
    local_tap = tap_dir / "tap_scripted.py"
    local_tap.write_text(Path(SCRIPTED_TAP[1]).read_text())
    table = singer_entry(
        "public-orders",
        {"id": {"type": "integer"}, "updated_at": {"type": "string", "format": "date-time"}},
        keys=["id"],
        md={"schema-name": "public"},
    )
    starts = tmp_path / "starts.log"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"catalog": {"streams": [table]}, "starts_log": str(starts)}))
    settings = tmp_path / "settings"
    settings.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "probe",
            "--tap",
            f"{sys.executable} taps/tap_scripted.py",
            "--config",
            str(config),
            "--write-config",
            "settings/bridge.json",
            "--write-catalog",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    suggested = json.loads((settings / "bridge.json").read_text())
    assert suggested["tap"][1] == str(local_tap)  # absolute: the config works from any folder
    assert suggested["spec_file"] == "bridge.spec.json"
    assert suggested["catalog_file"] == "bridge.catalog.json"
    assert suggested["streams"] == {"public-orders": {"cursor_field": ["updated_at"]}}

    catalog = {
        "streams": [
            {
                "stream": {"name": "orders", "namespace": "public"},
                "sync_mode": "incremental",
                "destination_sync_mode": "append",
            }
        ]
    }
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    starts.write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    read = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            "--bridge-config",
            str(settings / "bridge.json"),
            "read",
            "--config",
            str(config),
            "--catalog",
            str(tmp_path / "catalog.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=elsewhere,
    )
    assert read.returncode == 0, read.stdout
    started = [json.loads(line) for line in starts.read_text().splitlines()]
    assert len(started) == 1 and "--discover" not in started[0] and "--about" not in started[0]
    assert "--catalog" in started[0]
    assert '"status":"COMPLETE"' in read.stdout
