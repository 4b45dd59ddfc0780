"""The translator alone: pure, clock injected, invariants proved over random sequences."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from singer_bridge.errors import TapError
from singer_bridge.tap.pump import pump
from singer_bridge.translate.catalog import configure, parse_singer_catalog
from singer_bridge.translate.translator import Translator, emitted_at_ms
from singer_bridge.writer import Writer
from tests.airbyte_check import validate_output
from tests.scripted import singer_entry

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
STREAMS = ["alpha", "beta", "gamma"]


def make_translator(
    entries: list[dict[str, Any]], state_mode: str = "stream", incremental: bool = True
) -> Translator:
    streams = parse_singer_catalog({"streams": entries})
    configured = configure(
        streams,
        {
            "streams": [
                {
                    "stream": {"name": s.name, "namespace": s.namespace},
                    "sync_mode": "incremental" if incremental else "full_refresh",
                    "cursor_field": s.default_cursor_field,
                }
                for s in streams
            ]
        },
        "test",
    )
    return Translator(configured, now_ms=lambda: 42, state_mode=state_mode)


def translate_to_bytes(
    translator: Translator, lines: list[bytes], error: TapError | None = None
) -> bytes:
    """A whole run without a process: start, the lines, finish."""
    buffer = io.BytesIO()
    writer = Writer(buffer)
    writer.write_all(translator.start())
    pump([lines], translator, writer)
    writer.write_all(translator.finish(error))
    writer.flush()
    return buffer.getvalue()


def translate(
    translator: Translator, lines: list[bytes], error: TapError | None = None
) -> list[dict[str, Any]]:
    return validate_output(translate_to_bytes(translator, lines, error))


@pytest.mark.parametrize(
    "case", sorted(p.name for p in GOLDEN.iterdir()) if GOLDEN.exists() else []
)
def test_golden_translation(case: str) -> None:
    folder = GOLDEN / case
    options = (
        json.loads((folder / "options.json").read_text())
        if (folder / "options.json").exists()
        else {}
    )
    translator = make_translator(
        json.loads((folder / "catalog.json").read_text())["streams"], **options
    )
    lines = (folder / "singer.jsonl").read_bytes().splitlines(keepends=True)
    expected = folder / "airbyte.jsonl"
    got = translate_to_bytes(translator, lines).decode()
    validate_output(got)
    if not expected.exists():  # a new case: write it, then review it by eye
        expected.write_text(got)
    assert got == expected.read_text()


def test_emitted_at_is_integer_milliseconds_from_time_extracted() -> None:
    assert emitted_at_ms("2024-05-01T10:00:00.123456Z") == 1714557600123
    assert emitted_at_ms("2024-05-01T10:00:00") == 1714557600000  # naive means UTC
    assert emitted_at_ms("yesterday") is None


# -- invariants over random message sequences ---------------------------------------------------
message = st.one_of(
    st.tuples(st.just("RECORD"), st.sampled_from([*STREAMS, "stranger"]), st.integers(0, 10**20)),
    st.tuples(st.just("STATE"), st.sampled_from(STREAMS), st.integers(0, 1000)),
    st.tuples(st.just("JUNK"), st.just(""), st.just(0)),
)


def singer_lines(script: list[tuple[str, str, int]]) -> list[bytes]:
    lines, bookmarks = [], {}
    for kind, stream, value in script:
        if kind == "RECORD":
            lines.append(json.dumps({"type": "RECORD", "stream": stream, "record": {"v": value}}))
        elif kind == "STATE":
            bookmarks[stream] = {"v": value}
            lines.append(json.dumps({"type": "STATE", "value": {"bookmarks": dict(bookmarks)}}))
        else:
            lines.append("{not json")
    return [(line + "\n").encode() for line in lines]


@settings(max_examples=150, deadline=None)
@given(st.lists(message, max_size=60), st.integers(0, 60), st.booleans())
def test_records_once_in_order_and_state_never_ahead(
    script: list[tuple[str, str, int]], cut: int, fails: bool
) -> None:
    """Invariants 1-3: exactly-once in-order delivery, state after its records, exact counts."""
    entries = [singer_entry(s, {"v": {"type": "integer"}}, replication_key="v") for s in STREAMS]
    lines = singer_lines(script)
    if fails:
        lines = lines[:cut]  # the tap died here
    out = translate(make_translator(entries), lines, TapError("died") if fails else None)
    sent = [
        (m["stream"], m["record"]["v"])
        for m in (json.loads(line) for line in lines if line.startswith(b'{"type"'))
        if m["type"] == "RECORD" and m["stream"] in STREAMS
    ]
    got = [(m["record"]["stream"], m["record"]["data"]["v"]) for m in out if m["type"] == "RECORD"]
    assert got == sent
    pending: dict[str, int] = dict.fromkeys(STREAMS, 0)
    for m in out:
        if m["type"] == "RECORD":
            pending[m["record"]["stream"]] += 1
        elif m["type"] == "STATE":
            name = m["state"]["stream"]["stream_descriptor"]["name"]
            assert m["state"]["sourceStats"]["recordCount"] == pending[name]
            pending[name] = 0
    if not fails:
        assert all(count == 0 for count in pending.values())  # closing states commit everything
    statuses = [
        m["trace"]["stream_status"]["status"]
        for m in out
        if m["type"] == "TRACE" and m["trace"]["type"] == "STREAM_STATUS"
    ]
    assert statuses[-1] == ("INCOMPLETE" if fails else "COMPLETE")


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(STREAMS),
        st.dictionaries(
            st.text(min_size=1, max_size=5), st.integers() | st.text(max_size=5), max_size=3
        ),
        max_size=3,
    ),
    st.dictionaries(st.sampled_from(["lsn", "version"]), st.integers(), max_size=2),
)
def test_state_round_trip_is_lossless(bookmarks: dict[str, Any], shared: dict[str, Any]) -> None:
    """Invariant 4: Singer state out -> Airbyte state -> Singer state in, nothing lost."""
    from singer_bridge.translate.state import singer_state_from_airbyte

    entries = [singer_entry(s, {"v": {"type": "integer"}}, replication_key="v") for s in STREAMS]
    singer_state = {"bookmarks": bookmarks, **shared}
    line = (json.dumps({"type": "STATE", "value": singer_state}) + "\n").encode()
    out = translate(make_translator(entries), [line])
    airbyte = [
        {"type": "STREAM", "stream": m["state"]["stream"]} for m in out if m["type"] == "STATE"
    ]
    ids = {(s, None): s for s in STREAMS}
    back = singer_state_from_airbyte(airbyte, ids)
    non_empty = {k: v for k, v in bookmarks.items() if v != {}}
    assert back.get("bookmarks", {}) == non_empty
    if bookmarks:
        assert {k: v for k, v in back.items() if k != "bookmarks"} == shared


def test_global_state_mode_emits_one_global_message() -> None:
    entries = [
        singer_entry(s, {"v": {"type": "integer"}}, replication_key="v") for s in STREAMS[:2]
    ]
    lines = singer_lines([("RECORD", "alpha", 1), ("STATE", "alpha", 1), ("RECORD", "beta", 2)])
    out = translate(make_translator(entries, state_mode="global"), lines)
    states = [m["state"] for m in out if m["type"] == "STATE"]
    assert [s["type"] for s in states] == ["GLOBAL", "GLOBAL"]
    assert states[0]["global"]["stream_states"] == [
        {"stream_descriptor": {"name": "alpha"}, "stream_state": {"v": 1}}
    ]
    assert [s["sourceStats"]["recordCount"] for s in states] == [1, 1]


def test_record_body_that_is_not_an_object_is_skipped_with_a_warning() -> None:
    entries = [singer_entry("alpha", {"v": {"type": "integer"}})]
    out = translate(
        make_translator(entries), [b'{"type":"RECORD","stream":"alpha","record":[1]}\n']
    )
    assert not [m for m in out if m["type"] == "RECORD"]
    assert any("not a JSON object" in m["log"]["message"] for m in out if m["type"] == "LOG")


def test_invalid_utf8_record_is_delivered_repaired_and_named() -> None:
    # Issue 12: never dropped while the STATE after it advances; the bad bytes become U+FFFD.
    entries = [singer_entry("alpha", {"v": {"type": "string"}})]
    bad = b'{"type":"RECORD","stream":"alpha","record":{"v":"\xff"}}\n'
    out = translate(make_translator(entries), [bad])
    assert [m["record"]["data"] for m in out if m["type"] == "RECORD"] == [{"v": "\ufffd"}]
    warnings = [m["log"]["message"] for m in out if m["type"] == "LOG"]
    assert any("UTF-8" in w and "'alpha'" in w for w in warnings)
