"""A read gives the same bytes however the tap's output is cut into blocks.

The pump decodes a whole block of lines in one call where it can, and falls back to taking the
block line by line where it cannot (junk, invalid UTF-8, a message spread over lines, one too
deep to decode). Both give the same stdout, byte for byte, for any mix of lines: records in
every JSON style (escapes, surrogate pairs, non-ASCII text, odd numbers), any
``time_extracted``, states, schemas, blank lines, junk, invalid UTF-8, messages back to back,
and random byte damage.
"""

from __future__ import annotations

import io
import json
import os
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from singer_bridge._tap.pump import pump
from singer_bridge._translate.catalog import configure, parse_singer_catalog
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer

CATALOG = {
    "streams": [
        {"tap_stream_id": "s", "schema": {"properties": {"id": {}}}},
        {"tap_stream_id": "t", "schema": {"properties": {"id": {}}}},
        {  # decimals: records are rewritten
            "tap_stream_id": "d",
            "schema": {"properties": {"n": {"type": "string", "format": "singer.decimal"}}},
        },
    ]
}


def _translator() -> Translator:
    configured = configure(
        parse_singer_catalog(CATALOG),
        {
            "streams": [
                {"stream": {"name": name}, "sync_mode": "full_refresh"} for name in ("s", "t", "d")
            ]
        },
        "test",
    )
    return Translator(configured, now_ms=lambda: 5)


def _outcome(chunks: list[Any]) -> tuple[bytes, type[BaseException] | None]:
    buffer = io.BytesIO()
    error = None
    try:
        pump(chunks, _translator(), Writer(buffer))
    except Exception as exc:
        error = type(exc)
    return buffer.getvalue(), error


def _same_in_blocks_and_by_line(blocks: list[bytes]) -> bytes:
    """The same stdout (and the same error, where the read fails) for the blocks as given and
    for every line its own block."""
    lines = [[line] for block in blocks for line in block.split(b"\n")]
    whole = _outcome(list(blocks))
    assert whole == _outcome(lines)
    return whole[0]


JSON_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from('"\\\n\t/é😀'),
    max_size=12,
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(JSON_TEXT, inner, max_size=4),
    max_leaves=12,
)
TIMES = st.sampled_from(
    [
        None,
        "2024-06-01T12:00:00.000084Z",
        "2024-06-01T12:00:00.000084Z",
        "2024-06-01T12:00:00.000085Z",
        "2024-06-01T12:00:00.001Z",
        "2023-12-31T23:59:59+00:00",
        "2024-06-01T12:00:00.000084Z",
        "2024-06-01T12:00:00.000084+00:00",
        "2024-06-01T12:00:00.123+05:30",
        "2024-06-01T12:00:00",
        "2024-06-01T12:00:00.1234567Z",
        "2024-06-01 12:00:00Z",
        "1969-12-31T23:59:59.999999-01:00",
        "2024-02-30T00:00:00Z",
        "not a time",
        "2024-06-01T12:00:00\u00e9",
        5,
        {"at": 1},
    ]
)


@st.composite
def singer_lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["record"] * 12 + ["state", "schema", "blank", "junk", "other"]))
    if kind == "state":
        return json.dumps({"type": "STATE", "value": {"bookmarks": {"s": {"id": 1}}}}).encode()
    if kind == "schema":
        return json.dumps({"type": "SCHEMA", "stream": "s", "schema": {}}).encode()
    if kind == "blank":
        return draw(st.sampled_from([b"", b"  ", b"\r", b" \t "]))
    if kind == "junk":
        return draw(st.sampled_from([b"hello", b"[1]", b"{", b'{"type":"RECORD"}', b"null"]))
    if kind == "other":
        return json.dumps({"type": "ACTIVATE_VERSION", "stream": "s", "version": 3}).encode()
    message: dict[str, Any] = {
        "type": "RECORD",
        "stream": draw(st.sampled_from(["s"] * 4 + ["t"] * 3 + ["d", "nope", "\u00e9"])),
        "record": draw(
            JSON_VALUES
            if draw(st.integers(0, 7)) == 0
            else st.dictionaries(JSON_TEXT, JSON_VALUES, max_size=4)
        ),
    }
    time = draw(TIMES)
    if time is not None or draw(st.booleans()):
        message["time_extracted"] = time
    if draw(st.integers(0, 9)) == 0:
        message[draw(st.sampled_from(["version", "extra", "value"]))] = draw(JSON_VALUES)
    items = list(message.items())
    random.Random(draw(st.integers(0, 99))).shuffle(items)
    text = json.dumps(
        dict(items),
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
    )
    return text.encode()


WARM_UP = [
    b'{"type":"RECORD","stream":"s","record":{}}',
    b'{"type":"RECORD","stream":"t","record":{}}',
]
DAMAGE = st.lists(
    st.tuples(st.integers(0, 400), st.integers(0, 255), st.sampled_from(["set", "insert", "cut"])),
    max_size=2,
)


def _damaged(line: bytes, edits: list[tuple[int, int, str]]) -> bytes:
    data = bytearray(line)
    for at, byte, how in edits:
        if not data:
            break
        at %= len(data)
        if how == "set":
            data[at] = byte
        elif how == "insert":
            data.insert(at, byte)
        else:
            del data[at:]
    return bytes(data)


@given(
    st.lists(st.tuples(singer_lines(), DAMAGE, st.integers(0, 19)), min_size=1, max_size=40),
    st.integers(1, 8),
    st.booleans(),
)
@settings(
    max_examples=int(os.environ.get("SPEEDUPS_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
def test_a_read_in_blocks_equals_the_read_line_by_line(
    lines: list[tuple[bytes, list[tuple[int, int, str]], int]], per_block: int, glued: bool
) -> None:
    texts = [_damaged(line, edits) if damage == 0 else line for line, edits, damage in lines]
    texts[:0] = WARM_UP  # both streams RUNNING: their records take the tight loop
    separator = b"" if glued and len(texts) > 1 else b"\n"  # back to back on one line
    blocks = [
        b"\n".join(texts[i : i + per_block]) + (separator if i == 0 else b"")
        for i in range(0, len(texts), per_block)
    ]
    _same_in_blocks_and_by_line(blocks)


def test_a_realistic_read_in_blocks_delivers_every_record_in_order() -> None:
    rng = random.Random(7)
    names = ["Zoë Ångström", "李小龙", "Αλέξανδρος", 'O\'Brien "Bob"', "Mañana 😀", "plain"]
    lines = [json.dumps({"type": "SCHEMA", "stream": "s", "schema": {}}).encode()]
    for i in range(3000):
        record = {"id": i, "name": rng.choice(names), "n": rng.random(), "tags": ["a", {"b": i}]}
        te = f"2024-06-01T12:{i // 60 % 60:02d}:{i % 60:02d}.{rng.randrange(10**6):06d}Z"
        message = {"type": "RECORD", "stream": rng.choice("st"), "record": record}
        message["time_extracted"] = te
        lines.append(json.dumps(message, ensure_ascii=i % 2 == 0).encode())
        if i % 500 == 499:
            lines.append(json.dumps({"type": "STATE", "value": {"bookmarks": {}}}).encode())
    blocks = [b"\n".join(lines[i : i + 700]) for i in range(0, len(lines), 700)]
    out = _same_in_blocks_and_by_line(blocks)
    records = [json.loads(x) for x in out.splitlines() if x.startswith(b'{"type":"RECORD"')]
    assert [r["record"]["data"]["id"] for r in records] == list(range(3000))


GOOD = b'{"type":"RECORD","stream":"s","record":{"a":1}}'


@pytest.mark.parametrize(
    "blocks",
    [
        # a message spread over two lines: two WARNs, whether its block decodes whole or not
        [GOOD + b'\n{"type":"RECORD",\n"stream":"s","record":{"a":2}}'],
        [b"\n".join([b"}"] * 8 + [b'{"type":"RECORD","stream":"s","record":\n{"a":2}}'])],
        # too deep for msgspec to decode: skipped with a WARN, the read goes on
        [GOOD + b'\n{"type":"RECORD","stream":"s","record":{"a":' + b"[" * 1500 + b"]" * 1500],
        # a time_extracted no float holds (1e999) takes the clock
        [
            b'{"type":"RECORD","time_extracted":1e999}\n{"type":"RECORD","stream":"s","record":"\xff"}'
        ],
        # a version integer of over 4,300 digits (Python's int limit)
        [GOOD + b'\n{"type":"ACTIVATE_VERSION","stream":"s","version":' + b"9" * 5000 + b"}"],
    ],
)
def test_what_the_fuzzer_found_reads_the_same_in_blocks_and_line_by_line(
    blocks: list[bytes],
) -> None:
    assert _same_in_blocks_and_by_line(blocks).endswith(b"\n")  # and something was said
