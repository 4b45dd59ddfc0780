"""The translator alone: pure, clock injected, invariants proved over random sequences.

Golden files: each folder under ``fixtures/golden/`` holds ``catalog.json``, ``singer.jsonl``
(what the tap writes), optional ``options.json`` (Translator options) and ``airbyte.jsonl``
(what the bridge must write). A missing ``airbyte.jsonl`` or a missing golden folder fails.
To write or rewrite the expected files after a deliberate change, run

    SINGER_BRIDGE_UPDATE_GOLDENS=1 python -m pytest tests/test_translator.py -k golden

and review the diff by eye before committing it.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from singer_bridge._tap.pump import pump
from singer_bridge._translate.catalog import configure, parse_singer_catalog
from singer_bridge._translate.timestamps import emitted_at_ms
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer
from singer_bridge.errors import TapError
from tests.airbyte_check import validate_output
from tests.scripted import singer_entry

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
UPDATE_GOLDENS = os.environ.get("SINGER_BRIDGE_UPDATE_GOLDENS") == "1"
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


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if p.is_dir()) if GOLDEN.is_dir() else []


def test_golden_folder_has_cases() -> None:
    assert golden_cases(), f"no golden cases in {GOLDEN}"


@pytest.mark.parametrize("case", golden_cases())
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
    if UPDATE_GOLDENS:  # only on request: review the diff by eye
        expected.write_text(got)
    assert expected.exists(), f"{expected} is missing; see this module's docstring"
    assert got == expected.read_text()


def test_a_golden_case_fails_without_its_expected_file_unless_asked_to_write_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    this = sys.modules[__name__]
    source = GOLDEN / golden_cases()[0]
    shutil.copytree(source, tmp_path / "new-case")
    expected = tmp_path / "new-case" / "airbyte.jsonl"
    expected.unlink()
    monkeypatch.setattr(this, "GOLDEN", tmp_path)
    monkeypatch.setattr(this, "UPDATE_GOLDENS", False)
    with pytest.raises(AssertionError, match="is missing"):
        test_golden_translation("new-case")
    assert not expected.exists()
    monkeypatch.setattr(this, "UPDATE_GOLDENS", True)
    test_golden_translation("new-case")  # written on request, then compared
    assert expected.read_text() == (source / "airbyte.jsonl").read_text()
    monkeypatch.setattr(this, "GOLDEN", tmp_path / "nowhere")
    with pytest.raises(AssertionError, match="no golden cases"):
        test_golden_folder_has_cases()


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


def tap_states(lines: list[bytes]) -> list[tuple[int, dict[str, Any]]]:
    """Each Singer STATE the tap wrote: (configured-stream RECORDs before it, its bookmarks)."""
    out, records_before = [], 0
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message["type"] == "RECORD" and message["stream"] in STREAMS:
            records_before += 1
        elif message["type"] == "STATE":
            out.append((records_before, message["value"]["bookmarks"]))
    return out


def check_states_follow_their_records(
    out: list[dict[str, Any]], lines: list[bytes], fails: bool
) -> None:
    """Each emitted STATE stands for a Singer STATE: it comes right after the RECORDs the tap
    wrote before that STATE, in the tap's order, and carries its bookmark; only closing states
    (a successful run's last word) may come after all records and repeat the last value."""
    written = tap_states(lines)
    total = sum(1 for m in out if m["type"] == "RECORD")
    emitted_records, position = 0, 0
    last_value: dict[str, Any] = {}
    for m in out:
        if m["type"] == "RECORD":
            emitted_records += 1
            continue
        if m["type"] != "STATE":
            continue
        name = m["state"]["stream"]["stream_descriptor"]["name"]
        value = m["state"]["stream"]["stream_state"]
        found = next(
            (
                k
                for k in range(position, len(written))
                if written[k][0] == emitted_records and written[k][1].get(name, {}) == value
            ),
            None,
        )
        if found is None:  # a closing state
            assert not fails and emitted_records == total, (name, value, emitted_records)
            assert value == last_value.get(name, {}), (name, value)
        else:
            position = found
        last_value[name] = value
    for stream in STREAMS:
        bookmarks = [b[stream] for _, b in written if stream in b]
        if bookmarks:  # nothing the tap bookmarked is lost
            assert last_value.get(stream) == bookmarks[-1], stream


@settings(max_examples=150, deadline=None)
@given(st.lists(message, max_size=60), st.integers(0, 60), st.booleans())
def test_records_once_in_order_and_state_never_ahead(
    script: list[tuple[str, str, int]], cut: int, fails: bool
) -> None:
    """Invariants 1-3: exactly-once in-order delivery, each STATE after its records and with
    its bookmark, exact counts."""
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
    check_states_follow_their_records(out, lines, fails)
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


BOOKMARKS = st.dictionaries(
    st.text(min_size=1, max_size=5), st.integers() | st.text(max_size=5), max_size=3
)
SHARED_KEYS = st.dictionaries(st.sampled_from(["lsn", "version"]), st.integers(), max_size=2)


def round_trip(bookmarks: dict[str, Any], shared: dict[str, Any], state_mode: str) -> None:
    """Singer state out -> Airbyte state -> Singer state in: nothing lost."""
    from singer_bridge._translate.state import singer_state_from_airbyte

    entries = [singer_entry(s, {"v": {"type": "integer"}}, replication_key="v") for s in STREAMS]
    singer_state = {"bookmarks": bookmarks, **shared}
    line = (json.dumps({"type": "STATE", "value": singer_state}) + "\n").encode()
    out = translate(make_translator(entries, state_mode=state_mode), [line])
    airbyte = [
        {k: v for k, v in m["state"].items() if k != "sourceStats"}
        for m in out
        if m["type"] == "STATE"
    ]
    back = singer_state_from_airbyte(airbyte, {(s, None): s for s in STREAMS})
    non_empty = {k: v for k, v in bookmarks.items() if v != {}}  # {}: nothing to resume
    assert back.get("bookmarks", {}) == non_empty
    assert {k: v for k, v in back.items() if k != "bookmarks"} == shared


@pytest.mark.parametrize("state_mode", ["stream", "global"])
@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(STREAMS), BOOKMARKS, max_size=3), SHARED_KEYS)
def test_state_round_trip_is_lossless(
    state_mode: str, bookmarks: dict[str, Any], shared: dict[str, Any]
) -> None:
    """Invariant 4, for every state a tap may write: with bookmarks or without any (a tap's
    only position may be a shared key, such as a log-based tap's LSN)."""
    round_trip(bookmarks, shared, state_mode)


def test_global_state_mode_emits_one_global_message() -> None:
    entries = [
        singer_entry(s, {"v": {"type": "integer"}}, replication_key="v") for s in STREAMS[:2]
    ]
    lines = singer_lines([("RECORD", "alpha", 1), ("STATE", "alpha", 1), ("RECORD", "beta", 2)])
    out = translate(make_translator(entries, state_mode="global"), lines)
    states = [m["state"] for m in out if m["type"] == "STATE"]
    assert [s["type"] for s in states] == ["GLOBAL", "GLOBAL"]
    assert states[0]["global"]["stream_states"] == [  # every configured stream, as in stream mode
        {"stream_descriptor": {"name": "alpha"}, "stream_state": {"v": 1}},
        {"stream_descriptor": {"name": "beta"}, "stream_state": {}},
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
