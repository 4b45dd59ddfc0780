"""Replication the user and the tap choose: bridge config ``replication_method``, log-based,
a tap's own methods, taps that keep their own bookmark, and taps given no catalog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.scripted import bridge, configured_catalog, discover, singer_entry

PROPS = {"id": {"type": "integer"}, "name": {"type": "string"}}


def _sql_entry(table: str, md: dict[str, Any] | None = None) -> dict[str, Any]:
    return singer_entry(
        f"public-{table}",
        PROPS,
        stream=f"public-{table}",
        keys=["id"],
        md={"schema-name": "public", **(md or {})},
    )


def _script(
    tmp: Path, catalog: dict[str, Any], messages: list[Any] | None = None
) -> dict[str, Any]:
    return {
        "catalog": catalog,
        "messages": messages or [],
        "record_inputs": str(tmp / "inputs.json"),
    }


def _inputs(tmp: Path) -> dict[str, Any]:
    return json.loads((tmp / "inputs.json").read_text())


def _root_md(entry: dict[str, Any]) -> dict[str, Any]:
    return next(m["metadata"] for m in entry["metadata"] if not m["breadcrumb"])


def _stream(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in catalog["streams"] if s["name"] == name)


def _with_bridge_config(tmp: Path, doc: dict[str, Any]) -> dict[str, Any]:
    path = tmp / "bridge.json"
    path.write_text(json.dumps(doc))
    return {"bridge-config": path}


def test_log_based_chosen_in_the_bridge_config_is_incremental_and_reaches_the_tap(
    tmp_path: Path,
) -> None:
    script = _script(tmp_path, {"streams": [_sql_entry("users")]})
    config = _with_bridge_config(
        tmp_path, {"streams": {"public-users": {"replication_method": "LOG_BASED"}}}
    )
    run = bridge(tmp_path, script, "discover", **config)
    users = _stream(run.messages[-1]["catalog"], "users")
    assert users["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert users["source_defined_cursor"] is True

    state = [
        {
            "type": "STREAM",
            "stream": {
                "stream_descriptor": {"name": "users", "namespace": "public"},
                "stream_state": {"lsn": 42},
            },
        }
    ]
    read = bridge(
        tmp_path,
        script,
        "read",
        catalog={
            "streams": [
                {
                    "stream": users,
                    "sync_mode": "incremental",
                    "destination_sync_mode": "append_dedup",
                    "cursor_field": [],
                    "primary_key": [["id"]],
                }
            ]
        },
        state=state,
        **config,
    )
    assert read.code == 0
    entry = _inputs(tmp_path)["catalog"]["streams"][0]
    assert _root_md(entry)["replication-method"] == "LOG_BASED"
    assert _inputs(tmp_path)["state"]["bookmarks"]["public-users"] == {"lsn": 42}
    assert not [m for m in read.messages if m["type"] == "LOG" and m["log"]["level"] == "WARN"]


@pytest.mark.parametrize("where", ["bridge-config", "catalog-file"])
def test_a_method_of_the_taps_own_is_kept(tmp_path: Path, where: str) -> None:
    entry = _sql_entry("report")
    bridge_config: dict[str, Any] = {"streams": {"report": {"replication_method": "CUSTOM_QUERY"}}}
    if where == "catalog-file":
        _root_md(entry)["replication-method"] = "CUSTOM_QUERY"
        (tmp_path / "singer-catalog.json").write_text(json.dumps({"streams": [entry]}))
        bridge_config = {"catalog_file": "singer-catalog.json"}
    script = _script(tmp_path, {"streams": [_sql_entry("report")]})
    config = _with_bridge_config(tmp_path, bridge_config)
    for sync_mode in ("full_refresh", "incremental"):
        catalog = configured_catalog(
            discover_with(tmp_path, script, config), incremental=sync_mode == "incremental"
        )
        assert bridge(tmp_path, script, "read", catalog=catalog, **config).code == 0
        sent = _inputs(tmp_path)["catalog"]["streams"][0]
        assert _root_md(sent)["replication-method"] == "CUSTOM_QUERY"


def discover_with(tmp: Path, script: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    run = bridge(tmp, script, "discover", **config)
    assert run.code == 0, run.stdout
    catalog: dict[str, Any] = run.messages[-1]["catalog"]
    return catalog


def test_full_table_chosen_in_the_bridge_config_offers_full_refresh_only(tmp_path: Path) -> None:
    script = _script(tmp_path, {"streams": [_sql_entry("users")]})
    config = _with_bridge_config(
        tmp_path, {"streams": {"users": {"replication_method": "FULL_TABLE"}}}
    )
    users = _stream(discover_with(tmp_path, script, config), "users")
    assert users["supported_sync_modes"] == ["full_refresh"]


def test_a_tap_that_keeps_its_own_bookmark_resumes_from_it(tmp_path: Path) -> None:
    """A file tap forces INCREMENTAL but names no replication key: it bookmarks by itself."""
    files = singer_entry("files", PROPS, md={"forced-replication-method": "INCREMENTAL"})
    messages = [
        {"type": "RECORD", "stream": "files", "record": {"id": 1, "name": "a.csv"}},
        {"type": "STATE", "value": {"bookmarks": {"files": {"modified_since": "2024-05-01"}}}},
    ]
    script = _script(tmp_path, {"streams": [files]}, messages)
    discovered = discover(tmp_path, script)
    assert _stream(discovered, "files")["source_defined_cursor"] is True
    catalog = configured_catalog(discovered)
    first = bridge(tmp_path, script, "read", catalog=catalog)
    states = [m["state"] for m in first.messages if m["type"] == "STATE"]
    assert not [
        m for m in first.messages if m["type"] == "LOG" and "full refresh" in m["log"]["message"]
    ]
    second = bridge(
        tmp_path,
        script,
        "read",
        catalog=catalog,
        state=[{"type": "STREAM", "stream": states[-1]["stream"]}],
    )
    assert second.code == 0
    assert _inputs(tmp_path)["state"]["bookmarks"]["files"] == {"modified_since": "2024-05-01"}


def test_catalog_flag_none_passes_no_catalog_and_keeps_only_configured_streams(
    tmp_path: Path,
) -> None:
    entries = [singer_entry("wanted", PROPS), singer_entry("other", PROPS)]
    messages = [
        {"type": "RECORD", "stream": "wanted", "record": {"id": 1, "name": "x"}},
        {"type": "RECORD", "stream": "other", "record": {"id": 2, "name": "y"}},
    ]
    script = _script(tmp_path, {"streams": entries}, messages)
    config = _with_bridge_config(tmp_path, {"catalog_flag": "none"})
    catalog = configured_catalog(discover_with(tmp_path, script, config), only=["wanted"])
    run = bridge(tmp_path, script, "read", catalog=catalog, **config)
    assert run.code == 0
    argv = _inputs(tmp_path)["argv"]
    assert "--catalog" not in argv and "--properties" not in argv
    records = [m["record"]["stream"] for m in run.messages if m["type"] == "RECORD"]
    assert records == ["wanted"]
    warnings = [
        m["log"]["message"]
        for m in run.messages
        if m["type"] == "LOG" and m["log"]["level"] == "WARN"
    ]
    assert any("'other'" in w for w in warnings)


def test_streams_that_resume_say_so_in_the_catalog(tmp_path: Path) -> None:
    files = singer_entry("files", PROPS, md={"forced-replication-method": "INCREMENTAL"})
    script = _script(tmp_path, {"streams": [files, _sql_entry("users")]})
    config = _with_bridge_config(
        tmp_path, {"streams": {"users": {"replication_method": "FULL_TABLE"}}}
    )
    catalog = discover_with(tmp_path, script, config)
    assert _stream(catalog, "files")["is_resumable"] is True
    assert _stream(catalog, "users")["is_resumable"] is False
