"""One read pipeline: a wrapped tap and a native source give the same Airbyte output.

Each scenario runs twice: through ``tap-scripted`` playing the Singer messages a tap would
write, and through a native ``Source`` whose stream yields the same records. Timestamps aside,
the Airbyte messages must be identical: records, states (values and ``recordCount``), stream
statuses, configuration warnings and the error that ends an interrupted read.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from singer_bridge._read.native_source import NativeSource
from singer_bridge._read.singer_source import SingerSource
from singer_bridge._tap.bridge_config import BridgeConfig
from singer_bridge._writer import Writer
from singer_bridge.native import Source, Stream
from tests.airbyte_check import validate_output
from tests.scripted import SCRIPTED_TAP, singer_entry

SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": ["string", "null"]},
        "updated_at": {"type": "string"},
    },
}
ROWS = [
    {"id": 1, "name": "Zoë", "updated_at": "2024-01-01"},
    {"id": 2, "name": "Łukasz", "updated_at": "2024-01-02"},
    {"id": 3, "name": "李", "updated_at": "2024-01-03"},
]
NOTES_SCHEMA = {"type": "object", "properties": {"text": {"type": "string"}}}


class _InterruptingWriter(Writer):
    """Interrupts the source when the first RECORD is written (as SIGTERM would)."""

    def __init__(self, out: io.BytesIO) -> None:
        super().__init__(out)
        self.source: NativeSource | SingerSource | None = None

    def _check(self, data: bytes) -> None:
        if self.source is not None and b'"type":"RECORD"' in data:
            self.source.interrupt("SIGTERM")
            self.source = None

    def write(self, line: bytes) -> None:
        super().write(line)
        self._check(line)

    def write_all(self, lines: list[bytes], *, plain: bool = False, small: bool = False) -> None:
        super().write_all(lines, plain=plain, small=small)
        self._check(b"".join(lines))


def _bookmark(value: str, shared: dict[str, Any]) -> dict[str, Any]:
    bookmark = {"replication_key": "updated_at", "replication_key_value": value}
    return {"bookmarks": {"items": bookmark}, **shared}


def _singer_script(rows: list[dict[str, Any]], shared: dict[str, Any], pause: bool) -> list[Any]:
    """What a tap writes for ``items`` (and nothing for ``notes``), like the native engine."""
    out: list[Any] = [
        {
            "type": "SCHEMA",
            "stream": "items",
            "schema": SCHEMA,
            "key_properties": ["id"],
            "bookmark_properties": ["updated_at"],
        }
    ]
    for i, row in enumerate(rows):
        out.append({"type": "RECORD", "stream": "items", "record": row})
        if pause and i == 0:
            out += [{"flush": True}, {"sleep": 30}]
    if rows:
        out.append({"type": "STATE", "value": _bookmark(rows[-1]["updated_at"], shared)})
    out.append({"type": "SCHEMA", "stream": "notes", "schema": NOTES_SCHEMA, "key_properties": []})
    return out


def _native(rows: list[dict[str, Any]], state_mode: str) -> Source:
    def read_items(ctx: Any) -> Iterator[dict[str, Any]]:
        for row in rows:
            if ctx.start_cursor is None or row["updated_at"] > ctx.start_cursor:
                yield row

    def read_notes(ctx: Any) -> Iterator[dict[str, Any]]:
        return iter(())

    return Source(
        "source-parity",
        streams=[
            Stream("items", SCHEMA, read_items, primary_key=[["id"]], cursor_field="updated_at"),
            Stream("notes", NOTES_SCHEMA, read_notes),
        ],
        state_mode=state_mode,  # type: ignore[arg-type]
    )


def _tap_catalog() -> dict[str, Any]:
    return {
        "streams": [
            singer_entry("items", SCHEMA["properties"], keys=["id"], replication_key="updated_at"),
            singer_entry(
                "notes", NOTES_SCHEMA["properties"], md={"forced-replication-method": "FULL_TABLE"}
            ),
        ]
    }


def _configured(fields: list[str] | None) -> dict[str, Any]:
    props = SCHEMA["properties"] if fields is None else {f: SCHEMA["properties"][f] for f in fields}
    items = {
        "name": "items",
        "json_schema": {"type": "object", "properties": props},
        "supported_sync_modes": ["full_refresh", "incremental"],
    }
    notes = {"name": "notes", "json_schema": NOTES_SCHEMA, "supported_sync_modes": ["full_refresh"]}
    return {
        "streams": [
            {
                "stream": items,
                "sync_mode": "incremental",
                "cursor_field": ["updated_at"],
                "destination_sync_mode": "append",
            },
            # PyAirbyte asks every stream for incremental: a warning, then a full refresh
            {"stream": notes, "sync_mode": "incremental", "destination_sync_mode": "append"},
        ]
    }


def _normalise(messages: list[dict[str, Any]]) -> list[Any]:
    """The messages a client acts on, without clock readings or the tap's own chatter."""
    out: list[Any] = []
    for m in messages:
        if m["type"] == "RECORD":
            out.append(("RECORD", m["record"]["stream"], m["record"]["data"]))
        elif m["type"] == "STATE":
            out.append(("STATE", json.dumps(m["state"], sort_keys=True)))
        elif m["type"] == "TRACE" and m["trace"]["type"] == "STREAM_STATUS":
            status = m["trace"]["stream_status"]
            out.append(("STATUS", status["stream_descriptor"]["name"], status["status"]))
        elif m["type"] == "TRACE" and m["trace"]["type"] == "ERROR":
            error = m["trace"]["error"]
            out.append(("ERROR", error["failure_type"], error["message"]))
        elif m["type"] == "LOG" and m["log"]["level"] == "WARN":
            out.append(("WARN", m["log"]["message"]))
    return out


SCENARIOS = {
    # name: (state_mode, input shared keys, input bookmark, selected fields, interrupt)
    "first-read": ("stream", {}, None, None, False),
    "resumed-with-shared-keys": ("stream", {"log_position": 7}, "2024-01-01", None, False),
    "global-state": ("global", {"log_position": 7}, "2024-01-01", None, False),
    "field-selection": ("stream", {}, None, ["id", "updated_at"], False),
    "interrupted": ("stream", {}, None, None, True),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_a_wrapped_tap_and_a_native_source_read_alike(tmp_path: Path, scenario: str) -> None:
    state_mode, shared, start, fields, interrupt = SCENARIOS[scenario]
    rows = [r for r in ROWS if start is None or r["updated_at"] > start]
    state: Any = None
    if start is not None:
        stream_states = [
            {
                "stream_descriptor": {"name": "items"},
                "stream_state": {"replication_key": "updated_at", "replication_key_value": start},
            }
        ]
        state = [
            {"type": "GLOBAL", "global": {"shared_state": shared, "stream_states": stream_states}}
        ]
    files = {"catalog": _configured(fields), "state": state}
    paths = {}
    for name, doc in files.items():
        paths[name] = str(tmp_path / f"{name}.json")
        Path(paths[name]).write_text(json.dumps(doc))

    script = {"catalog": _tap_catalog(), "messages": _singer_script(rows, shared, interrupt)}
    (tmp_path / "script.json").write_text(json.dumps(script))
    tap = SingerSource(
        tap=SCRIPTED_TAP,
        bridge_config=BridgeConfig(state_mode=state_mode),  # type: ignore[arg-type]
    )
    native = NativeSource(_native(rows, state_mode))
    (tmp_path / "native.json").write_text("{}")

    outputs = []
    for source, config in ((tap, "script.json"), (native, "native.json")):
        buffer = io.BytesIO()
        writer = _InterruptingWriter(buffer)
        writer.source = source if interrupt else None
        code = source.read(
            str(tmp_path / config), paths["catalog"], paths["state"] if state else None, writer
        )
        outputs.append((code, _normalise(validate_output(buffer.getvalue()))))

    (tap_code, tap_out), (native_code, native_out) = outputs
    assert tap_out == native_out
    assert tap_code == native_code == (1 if interrupt else 0)
    records = [m for m in tap_out if m[0] == "RECORD"]
    assert len(records) == (1 if interrupt else len(rows))
    if fields:
        assert all(set(m[2]) == set(fields) for m in records)
    if interrupt:
        assert tap_out[-1][:2] == ("ERROR", "transient_error")
    # every configured stream gets a STATE and a terminal status, records or not
    assert {m[1] for m in tap_out if m[0] == "STATUS" and m[2] != "STARTED"} == {"items", "notes"}
    if not interrupt:
        assert any(m[0] == "STATE" and "notes" in m[1] for m in tap_out) or state_mode == "global"
