"""State that survives real taps: shared keys lossless and newest-wins, removals honoured,
every stream's state at least once per successful read (issue 9, items 5 and 6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from singer_bridge._translate.state import (
    SHARED_AT_KEY,
    SHARED_KEY,
    singer_state_from_airbyte,
)
from tests.scripted import bridge, configured_catalog, discover, singer_entry

PROPS = {"id": {"type": "integer"}, "v": {"type": "integer"}}
CATALOG = {
    "streams": [
        singer_entry("items", PROPS, keys=["id"], replication_key="v"),
        singer_entry("notes", PROPS, keys=["id"], replication_key="v"),
    ]
}


def _record(stream: str, i: int) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": {"id": i, "v": i}}


def _state(value: dict[str, Any]) -> dict[str, Any]:
    return {"type": "STATE", "value": value}


def _read(tmp: Path, messages: list[Any], state: Any = None) -> tuple[int, list[dict[str, Any]]]:
    script = {"catalog": CATALOG, "messages": messages, "record_inputs": str(tmp / "inputs.json")}
    catalog = configured_catalog(discover(tmp, script))
    files: dict[str, Any] = {"catalog": catalog}
    if state is not None:
        files["state"] = state
    run = bridge(tmp, script, "read", **files)
    return run.code, run.messages


def _states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["state"] for m in messages if m["type"] == "STATE"]


def _final_states(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a client stores: the last state of each stream."""
    last: dict[str, dict[str, Any]] = {}
    for s in _states(messages):
        last[s["stream"]["stream_descriptor"]["name"]] = {"type": "STREAM", "stream": s["stream"]}
    return list(last.values())


def _tap_state(tmp: Path) -> Any:
    return json.loads((tmp / "inputs.json").read_text())["state"]


def test_a_state_with_only_shared_keys_reaches_airbyte_and_comes_back(tmp_path: Path) -> None:
    messages = [
        _record("items", 1),
        _state({"bookmarks": {"items": {"v": 1}}, "lsn": 10}),
        _state({"lsn": 11}),  # only a log position moved on: no bookmarks in this STATE
    ]
    code, out = _read(tmp_path, messages)
    assert code == 0
    shared = [s["stream"]["stream_state"].get(SHARED_KEY) for s in _states(out)]
    assert {"lsn": 11} in shared
    _read(tmp_path, [], state=_final_states(out))
    assert _tap_state(tmp_path)["lsn"] == 11


def test_a_shared_key_the_tap_drops_does_not_come_back(tmp_path: Path) -> None:
    messages = [
        _record("items", 1),
        _state({"bookmarks": {"items": {"v": 1}}, "syncing_marker": "items"}),
        _record("notes", 1),
        _state({"bookmarks": {"items": {"v": 1}, "notes": {"v": 1}}}),  # sync done: marker gone
    ]
    code, out = _read(tmp_path, messages)
    assert code == 0
    _read(tmp_path, [], state=_final_states(out))
    assert "syncing_marker" not in _tap_state(tmp_path)
    assert _tap_state(tmp_path)["bookmarks"] == {"items": {"v": 1}, "notes": {"v": 1}}


def test_the_newest_shared_keys_win_whatever_the_order_of_stream_states() -> None:
    def stream_state(name: str, lsn: int, at: int) -> dict[str, Any]:
        return {
            "type": "STREAM",
            "stream": {
                "stream_descriptor": {"name": name},
                "stream_state": {"v": 1, SHARED_KEY: {"lsn": lsn}, SHARED_AT_KEY: at},
            },
        }

    ids = {("items", None): "items", ("notes", None): "notes"}
    newer, older = stream_state("items", 20, 2000), stream_state("notes", 10, 1000)
    for doc in ([newer, older], [older, newer]):
        assert singer_state_from_airbyte(doc, ids)["lsn"] == 20


def test_a_resumed_read_without_new_records_still_states_every_stream(tmp_path: Path) -> None:
    state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "items"}, "stream_state": {"v": 5}},
        },
    ]
    code, out = _read(tmp_path, [], state=state)  # the tap has nothing new and says nothing
    assert code == 0
    by_stream = {s["stream"]["stream_descriptor"]["name"]: s for s in _states(out)}
    assert set(by_stream) == {"items", "notes"}
    assert by_stream["items"]["stream"]["stream_state"] == {"v": 5}
    assert by_stream["items"]["sourceStats"]["recordCount"] == 0


def test_a_resumed_tap_is_told_no_stream_was_mid_sync(tmp_path: Path) -> None:
    """pipelinewise's log-based sync reads state["currently_syncing"]: it must be there."""
    state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": "items"}, "stream_state": {"v": 5}},
        },
    ]
    code, _ = _read(tmp_path, [], state=state)
    assert code == 0
    assert _tap_state(tmp_path) == {"currently_syncing": None, "bookmarks": {"items": {"v": 5}}}


@pytest.mark.parametrize("state_mode", ["stream", "global"])
def test_every_configured_stream_gets_a_state_in_both_state_modes(
    tmp_path: Path, state_mode: str
) -> None:
    """A tap may keep a child stream's bookmark under its parent's: the child still gets a
    state of its own (empty), in GLOBAL state as in per-stream state (issue 18, item 1)."""
    (tmp_path / "bridge.json").write_text(json.dumps({"state_mode": state_mode}))
    parent_state = {"bookmarks": {"items": {"v": 2, "children": {"notes": {"v": 9}}}}}
    messages = [_record("items", 2), _record("notes", 9), _state(parent_state)]
    script = {"catalog": CATALOG, "messages": messages}
    catalog = configured_catalog(discover(tmp_path, script))
    run = bridge(
        tmp_path, script, "read", catalog=catalog, **{"bridge-config": tmp_path / "bridge.json"}
    )
    assert run.code == 0
    states = _states(run.messages)
    if state_mode == "global":
        covered = [
            {s["stream_descriptor"]["name"] for s in state["global"]["stream_states"]}
            for state in states
        ]
    else:
        covered = [{s["stream"]["stream_descriptor"]["name"] for s in states}]
    assert all(streams == {"items", "notes"} for streams in covered), covered
