"""migrate-state and migrate-catalog: Singer pipelines move to Airbyte without a re-sync."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from airbyte_protocol.models import AirbyteStateMessage, ConfiguredAirbyteCatalog

from tests.scripted import SCRIPTED_TAP, singer_entry

USERS = singer_entry(
    "public-users",
    {"id": {"type": "integer"}, "email": {"type": "string"}, "updated_at": {"type": "string"}},
    stream="users",
    keys=["id"],
    md={"schema-name": "public"},
)
ORDERS = singer_entry(
    "orders", {"id": {"type": "integer"}, "at": {"type": "string"}}, replication_key="at"
)
CATALOG = {"streams": [USERS, ORDERS]}
SINGER_STATE = {
    "currently_syncing": "orders",
    "bookmarks": {
        "public-users": {"replication_key": "updated_at", "replication_key_value": "2024-03-01"},
        "orders": {"at": "2024-02-01"},
    },
}


def run_cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "singer_bridge", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp,
    )


def cli(tmp: Path, *args: str, catalog: dict[str, Any] = CATALOG) -> Any:
    (tmp / "catalog.json").write_text(json.dumps(catalog))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "singer_bridge",
            *args,
            "--singer-catalog",
            str(tmp / "catalog.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_singer_state_becomes_per_stream_airbyte_state_and_back(tmp_path: Path) -> None:
    (tmp_path / "singer.json").write_text(json.dumps(SINGER_STATE))
    airbyte = cli(tmp_path, "migrate-state", "--state", "singer.json")
    for message in airbyte:
        AirbyteStateMessage.model_validate(message)
    by_name = {m["stream"]["stream_descriptor"]["name"]: m["stream"] for m in airbyte}
    assert by_name["users"]["stream_descriptor"] == {"name": "users", "namespace": "public"}
    assert by_name["users"]["stream_state"]["replication_key_value"] == "2024-03-01"
    (tmp_path / "airbyte.json").write_text(json.dumps(airbyte))
    back = cli(tmp_path, "migrate-state", "--to", "singer", "--state", "airbyte.json")
    assert back["bookmarks"]["public-users"] == SINGER_STATE["bookmarks"]["public-users"]
    assert back["bookmarks"]["orders"] == SINGER_STATE["bookmarks"]["orders"]
    assert "currently_syncing" not in back


def test_meltano_stored_state_is_unwrapped(tmp_path: Path) -> None:
    (tmp_path / "meltano.json").write_text(json.dumps({"singer_state": SINGER_STATE}))
    airbyte = cli(tmp_path, "migrate-state", "--state", "meltano.json")
    assert {m["stream"]["stream_descriptor"]["name"] for m in airbyte} == {"users", "orders"}


def test_catalog_selection_becomes_a_configured_catalog(tmp_path: Path) -> None:
    users = json.loads(json.dumps(USERS))
    users["metadata"][0]["metadata"].update(
        {"selected": True, "replication-method": "INCREMENTAL", "replication-key": "updated_at"}
    )
    users["metadata"].append(
        {"breadcrumb": ["properties", "email"], "metadata": {"selected": False}}
    )
    configured = cli(tmp_path, "migrate-catalog", catalog={"streams": [users, ORDERS]})
    ConfiguredAirbyteCatalog.model_validate(configured)
    (stream,) = configured["streams"]
    assert stream["stream"]["name"] == "users" and stream["sync_mode"] == "incremental"
    assert stream["cursor_field"] == ["updated_at"]
    assert sorted(stream["stream"]["json_schema"]["properties"]) == ["id", "updated_at"]


def test_meltano_select_rules_pick_streams_and_fields(tmp_path: Path) -> None:
    configured = cli(
        tmp_path, "migrate-catalog", "--select", "public-users.*", "--select", "!public-users.email"
    )
    (stream,) = configured["streams"]
    assert stream["stream"]["name"] == "users"
    assert sorted(stream["stream"]["json_schema"]["properties"]) == ["id", "updated_at"]
    everything = cli(tmp_path, "migrate-catalog", "--select", "*.*")
    assert [s["stream"]["name"] for s in everything["streams"]] == ["users", "orders"]


def test_meltano_metadata_rules_set_replication_and_keys_stay(tmp_path: Path) -> None:
    configured = cli(
        tmp_path,
        "migrate-catalog",
        "--select",
        "public-users.email",
        "--metadata",
        "public-users.replication-method=INCREMENTAL",
        "--metadata",
        "public-users.replication-key=updated_at",
    )
    (stream,) = configured["streams"]
    assert stream["sync_mode"] == "incremental" and stream["cursor_field"] == ["updated_at"]
    # the key and the cursor travel with the one selected field: destinations need them
    assert sorted(stream["stream"]["json_schema"]["properties"]) == ["email", "id", "updated_at"]


def test_a_stream_the_tap_forces_incremental_stays_incremental(tmp_path: Path) -> None:
    configured = cli(tmp_path, "migrate-catalog", "--select", "orders.*")
    (stream,) = configured["streams"]
    assert stream["sync_mode"] == "incremental" and stream["cursor_field"] == ["at"]


def test_a_bad_metadata_rule_is_named(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text(json.dumps(CATALOG))
    proc = run_cli(
        tmp_path, "migrate-catalog", "--singer-catalog", "catalog.json", "--metadata", "x=y"
    )
    assert proc.returncode == 2 and "must look like STREAM.KEY=VALUE" in proc.stderr


def test_global_state_mode_of_the_bridge_config_gives_global_state(tmp_path: Path) -> None:
    (tmp_path / "singer.json").write_text(json.dumps(SINGER_STATE))
    (tmp_path / "bridge.json").write_text(json.dumps({"state_mode": "global"}))
    (message,) = cli(
        tmp_path, "migrate-state", "--bridge-config", "bridge.json", "--state", "singer.json"
    )
    AirbyteStateMessage.model_validate(message)
    assert message["type"] == "GLOBAL"
    (tmp_path / "airbyte.json").write_text(json.dumps([message]))
    back = cli(tmp_path, "migrate-state", "--to", "singer", "--state", "airbyte.json")
    assert back["bookmarks"] == SINGER_STATE["bookmarks"]


def test_the_tap_discovers_the_catalog_when_none_is_given(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"catalog": CATALOG}))
    (tmp_path / "singer.json").write_text(json.dumps(SINGER_STATE))
    tap = " ".join(SCRIPTED_TAP)
    proc = run_cli(
        tmp_path, "migrate-state", "--tap", tap, "--config", "config.json", "--state", "singer.json"
    )
    assert proc.returncode == 0, proc.stderr
    names = {m["stream"]["stream_descriptor"]["name"] for m in json.loads(proc.stdout)}
    assert names == {"users", "orders"}
