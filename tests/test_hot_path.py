"""The RECORD hot path's shortcuts give exactly what the plain code gives.

- ``extracted_ms`` (sliced and cached) equals ``emitted_at_ms`` (``datetime.fromisoformat``)
  for every string, and the translator's same-millisecond shortcut equals it per record;
- the tap reader's blocks, read into a reused buffer, are the tap's lines exactly, whatever
  the buffer size, line lengths and flushes;
- a block is decoded whole or line by line with the same result.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from singer_bridge._tap import process
from singer_bridge._tap import pump as pump_module
from singer_bridge._tap.process import TapProcess
from singer_bridge._tap.pump import pump
from singer_bridge._translate.catalog import configure, parse_singer_catalog
from singer_bridge._translate.masking import Masker
from singer_bridge._translate.timestamps import emitted_at_ms, extracted_ms
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer

ZONES = st.sampled_from(
    [
        dt.UTC,
        dt.timezone(dt.timedelta(hours=5, minutes=30)),
        dt.timezone(dt.timedelta(hours=-8)),
        dt.timezone(dt.timedelta(hours=23, minutes=59)),
        dt.timezone(dt.timedelta(hours=-23, minutes=59)),
        None,
    ]
)
DATETIMES = st.datetimes(
    min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=ZONES
)


def styles(value: dt.datetime) -> list[str]:
    """The ways taps write a time: isoformat, singer-python's Z, milliseconds, no fraction."""
    out = [value.isoformat(), value.isoformat(timespec="milliseconds")]
    out.append(value.isoformat(timespec="seconds"))
    out.append(value.isoformat(timespec="microseconds"))
    out.append(value.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z")
    text = value.isoformat(timespec="microseconds")
    out.append(text.replace("+00:00", "Z"))
    out.append(text[:26] + "0" + text[26:])  # seven digits
    out.append(text[:25] + text[26:])  # five digits
    out.append(text.replace("T", " "))
    out.append(text.replace("T", "t"))
    out.append(text[:19] + "," + text[20:])
    out.append(text + "Z")
    out.append(text[:-3] + text[-2:] if value.tzinfo else text)  # +0530
    return out


@given(DATETIMES)
@settings(max_examples=400, deadline=None)
def test_extracted_ms_equals_the_datetime_parse_in_every_style(value: dt.datetime) -> None:
    for text in styles(value):
        assert extracted_ms(text) == emitted_at_ms(text), text


MUTATIONS = st.sampled_from("0123456789-:T.Z+ \u0663\u00b2_xz")


@given(DATETIMES, st.lists(st.tuples(st.integers(0, 40), MUTATIONS), max_size=3))
@settings(max_examples=400, deadline=None)
def test_extracted_ms_equals_the_datetime_parse_on_broken_input(
    value: dt.datetime, edits: list[tuple[int, str]]
) -> None:
    text = value.isoformat(timespec="microseconds")
    for at, char in edits:
        text = text[:at] + char + text[at + 1 :]
    assert extracted_ms(text) == emitted_at_ms(text), text


@given(st.text(max_size=40))
@settings(deadline=None)
def test_extracted_ms_equals_the_datetime_parse_on_any_text(text: str) -> None:
    assert extracted_ms(text) == emitted_at_ms(text)


@pytest.mark.parametrize(
    "text",
    [
        "2024-06-01T12:00:00.001000+00:00",  # last three digits 000: no shortcut
        "2024-06-01T12:00:00.000999Z",
        "1970-01-01T00:00:00.000001Z",
        "1969-12-31T23:59:59.999999Z",
        "2096-10-02T07:06:39.999999Z",
        "9999-12-31T23:59:59.999999+00:00",
        "2024-02-29T23:59:59.999999+00:00",
        "2023-02-29T00:00:00.000001+00:00",
        "2024-06-01T24:00:00.000001+00:00",
        "2024-06-01T12:00:60.000001+00:00",
    ],
)
def test_extracted_ms_edges(text: str) -> None:
    assert extracted_ms(text) == emitted_at_ms(text)


def _translator() -> Translator:
    streams = parse_singer_catalog(
        {"streams": [{"tap_stream_id": "s", "schema": {"properties": {"id": {}}}}]}
    )
    configured = configure(
        streams, {"streams": [{"stream": {"name": "s"}, "sync_mode": "full_refresh"}]}, "test"
    )
    return Translator(configured, now_ms=lambda: -1)


def _run(lines: list[bytes], blocks: bool = True) -> list[dict[str, Any]]:
    """The read's messages; taken a line per block, the read gives the same bytes."""
    outputs = []
    for chunks in ([b"\n".join(lines)] if blocks else [lines], [[line] for line in lines]):
        buffer = io.BytesIO()
        pump(chunks, _translator(), Writer(buffer))
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1]
    return [json.loads(line) for line in outputs[0].splitlines()]


@given(
    DATETIMES,
    st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 3)), min_size=1, max_size=60),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_each_records_emitted_at_equals_the_datetime_parse(
    start: dt.datetime, steps: list[tuple[int, int]]
) -> None:
    # Records close together share milliseconds: the translator's shortcut for those.
    value, texts = start, []
    for micros, style in steps:
        value += dt.timedelta(microseconds=micros)
        texts.append(styles(value)[style if style < 2 else style + 3])
    lines = [
        json.dumps(
            {"type": "RECORD", "stream": "s", "record": {"id": i}, "time_extracted": t}
        ).encode()
        for i, t in enumerate(texts)
    ]
    out = [m for m in _run(lines) if m["type"] == "RECORD"]
    expected = [emitted_at_ms(t) for t in texts]
    assert [m["record"]["emitted_at"] for m in out] == [-1 if e is None else e for e in expected]


LINES = st.lists(
    st.one_of(
        st.builds(
            lambda i, name: json.dumps(
                {"type": "RECORD", "stream": "s", "record": {"id": i, "name": name}},
                ensure_ascii=False,
            ).encode(),
            st.integers(0, 10**6),
            st.text(max_size=30),
        ),
        st.just(b'{"type": "STATE", "value": {"bookmarks": {"s": {"id": 1}}}}'),
        st.just(b"not json"),
        st.just(b""),
        st.just(b'{"type":"RECORD","stream":"s","record":{"id":"\xff\xfe"}}'),
        st.just(b'{"type":"RECORD","stream":"s","record":{"id":1}} {"type":"STATE","value":{}}'),
        st.just(b'{"type":"RECORD","stream":"other","record":{"id":2}}'),
    ),
    max_size=40,
)


@given(LINES)
@settings(max_examples=300, deadline=None)
def test_a_block_decoded_whole_equals_the_same_lines_one_by_one(lines: list[bytes]) -> None:
    def one_by_one(lines: list[bytes]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line in lines:
            out.extend(m for m in _run([line]) if m["type"] != "LOG" or "UTF-8" not in str(m))
        return out

    whole = [m for m in _run(lines) if m["type"] != "LOG" or "UTF-8" not in str(m)]
    # The same records, states and warnings in the same order (one translator for all).
    records = [m["record"]["data"] for m in whole if m["type"] == "RECORD"]
    assert records == [m["record"]["data"] for m in one_by_one(lines) if m["type"] == "RECORD"]
    logs = [m["log"]["message"] for m in whole if m["type"] == "LOG"]
    expected = [m["log"]["message"] for m in one_by_one(lines) if m["type"] == "LOG"]
    assert sorted(set(logs)) == sorted(set(expected))


WRITER = """
import sys, time
out = sys.stdout.buffer
for size, flush in {plan!r}:
    out.write(b"x" * size + b"\\n")
    if flush:
        out.flush()
        time.sleep(0.001)
out.write(b"tail")
"""


@given(
    st.lists(st.tuples(st.integers(0, 300), st.booleans()), max_size=30),
    st.sampled_from([1, 7, 64, 1 << 20]),  # the read buffer, not the pipe
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_reader_hands_on_every_line_exactly(plan: list[tuple[int, bool]], buffer: int) -> None:
    saved = process._READ_BUFFER
    process._READ_BUFFER = buffer  # lines longer than the buffer, split across reads
    try:
        with TapProcess([sys.executable, "-c", WRITER.format(plan=plan)]) as tap:
            blocks = list(tap.stdout_blocks())
            assert tap.wait() == 0
    finally:
        process._READ_BUFFER = saved
    assert b"\n".join(blocks).split(b"\n") == [b"x" * size for size, _ in plan] + [b"tail"]


@given(st.binary(max_size=120), st.text(alphabet="aé€😀\n", max_size=60))
@settings(max_examples=300, deadline=None)
def test_utf8_checked_in_windows_equals_decoding_it_whole(junk: bytes, text: str) -> None:
    saved = pump_module._WINDOW
    pump_module._WINDOW = 8  # windows cut through multi-byte characters
    try:
        for block in (text.encode(), junk, text.encode() + junk, junk + text.encode()):
            try:
                block.decode("utf-8")
                expected = True
            except UnicodeDecodeError:
                expected = False
            assert pump_module._is_utf8_in_windows(block) is expected
            assert pump_module._is_utf8(block) is expected
    finally:
        pump_module._WINDOW = saved


def test_messages_back_to_back_on_one_line_are_all_delivered_in_either_path() -> None:
    two = (
        b'{"type":"RECORD","stream":"s","record":{"id":1}}'
        + b'{"type":"RECORD","stream":"s","record":{"id":2}}'
    )
    after = b'{"type":"RECORD","stream":"s","record":{"id":3}}'
    for lines in ([two, after], [two, b"not json", after]):  # whole block, then line by line
        out = _run(lines)
        assert [m["record"]["data"]["id"] for m in out if m["type"] == "RECORD"] == [1, 2, 3]
        warnings = [m["log"]["message"] for m in out if m["type"] == "LOG"]
        assert any("not json" in w for w in warnings) is (b"not json" in lines)


@pytest.mark.parametrize(
    ("extracted", "expected"),
    [
        (5, -1),  # not a string: the clock, and the record is kept
        (None, -1),
        ({"at": "2024-05-01T10:00:00Z"}, -1),
        ("2024-05-01T10:00:00.123456\\u005a", 1714557600123),  # an escaped "Z"
        ("not a time", -1),
    ],
)
def test_a_record_with_any_time_extracted_is_delivered(extracted: Any, expected: int) -> None:
    value = json.dumps(extracted).replace("\\\\", "\\")
    line = b'{"type":"RECORD","stream":"s","record":{"id":1},"time_extracted":%s}' % value.encode()
    records = [m for m in _run([line, line]) if m["type"] == "RECORD"]
    assert [m["record"]["emitted_at"] for m in records] == [expected, expected]


def test_records_without_time_extracted_never_reuse_an_earlier_blocks_clock() -> None:
    ticks = iter(range(1000, 2000))
    translator = _translator()
    translator._now_ms = lambda: next(ticks)
    buffer = io.BytesIO()
    line = b'{"type":"RECORD","stream":"s","record":{"id":1}}'
    timed = b'{"type":"RECORD","stream":"s","record":{"id":2},"time_extracted":"not a time"}'
    blocks = [b"\n".join([line] * 4), b"\n".join([line, timed, timed])]
    pump(blocks, translator, Writer(buffer))
    stamps = [
        m["record"]["emitted_at"]
        for m in map(json.loads, buffer.getvalue().splitlines())
        if m["type"] == "RECORD"
    ]
    assert len(stamps) == 7
    # the first two take the slow path (stream starting); records taken in one go share one
    # reading of the clock, and a later block never reuses an earlier block's
    assert stamps[2] == stamps[3] < stamps[4] <= stamps[5] <= stamps[6]


def test_a_secret_in_a_tap_stdout_line_is_masked_among_records() -> None:
    buffer = io.BytesIO()
    writer = Writer(buffer)
    writer.mask_with(lambda text: text.replace("hunter2", "**********"))
    record = b'{"type":"RECORD","stream":"s","record":{"id":1}}'
    pump([b"\n".join([record, b"connecting with password hunter2", record])], _translator(), writer)
    out = buffer.getvalue()
    assert b"hunter2" not in out and out.count(b'{"type":"RECORD"') == 2
    assert b"connecting with password **********" in out


@pytest.mark.parametrize("padding", [10, 5 << 20])  # joined, and written item by item (huge)
def test_the_writer_masks_log_and_trace_lines_never_record_data(padding: int) -> None:
    status = b'{"type":"TRACE","trace":{"type":"ERROR","error":{"message":"hunter2"}}}\n'
    record = b'{"type":"RECORD","record":{"stream":"s","data":{"p":"hunter2%s"}}}\n' % (
        b"x" * padding
    )
    log = b'{"type":"LOG","log":{"level":"INFO","message":"pw hunter2"}}\n'
    for write in ("write_all", "write"):
        buffer = io.BytesIO()
        writer = Writer(buffer)
        writer.mask_with(lambda text: text.replace("hunter2", "*****"))
        if write == "write_all":
            writer.write_all([status + record, log])
        else:
            writer.write(status + record)
            writer.write(log)
        writer.flush()
        masked = status.replace(b"hunter2", b"*****")
        assert buffer.getvalue() == masked + record + log.replace(b"hunter2", b"*****")


@pytest.mark.parametrize("raw", [b"1e999", b"[1e999]", b'{"at": -1e999}'])
def test_a_time_extracted_out_of_a_floats_range_takes_the_clock(raw: bytes) -> None:
    line = b'{"type":"RECORD","stream":"s","record":{"id":1},"time_extracted":%s}' % raw
    records = [m for m in _run([line] * 3) if m["type"] == "RECORD"]
    assert [m["record"]["emitted_at"] for m in records] == [-1, -1, -1]


def test_a_record_nested_deeper_than_msgspec_decodes_is_skipped_and_the_read_goes_on() -> None:
    deep = b'{"type":"RECORD","stream":"s","record":{"a":%s}}' % (b"[" * 5000 + b"]" * 5000)
    good = b'{"type":"RECORD","stream":"s","record":{"id":%d}}'
    out = _run([good % 1, deep, good % 2])
    assert [m["record"]["data"]["id"] for m in out if m["type"] == "RECORD"] == [1, 2]
    assert any("nested too deeply" in m["log"]["message"] for m in out if m["type"] == "LOG")


def test_a_tap_message_of_any_type_is_never_taken_for_the_bridges_own_stand_in() -> None:
    lines = [
        b'{"type":"_skipped","value":"hello"}',
        b'{"type":"","value":"hello"}',
        b'{"type":"RECORD","stream":"s","record":{"id":1}}',
    ]
    out = _run(lines)
    assert [m["record"]["data"] for m in out if m["type"] == "RECORD"] == [{"id": 1}]


def test_a_newline_ends_a_message_however_the_block_is_decoded() -> None:
    # decode_lines alone would take the two lines for one RECORD; line by line they are junk
    split = [b'{"type":"RECORD",', b'"stream":"s","record":{"id":2}}']
    good = b'{"type":"RECORD","stream":"s","record":{"id":%d}}'
    for lines in ([good % 1, *split, good % 3], [good % 1, *split, good % 3, b"junk"]):
        out = _run(lines)
        assert [m["record"]["data"]["id"] for m in out if m["type"] == "RECORD"] == [1, 3]
        skipped = sum("skipped a tap stdout line" in str(m) for m in out if m["type"] == "LOG")
        assert skipped == 2 + (b"junk" in lines)


def test_a_huge_record_is_delivered_whole_either_way() -> None:
    # a block over 2 MiB (a huge line) goes through Python's path, which writes it as views
    huge = b'{"type":"RECORD","stream":"s","record":{"id":2,"blob":"%s"}}' % (b"\xc3\xa9" * 2**21)
    small = b'{"type":"RECORD","stream":"s","record":{"id":%d}}'
    out = _run([small % 1, small % 3, huge, small % 4])
    records = [m["record"]["data"] for m in out if m["type"] == "RECORD"]
    assert [r["id"] for r in records] == [1, 3, 2, 4]
    assert records[2]["blob"] == "é" * 2**21


def test_a_skipped_line_is_masked_before_it_is_cut_to_a_preview() -> None:
    secret = "hunter2-" + "z" * 30
    buffer = io.BytesIO()
    writer = Writer(buffer)
    writer.mask_with(Masker([secret]).mask)
    junk = b"not json " + b"." * 185 + secret.encode()  # the secret begins before char 200
    pump([junk], _translator(), writer)
    (log,) = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert "hunter" not in log["log"]["message"] and "****" in log["log"]["message"]
