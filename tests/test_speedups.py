"""The C hot path (``singer_bridge._speedups``) gives exactly the pure-Python path's bytes.

- its ``time_extracted`` parser gives ``extracted_ms``'s integer for every shape it takes, and
  takes the shapes taps write;
- a read through the C scanner and one through the pure-Python loop give the same stdout, byte
  for byte, for any mix of lines: records in every JSON style (escapes, surrogate pairs,
  non-ASCII text, odd numbers), any ``time_extracted``, states, schemas, blank lines, junk,
  invalid UTF-8, messages back to back, and random byte damage;
- the scanner stops at whatever it must not take, never past the end of its input.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
import tracemalloc
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from singer_bridge.speedups import hot_path
from singer_bridge.tap.pump import pump
from singer_bridge.translate.catalog import configure, parse_singer_catalog
from singer_bridge.translate.timestamps import extracted_ms
from singer_bridge.translate.translator import Translator
from singer_bridge.writer import Writer
from tests.test_hot_path import DATETIMES, styles

if os.environ.get("SINGER_BRIDGE_REQUIRE_SPEEDUPS") == "1":
    # CI builds the extension: a missing one is a failure there, not a skip
    from singer_bridge import _speedups as speedups  # type: ignore[attr-defined]
else:
    speedups = pytest.importorskip("singer_bridge._speedups")
    if hot_path() != "c":
        pytest.skip("SINGER_BRIDGE_SPEEDUPS=off", allow_module_level=True)


def test_the_c_hot_path_is_the_one_in_use() -> None:
    assert hot_path() == "c"
    assert _translator(scanner=True).scans


@given(DATETIMES)
@settings(max_examples=500, deadline=None)
def test_the_c_time_parser_equals_extracted_ms_in_every_style(value: Any) -> None:
    texts = styles(value)
    for text in texts:
        fast = speedups.extracted_ms(text.encode())
        assert fast is None or fast == extracted_ms(text), text
    if 1900 <= value.year <= 2200:  # the shapes taps write: the C parser takes them itself
        for text in (texts[0], texts[1], texts[2], texts[3], texts[4], texts[5]):
            assert speedups.extracted_ms(text.encode()) is not None, text


# -- one read, both ways --------------------------------------------------------------------

CATALOG = {
    "streams": [
        {"tap_stream_id": "s", "schema": {"properties": {"id": {}}}},
        {"tap_stream_id": "t", "schema": {"properties": {"id": {}}}},
        {  # decimals: never the C scanner's (records are rewritten)
            "tap_stream_id": "d",
            "schema": {"properties": {"n": {"type": "string", "format": "singer.decimal"}}},
        },
    ]
}


def _translator(*, scanner: bool) -> Translator:
    configured = configure(
        parse_singer_catalog(CATALOG),
        {
            "streams": [
                {"stream": {"name": name}, "sync_mode": "full_refresh"} for name in ("s", "t", "d")
            ]
        },
        "test",
    )
    return Translator(
        configured, now_ms=lambda: 5, scanner=speedups.RecordScanner() if scanner else None
    )


def _read(blocks: list[bytes], *, scanner: bool) -> bytes:
    buffer = io.BytesIO()
    translator = _translator(scanner=scanner)
    assert translator.scans is scanner
    pump(list(blocks), translator, Writer(buffer))
    return buffer.getvalue()


def _same_both_ways(blocks: list[bytes]) -> bytes:
    fast = _read(blocks, scanner=True)
    assert fast == _read(blocks, scanner=False)
    return fast


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
def test_a_read_through_the_c_scanner_equals_the_python_read(
    lines: list[tuple[bytes, list[tuple[int, int, str]], int]], per_block: int, glued: bool
) -> None:
    texts = [_damaged(line, edits) if damage == 0 else line for line, edits, damage in lines]
    texts[:0] = WARM_UP  # both streams RUNNING: the rest is the scanner's to take or leave
    separator = b"" if glued and len(texts) > 1 else b"\n"  # back to back on one line
    blocks = [
        b"\n".join(texts[i : i + per_block]) + (separator if i == 0 else b"")
        for i in range(0, len(texts), per_block)
    ]
    _same_both_ways(blocks)


def test_a_realistic_read_is_the_same_both_ways_and_the_scanner_takes_it() -> None:
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
    out = _same_both_ways(blocks)
    records = [json.loads(x) for x in out.splitlines() if x.startswith(b'{"type":"RECORD"')]
    assert [r["record"]["data"]["id"] for r in records] == list(range(3000))
    # and the scanner, not Python, took nearly all of them
    translator, taken = _translator(scanner=True), []
    scan = translator.scan

    def counting(block: bytes, pos: int) -> tuple[bytes, int]:
        lines_out, end = scan(block, pos)
        taken.append(lines_out.count(b"\n"))
        return lines_out, end

    translator.scan = counting  # type: ignore[method-assign]
    pump(blocks, translator, Writer(io.BytesIO()))
    assert sum(taken) >= 2990


@pytest.mark.parametrize(
    "line",
    [
        b'{"type":"RECORD","stream":"s","record":{"a":"\\ud800"}}',  # a lone surrogate
        b'{"type":"RECORD","stream":"s","record":{"a":"\\udc00\\ud800"}}',
        b'{"type":"RECORD","stream":"s","record":{"a":"\\udc00"}}',
        b'{"type":"RECORD","stream":"s","record":{"a":"\\ud800\\u0041"}}',
        b'{"type":"RECORD","stream":"s","record":{"a":"x\x01"}}',  # a control character
        b'{"type":"RECORD","stream":"s","record":{"a":"\xc3"}}',  # cut UTF-8
        b'{"type":"RECORD","stream":"s","record":{"a":"\xed\xa0\x80"}}',  # an encoded surrogate
        b'{"type":"RECORD","stream":"s","record":{"a":"\xe0\x80\xaf"}}',  # overlong
        b'{"type":"RECORD","stream":"s","record":{"a":01}}',
        b'{"type":"RECORD","stream":"s","record":{"a":1,}}',
        b'{"type":"RECORD","stream":"s","record":{"a":NaN}}',
        b'{"type":"RECORD","stream":"s","stream":"s","record":{"a":1}}',  # msgspec: last wins
        b'{"type":"RECORD","stream":"s","record":{"a":1},"version":1e999}',  # msgspec refuses
        b'{"type":"RECORD","stream":"s","record":[1]}',  # not an object: a WARN from Python
        b'{"type":"RECORD","stream":"s","record":{"a":1}}{"type":"STATE","value":{}}',
        b'{"type":"RECORD","stream":"s","record":' + b"[" * 300 + b"]" * 300 + b"}",
        b'{"t\\u0079pe":"RECORD","stream":"s","record":{"a":1}}',
        b'{"type":"RECORD","stream":"s","record":{"a":1},"time_extracted":"2024\\u002d01"}',
        b'{"type":"RECORD","stream":"s","record":{"a":1}',  # cut short at the end of the block
        # a time_extracted that is no string: Python decodes it, and 1e999 raises there
        b'{"type":"RECORD","stream":"s","record":{"a":1},"time_extracted":1e999}',
        b'{"type":"RECORD","stream":"s","record":{"a":1},"time_extracted":[-1e999]}',
        b'{"type":"RECORD","stream":"s","record":{"a":1},"time_extracted":{"t":1E400}}',
    ],
)
def test_the_scanner_leaves_to_python_what_python_must_judge(line: bytes) -> None:
    scanner = speedups.RecordScanner()
    scanner.set_routes({b"s": (0, b"<s>")})
    good = b'{"type":"RECORD","stream":"s","record":{"a":1}}\n'
    lines, pos, counts = scanner.scan(good + line + b"\n" + good, 0, 5)
    assert (lines, pos, counts) == (b'<s>{"a":1},"emitted_at":5}}\n', len(good), [1])
    _same_both_ways_or_failing([b"\n".join([good.strip()] * 3 + [line] + [good.strip()] * 2)])


def _same_both_ways_or_failing(blocks: list[bytes]) -> None:
    """The same stdout both ways, and the same error where the read fails."""
    outcomes = []
    for scanner in (True, False):
        buffer = io.BytesIO()
        error = None
        try:
            pump(list(blocks), _translator(scanner=scanner), Writer(buffer))
        except Exception as exc:
            error = type(exc)
        outcomes.append((buffer.getvalue(), error))
    assert outcomes[0] == outcomes[1]


def test_the_scanner_reads_only_its_input() -> None:
    scanner = speedups.RecordScanner()
    scanner.set_routes({b"s": (0, b"<s>")})
    line = b'{"type":"RECORD","stream":"s","record":{"a":"\xe2\x82\xac"},"time_extracted":"%s"}'
    line %= b"2024-06-01T12:00:00.000084Z"
    for cut in range(len(line)):  # every prefix, from a view of a larger buffer
        view = memoryview(line + b"\xff" * 8)[:cut]
        lines, pos, _ = scanner.scan(view, 0, 5)
        assert lines == b"" and pos == 0
    lines, pos, _ = scanner.scan(memoryview(line + b"\xff" * 8)[: len(line)], 0, 5)
    assert lines == b'<s>{"a":"\xe2\x82\xac"},"emitted_at":1717243200000}}\n'
    assert pos == len(line)
    with pytest.raises(ValueError):
        scanner.scan(b"{}", 3, 5)
    block = b"\n".join([line, b"  \r", b'{"type":"STATE","value":{}}', line, b"", line])
    for pos in range(len(block) + 1):  # any start, any kind of buffer: the same answer
        lines, end, counts = scanner.scan(block, pos, 5)
        assert pos <= end <= len(block) and lines.count(b"\n") == sum(counts)
        assert scanner.scan(bytearray(block), pos, 5) == (lines, end, counts)
        view = memoryview(block + b"}\n")[: len(block)]
        assert scanner.scan(view, pos, 5) == (lines, end, counts)
    with pytest.raises(TypeError):
        scanner.set_routes({"s": (0, b"<s>")})


def test_the_routes_are_named_by_exact_bytes() -> None:
    class Name(bytes):  # its __eq__ would run in the middle of a scan's dict look-up
        def __eq__(self, other: object) -> bool:
            scanner.set_routes({b"x%d" % i: (i, b"") for i in range(100)})
            return bytes.__eq__(self, other)

        __hash__ = bytes.__hash__

    scanner = speedups.RecordScanner()
    with pytest.raises(TypeError):
        scanner.set_routes({Name(b"s"): (0, b"<s>")})
    scanner.set_routes({b"s": (0, b"<s>")})
    line = b'{"type":"RECORD","stream":"s","record":{}}\n'
    assert scanner.scan(line, 0, 5) == (b'<s>{},"emitted_at":5}}\n', len(line), [1])


def test_the_scanner_keeps_references_and_memory_flat() -> None:
    prefix, other = b"<s:%d>" % os.getpid(), b"<t:%d>" % os.getpid()  # objects of this test's own
    route = (0, prefix)
    routes = {b"s": route, b"t": (1, other)}
    scanner = speedups.RecordScanner()
    scanner.set_routes(routes)
    lines = [
        b'{"type":"RECORD","stream":"s","record":{"a":"\xe2\x82\xac"}}',
        b'{"type":"RECORD","stream":"t","record":{},"time_extracted":"2024-06-01T12:00:00Z"}',
        b'{"type":"STATE","value":{}}',  # each scan stops here and at the next ones
        b'{"type":"RECORD","stream":"nope","record":{}}',
        b'{"type":"RECORD","stream":"s","record":{},"time_extracted":"yesterday"}',
        b'{"type":"RECORD","stream":"s","record":{"a":"\xff"}}',
    ]
    block = b"\n".join(lines * 20)
    starts = [0] + [i + 1 for i, byte in enumerate(block) if byte == 0x0A]

    def scans(count: int) -> int:
        taken = 0
        for i in range(count):
            out, _, counts = scanner.scan(block, starts[i % len(starts)], 5)
            taken += counts[0] + counts[1]
            del out, counts
        with pytest.raises(ValueError):
            scanner.scan(block, len(block) + 1, 5)
        with pytest.raises(TypeError):
            scanner.scan("not bytes", 0, 5)
        return taken

    scans(100)  # anything cached once is cached now
    counted = [sys.getrefcount(x) for x in (prefix, other, route, routes, block, scanner)]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert scans(10_000) > 0
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(x) for x in (prefix, other, route, routes, block, scanner)] == counted
    assert grown < 64 * 1024  # a leaked line per scan would be 10,000 of them


def test_a_scanner_never_initialised_takes_nothing_and_never_crashes() -> None:
    # in a child process: the old scanner crashed here (a NULL routes dict), and took an empty
    # time_extracted as the remembered one of a time it never parsed (emitted_at 0)
    code = """if True:
        from singer_bridge import _speedups
        scanner = _speedups.RecordScanner.__new__(_speedups.RecordScanner)
        line = b'{"type":"RECORD","stream":"s","record":{},"time_extracted":""}'
        print(scanner.scan(line, 0, 5))
        scanner.set_routes({b"s": (0, b"<s>")})
        print(scanner.scan(line, 0, 5))
        """
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    assert child.stdout.splitlines() == ["(b'', 0, [])", "(b'', 0, [0])"]


GUARDED_SCANS = """if True:
    import ctypes, mmap
    from singer_bridge import _speedups
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    page = mmap.PAGESIZE
    area = mmap.mmap(-1, 2 * page)
    base = ctypes.addressof(ctypes.c_char.from_buffer(area))
    assert libc.mprotect(base + page, page, 0) == 0  # a read one byte past the end faults
    scanner = _speedups.RecordScanner()
    scanner.set_routes({b"s": (0, b"<s>")})
    scans = 0
    for line in LINES:
        for cut in range(len(line) + 1):
            data = line[:cut]
            start = base + page - len(data)  # the input ends where the guard page begins
            ctypes.memmove(start, data, len(data))
            view = memoryview((ctypes.c_char * len(data)).from_address(start)).cast("B")
            for pos in range(len(data) + 1):
                scanner.scan(view, pos, 5)
                scans += 1
    print(scans)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mmap guard page: Linux")
def test_the_scanner_never_reads_a_byte_past_its_input() -> None:
    # every prefix of each line, scanned from every position, ending right before a page that
    # faults when touched (in a child process: a read past the end kills it)
    lines = [
        b'{"type":"RECORD","stream":"s","record":{"a":"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",'
        b'"b":[1,-0.5e+3,true,false,null]},"time_extracted":"2024-06-01T12:00:00.000084Z"}',
        b'{"type":"RECORD","stream":"s","record":{"a":"\\ud83d\\ude00\\n\\u0041"},"version":12,'
        b'"time_extracted":null} \r',
        b'{ "time_extracted" : "2024-06-01T12:00:00+05:30" , "record" : { } , "stream" : "s" , '
        b'"type" : "RECORD" }',
    ]
    code = f"LINES = {lines!r}\n" + GUARDED_SCANS
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert child.returncode == 0, child.stderr
    assert int(child.stdout) > 20_000


# -- what the fuzzer (bench/fuzz/fuzz_scanner.py) found that was pump's, not the scanner's ---
# The scanner leaves these lines to Python as it must; pump's scanner path then takes each such
# line alone, while the pure-Python path decodes the whole block at once. They differed until
# pump treated a newline as the end of a message, caught RecursionError and decoded any
# time_extracted without raising.

GOOD = b'{"type":"RECORD","stream":"s","record":{"a":1}}'


@pytest.mark.parametrize(
    "blocks",
    [
        # a message spread over two lines: one RECORD for msgspec's decode of the whole block,
        # two WARNs when its lines are taken one by one
        [GOOD + b'\n{"type":"RECORD",\n"stream":"s","record":{"a":2}}'],
        # the same after eight lines the scanner left: the rest of the block goes whole
        [b"\n".join([b"}"] * 8 + [b'{"type":"RECORD","stream":"s","record":\n{"a":2}}'])],
        # too deep for msgspec: RecursionError (not caught) before anything of the block, or
        # after the lines the scanner took
        [GOOD + b'\n{"type":"RECORD","stream":"s","record":{"a":' + b"[" * 1500 + b"]" * 1500],
        # a time_extracted Python cannot decode (1e999) raises in records(); the whole-block
        # path had already counted the repaired line after it, the line-by-line one not
        [
            b'{"type":"RECORD","time_extracted":1e999}\n{"type":"RECORD","stream":"s","record":"\xff"}'
        ],
    ],
)
def test_pump_takes_the_lines_the_scanner_leaves_as_the_python_read_does(
    blocks: list[bytes],
) -> None:
    _same_both_ways_or_failing(blocks)
