"""Differential fuzzing of the C RECORD scanner (``singer_bridge._speedups``) against the
pure-Python read: run by hand, not part of ``make test``.

Each iteration takes a few real-looking Singer lines (singer-python and singer-sdk styles:
``json.dumps`` with and without ``ensure_ascii``, with and without spaces after separators,
``version`` keys, emoji, CJK, escapes, odd numbers, every ``time_extracted`` shape), damages
some of them byte by byte (flips, inserts, cuts, splices), splits them into blocks at random line
boundaries, and reads them twice: once through the scanner, once with it off. The two stdouts
(and the error a read ends with, if any) must be the same, byte for byte. It also calls
``RecordScanner.scan`` directly on bytes, bytearray and memoryview inputs at random positions.

A mismatch is shrunk to a small input and printed as a Python literal (and the run stops),
ready to become a parametrized case in ``tests/test_speedups.py``.

Under AddressSanitizer and UBSan (see ``bench/fuzz/README.md``)::

    CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -O1 -g" \\
        LDFLAGS="-fsanitize=address,undefined" \\
        .venv/bin/python setup.py build_ext --inplace --force
    LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \\
        ASAN_OPTIONS=detect_leaks=0 PYTHONMALLOC=malloc \\
        .venv/bin/python bench/fuzz/fuzz_scanner.py --seconds 600 --seed 1
    .venv/bin/python setup.py build_ext --inplace --force   # the normal build again
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import msgspec

from singer_bridge import speedups
from singer_bridge.protocol.singer import ENVELOPE_DECODER
from singer_bridge.tap.pump import pump
from singer_bridge.translate.catalog import configure, parse_singer_catalog
from singer_bridge.translate.translator import Translator
from singer_bridge.writer import Writer

try:
    from singer_bridge import _speedups  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - the fuzzer needs the extension
    sys.exit("singer_bridge._speedups is not built: make install (or setup.py build_ext)")

STREAMS = ("users", "orders", "dec", "línea")
CATALOG = {
    "streams": [
        {"tap_stream_id": "users", "schema": {"properties": {"id": {}}}},
        {"tap_stream_id": "orders", "schema": {"properties": {"id": {}}}},
        {  # decimals: records rewritten, never the scanner's
            "tap_stream_id": "dec",
            "schema": {"properties": {"n": {"type": "string", "format": "singer.decimal"}}},
        },
        {"tap_stream_id": "línea", "schema": {"properties": {"id": {}}}},
    ]
}
CONFIGURED = configure(
    parse_singer_catalog(CATALOG),
    {"streams": [{"stream": {"name": n}, "sync_mode": "full_refresh"} for n in STREAMS]},
    "fuzz",
)
WARM_UP = [
    b'{"type":"RECORD","stream":"%s","record":{}}' % name.encode()
    for name in STREAMS
    if name != "dec"
]

# -- a corpus of real-looking lines ---------------------------------------------------------

TEXTS = [
    "plain",
    "Zoë Ångström",
    "李小龙",
    "Αλέξανδρος",
    'O\'Brien "Bob"',
    "Mañana 😀",
    "tab\tnew\nline",
    "back\\slash/",
    "\u0000\u001f\u007f\u0080\u00ff",
    "\u2028\u2029",
    "𝄞 music",
    "",
]
TIMES: list[Any] = [
    "2024-06-01T12:00:00.000084Z",
    "2024-06-01T12:00:00.000085Z",
    "2024-06-01T12:00:00.001Z",
    "2024-06-01T12:00:00.123456+00:00",
    "2023-12-31T23:59:59+00:00",
    "2024-06-01T12:00:00.123+05:30",
    "2024-06-01T12:00:00",
    "2024-06-01T12:00:00.1234567Z",
    "2024-06-01 12:00:00Z",
    "1969-12-31T23:59:59.999999-01:00",
    "2024-02-29T00:00:00Z",
    "2023-02-29T00:00:00Z",
    "2255-06-01T00:00:00Z",
    "1685-06-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z",
    "2024-06-01T24:00:00Z",
    "2024-06-01T12:00:00-23:59",
    "2024-06-01T12:00:00+24:00",
    "2024-06-01T12:00:00.000000z",
    "not a time",
    "",
    None,
    5,
    1.5,
    True,
    [],
    {"at": 1},
]
NUMBERS = [b"0", b"-0", b"1E+2", b"1e-7", b"-1.5e300", b"1e999", b"-1e999", b"0.1", b"2.5E-999"]
NUMBERS += [b"123456789012345678901", b"1" + b"0" * 400]


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randrange(-(2**40), 2**40)
    if kind == 3:
        return rng.random() * 10 ** rng.randrange(-5, 20)
    if kind in (4, 5):
        return rng.choice(TEXTS) + str(rng.randrange(100))
    if kind in (6, 7):
        return {rng.choice(TEXTS): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _dumps(rng: random.Random, message: dict[str, Any]) -> bytes:
    style = rng.randrange(4)
    if style == 0:  # singer-python: json.dumps defaults
        text = json.dumps(message)
    elif style == 1:  # singer-sdk style: compact, non-ASCII kept
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    elif style == 2:
        text = json.dumps(message, ensure_ascii=False)
    else:
        text = json.dumps(message, separators=(",", ":"))
    data = text.encode()
    if rng.random() < 0.1:  # a number json.dumps never writes, in the record body
        number = rng.choice(NUMBERS)
        data = data.replace(b'"record": {', b'"record": {"n": %s, ' % number, 1)
        data = data.replace(b'"record":{', b'"record":{"n":%s,' % number, 1)
        data = data.replace(b", }", b"}").replace(b",}", b"}")
    if rng.random() < 0.05:  # a number in a top-level field msgspec decodes or skips
        key = rng.choice([b"version", b"extra", b"time_extracted", b"value"])
        data = data[:-1] + b',"%s":%s}' % (key, rng.choice(NUMBERS))
    return data


def real_line(rng: random.Random) -> bytes:
    kind = rng.randrange(20)
    if kind == 0:
        value = {"bookmarks": {rng.choice(STREAMS): {"id": rng.randrange(9)}}}
        return _dumps(rng, {"type": "STATE", "value": value})
    if kind == 1:
        schema = {"properties": {"id": {"type": "integer"}}}
        return _dumps(rng, {"type": "SCHEMA", "stream": rng.choice(STREAMS), "schema": schema})
    if kind == 2:
        return _dumps(rng, {"type": "ACTIVATE_VERSION", "stream": "users", "version": 7})
    if kind == 3:
        return rng.choice([b"", b" ", b"\r", b"\t \r", b"hello", b"[1]", b"{", b"null"])
    stream = rng.choice([*STREAMS, "users", "users", "orders", "nope", "", "USERS"])
    record = {
        "id": rng.randrange(10**6),
        "name": rng.choice(TEXTS),
        "amount": rng.random() * 1000,
        "tags": [rng.choice(TEXTS) for _ in range(rng.randrange(3))],
        "nested": _value(rng),
    }
    if rng.random() < 0.1:
        record = _value(rng)  # sometimes not an object at all
    message: dict[str, Any] = {"type": "RECORD", "stream": stream, "record": record}
    if rng.random() < 0.8:
        message["time_extracted"] = rng.choice(TIMES)
    if rng.random() < 0.15:
        message["version"] = rng.choice([1, 1700000000000, None, -3, 1.0, "2"])
    items = list(message.items())
    if rng.random() < 0.3:
        rng.shuffle(items)
    return _dumps(rng, dict(items))


# -- damage ------------------------------------------------------------------------------------

INTERESTING = b'\n\r\t "\\{}[],:0-eE.\x00\x1f\x7f\x80\xbf\xc0\xc3\xed\xef\xf0\xf4\xff'


def damaged(rng: random.Random, line: bytes, others: list[bytes]) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(data) + 1)
        how = rng.randrange(7)
        if how == 0 and data:  # flip a bit
            at = min(at, len(data) - 1)
            data[at] ^= 1 << rng.randrange(8)
        elif how == 1:  # insert an interesting byte
            data[at:at] = bytes([rng.choice(INTERESTING)])
        elif how == 2:  # insert any byte
            data[at:at] = bytes([rng.randrange(256)])
        elif how == 3:  # delete a run
            del data[at : at + rng.randrange(1, 6)]
        elif how == 4:  # cut
            del data[at:]
        elif how == 5 and others:  # splice a piece of another line
            other = rng.choice(others)
            start = rng.randrange(len(other) + 1)
            data[at:at] = other[start : start + rng.randrange(1, 40)]
        else:  # an escape or a surrogate dropped in
            data[at:at] = rng.choice(
                [b"\\u", b"\\ud83d", b"\\ude00", b"\\ud83d\\ude00", b"\\u0000", b"\\/", b"\\x"]
            )
    return bytes(data)


def case(rng: random.Random) -> list[bytes]:
    """Blocks of whole lines, as the tap reader hands them to pump."""
    lines = [real_line(rng) for _ in range(rng.randrange(1, 30))]
    for i in range(len(lines)):
        if rng.random() < 0.15:
            lines[i] = damaged(rng, lines[i], lines)
        if rng.random() < 0.1:
            lines[i] += b"\r"  # a tap writing CRLF
    if len(lines) > 1 and rng.random() < 0.1:  # two messages back to back on one line
        at = rng.randrange(len(lines) - 1)
        lines[at : at + 2] = [lines[at] + rng.choice([b"", b" ", b"\r"]) + lines[at + 1]]
    lines[:0] = WARM_UP
    blocks, start = [], 0
    while start < len(lines):
        end = start + rng.randrange(1, 12)
        block = b"\n".join(lines[start:end])
        if rng.random() < 0.5:
            block += b"\n"
        blocks.append(block)
        start = end
    return blocks


# -- the two reads -----------------------------------------------------------------------------


def read(blocks: list[bytes | bytearray], *, scanner: bool) -> tuple[bytes, str]:
    translator = Translator(
        CONFIGURED, now_ms=lambda: 5, scanner=speedups.record_scanner() if scanner else None
    )
    assert translator.scans is scanner
    buffer = io.BytesIO()
    error = ""
    try:
        pump(list(blocks), translator, Writer(buffer))
    except Exception as exc:  # the same error both ways, and the same bytes before it
        error = type(exc).__name__
    return buffer.getvalue(), error


def differs(blocks: list[bytes]) -> bool:
    fast = read(list(blocks), scanner=True)
    if fast != read(list(blocks), scanner=False):
        return True
    # the same read with bytearray blocks (a tap reader may hand those)
    return read([bytearray(b) for b in blocks], scanner=True) != fast


def known_divergence(blocks: list[bytes]) -> str | None:
    """A difference that is pump's, not the scanner's: a block msgspec decodes whole but not
    line by line, where pump's pure-Python path cannot tell (it compares the count of messages
    with the count of lines, and a line holding several messages back to back hides a message
    spread over two); or a read that fails the same way both ways, where how much of the block
    was delivered before the error depends on how far pump decoded ahead."""
    fast, slow = read(list(blocks), scanner=True), read(list(blocks), scanner=False)
    if fast[1] and fast[1] == slow[1]:
        return FAILS_BOTH_WAYS
    for block in blocks:
        lines = bytes(block).split(b"\n")
        for i in range(len(lines)):
            if _decodes(lines[i]):
                continue
            for j in range(i + 2, min(len(lines), i + 60) + 1):
                if _decodes(b"\n".join(lines[i:j])):
                    return SPREAD  # lines i..j-1 are one message only when taken together
    return None


def _decodes(data: bytes) -> bool:
    try:
        ENVELOPE_DECODER.decode_lines(data)
    except (ValueError, msgspec.DecodeError, RecursionError):
        return False
    return True


SPREAD = "a message spread over several lines"
FAILS_BOTH_WAYS = "the read fails both ways"


def shrink(blocks: list[bytes], bad: Callable[[list[bytes]], bool]) -> list[bytes]:
    """A smaller input that still fails: fewer blocks, fewer lines, fewer bytes."""
    lines = [line for block in blocks for line in block.split(b"\n")]
    split = [lines]

    def as_blocks(groups: list[list[bytes]]) -> list[bytes]:
        return [b"\n".join(g) for g in groups if g]

    if not bad(as_blocks(split)):  # the block boundaries matter: keep them
        split = [block.split(b"\n") for block in blocks]
    changed = True
    while changed:
        changed = False
        for g in range(len(split)):
            i = 0
            while i < len(split[g]):
                trial = [list(x) for x in split]
                del trial[g][i]
                if bad(as_blocks(trial)):
                    split, changed = trial, True
                else:
                    i += 1
        for g in range(len(split)):
            for i in range(len(split[g])):
                step = max(1, len(split[g][i]) // 2)
                while step >= 1:
                    j = 0
                    while j < len(split[g][i]):
                        trial = [list(x) for x in split]
                        trial[g][i] = trial[g][i][:j] + trial[g][i][j + step :]
                        if bad(as_blocks(trial)):
                            split, changed = trial, True
                        else:
                            j += step
                    step //= 2
    return as_blocks(split)


def direct(rng: random.Random, blocks: list[bytes], scanner: Any) -> None:
    """scan() itself: any position, any buffer kind, never past the end, stable results."""
    block = b"\n".join(blocks)
    pos = rng.randrange(len(block) + 1)
    lines, end, counts = scanner.scan(block, pos, 5)
    assert pos <= end <= len(block), (pos, end, len(block))
    assert lines.count(b"\n") == sum(counts)
    assert scanner.scan(bytearray(block), pos, 5) == (lines, end, counts)
    padded = memoryview(block + b'"}\n' * 4)[: len(block)]
    assert scanner.scan(padded, pos, 5) == (lines, end, counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, default=0, help="0: until --seconds")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--keep-going", action="store_true", help="count mismatches, go on")
    args = parser.parse_args()
    if speedups.hot_path() != "c":
        sys.exit(f"the hot path is {speedups.hot_path()!r}: nothing to fuzz")
    rng = random.Random(args.seed)
    scanner = _speedups.RecordScanner()
    scanner.set_routes({b"users": (0, b"<u>"), b"orders": (1, b"<o>"), "línea".encode(): (2, b"")})
    started, done, found = time.monotonic(), 0, 0
    known = {SPREAD: 0, FAILS_BOTH_WAYS: 0}
    report_at = started + 60
    while True:
        if args.iterations and done >= args.iterations:
            break
        if not args.iterations and time.monotonic() - started > args.seconds:
            break
        if time.monotonic() > report_at:  # progress, for long runs
            report_at += 60
            print(f"... {done} iterations, {found} mismatches, known {known}", flush=True)
        blocks = case(rng)
        direct(rng, blocks, scanner)
        if differs(blocks):
            why = known_divergence(blocks)
            if why is not None:
                known[why] += 1
            else:
                found += 1
                small = shrink(blocks, differs)
                print(f"MISMATCH at iteration {done} (seed {args.seed}):")
                print(f"    {small!r}")
                print("    through the scanner:", read(list(small), scanner=True))
                print("    pure Python:        ", read(list(small), scanner=False))
                if not args.keep_going:
                    sys.exit(1)
        done += 1
    elapsed = time.monotonic() - started
    print(
        f"{done} iterations in {elapsed:.0f}s (seed {args.seed}): {found} mismatches; "
        f"known pump divergences: {known}"
    )
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
