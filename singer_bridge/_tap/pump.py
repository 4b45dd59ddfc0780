"""The hot loop: Singer lines from the tap's stdout through the translator to the writer.

Only the envelope of each line is decoded; a RECORD body stays raw bytes and goes out inside
a cached per-stream prefix. Whatever was translated before a failure is still delivered, and a
STATE is flushed right behind the records it covers.

The tap's stdout comes in blocks of whole lines. A block is checked for UTF-8 once (msgspec
passes invalid UTF-8 inside a raw record body through) and its envelopes decoded in one call;
only a block that fails either is taken line by line. A RECORD line with invalid UTF-8 is
delivered with the bad bytes replaced by U+FFFD (never dropped while the STATE after it
advances), and a WARN per stream says how many records were so repaired. A line that holds
several messages back to back (a tap that left out a newline) gives every one of them, in
order, whichever way its block is taken.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import msgspec

from singer_bridge._protocol import airbyte as messages
from singer_bridge._protocol.events import BatchEvent, StateEvent
from singer_bridge._protocol.singer import ENVELOPE_DECODER, Envelope, describe_line_error, to_event
from singer_bridge._tap.batch import SkippedLine, batch_records
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer


class _Skipped(Envelope, gc=False):
    """The stand-in for a line that is no Singer message: ``value`` is its WARN line. (A class,
    not a ``type`` string: a tap may send any type.)"""


# A decode error, or a message nested deeper than msgspec's recursion budget
_UNDECODABLE = (ValueError, msgspec.DecodeError, RecursionError)


def pump(
    chunks: Iterable[bytes | bytearray | list[bytes]],
    translator: Translator,
    writer: Writer,
    state_hook: Callable[[Any], StateEvent] | None = None,
) -> None:
    """The hot loop: decode each Singer line's envelope, RECORDs straight to bytes.

    ``chunks`` yields blocks of whole lines (bytes, lines separated by newlines, as
    ``TapProcess.stdout_blocks`` reads them) or lists of lines; each one's output goes to the
    writer in one call. ``state_hook``, if given, turns each STATE's value into the one the
    translator gets (parallel tap processes merge their states so, each speaking for its streams).
    """
    out: list[bytes] = []
    repaired: dict[str, int] = {}
    try:
        _pump(chunks, _Taker(translator, writer, out, repaired, state_hook))
    finally:
        for stream, count in repaired.items():
            out.append(
                messages.log_message(
                    "WARN",
                    f"{count} RECORD line(s) of stream '{stream}' held invalid UTF-8; they "
                    "were delivered with the bad bytes replaced by U+FFFD",
                )
            )
        writer.write_all(out)  # whatever was translated before a failure is still delivered


def _pump(chunks: Iterable[bytes | bytearray | list[bytes]], take: _Taker) -> None:
    writer, out = take.writer, take.out
    for chunk in chunks:
        block = b"\n".join(chunk) if isinstance(chunk, list) else chunk
        take.small = len(block) < _SMALL_BLOCK
        take(block)
        writer.write_all(out, plain=take.plain, small=take.small)
        out.clear()
        take.plain = True


class _Taker:
    """Lines through the pure-Python path: envelopes decoded, RECORDs by the translator's
    ``records()`` loop, other messages as events; a STATE flushed right behind its records."""

    __slots__ = ("out", "plain", "repaired", "small", "state_hook", "translator", "writer")

    def __init__(
        self,
        translator: Translator,
        writer: Writer,
        out: list[bytes],
        repaired: dict[str, int],
        state_hook: Callable[[Any], StateEvent] | None,
    ) -> None:
        self.translator, self.writer, self.out = translator, writer, out
        self.repaired, self.state_hook = repaired, state_hook
        self.plain = True  # out holds only what records() and record() built: nothing to mask
        self.small = True

    def __call__(self, block: bytes | bytearray) -> None:
        translator, writer, out = self.translator, self.writer, self.out
        envelopes: list[Envelope] | None = None
        if block.isascii() or _is_utf8(block):
            # a line that is no Singer message: take this block line by line
            with contextlib.suppress(*_UNDECODABLE):
                envelopes = ENVELOPE_DECODER.decode_lines(block)
            if envelopes is not None and len(envelopes) < _line_count(block):
                envelopes = None  # a message over several lines (or a blank line): one by one
        if envelopes is None:
            envelopes = _each_line(block, self.repaired, writer.mask_text)
        pending = iter(envelopes)
        while (message := translator.records(pending, out)) is not None:
            if type(message) is _Skipped:
                out.append(message.value)
                self.plain = False
                continue
            event = to_event(message)
            if isinstance(event, BatchEvent):
                for count, raw in enumerate(batch_records(event, self.repaired), 1):
                    if isinstance(raw, SkippedLine):
                        out.append(messages.log_message("WARN", f"skipped {raw.why}"))
                        self.plain = False
                        continue
                    out.append(translator.record(event.stream, raw, None))
                    if count % 1000 == 0:  # a batch file can be large: keep memory flat
                        writer.write_all(out, plain=self.plain)
                        out.clear()
            elif event is not None:
                if self.state_hook is not None and isinstance(event, StateEvent):
                    event = self.state_hook(event.value)
                out.extend(translator.feed(event))
                if isinstance(event, StateEvent):
                    writer.write_all(out, plain=self.plain, small=self.small)  # behind its records
                    out.clear()
                    writer.flush()
                    self.plain = True
                else:
                    self.plain = False  # a LOG the tap wrote


_SMALL_BLOCK = 1 << 21  # a block of the reader's size (1 MiB): its lines are joined as they are


def _is_utf8(block: bytes | bytearray) -> bool:
    """Whether the block is UTF-8: line by line, since one string of a whole block that
    mixes scripts is decoded character by character, and most lines are ASCII."""
    try:
        if len(block) > _WINDOW * 4:  # a huge line: no copies of it, no huge string
            return _is_utf8_in_windows(block)
        for line in block.split(b"\n"):
            if not line.isascii():
                line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_WINDOW = 1 << 20


def _is_utf8_in_windows(block: bytes | bytearray) -> bool:
    """UTF-8 checked a window at a time, each cut before a byte that starts a character.

    A sequence split by a cut leaves an incomplete one at the end of the window before it,
    which fails that window; so the block is valid exactly when every window is.
    """
    view = memoryview(block)
    start, size = 0, len(block)
    try:
        while start < size:
            end = min(start + _WINDOW, size)
            while end < size and 0x80 <= block[end] < 0xC0:  # a continuation byte: not here
                end += 1
            piece = view[start:end]
            if not piece.tobytes().isascii():
                str(piece, "utf-8")
            start = end
    except UnicodeDecodeError:
        return False
    finally:
        view.release()
    return True


def _line_count(block: bytes | bytearray) -> int:
    """Lines in a block; decode_lines takes a newline inside a message for whitespace, but a
    newline ends a Singer message, so fewer messages than lines sends the block line by line."""
    return block.count(b"\n") + (not block.endswith(b"\n"))


def _each_line(
    block: bytes | bytearray, repaired: dict[str, int], mask: Callable[[str], str]
) -> list[Envelope]:
    """The block's envelopes line by line; a line that is none becomes a WARN stand-in."""
    envelopes = []
    decode = ENVELOPE_DECODER.decode_lines
    for line in bytes(block).split(b"\n"):
        if not line.strip():
            continue
        bad_utf8: UnicodeDecodeError | None = None
        if not line.isascii():
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_utf8 = exc
                line = line.decode("utf-8", "replace").encode("utf-8")
        try:
            messages_of_line = decode(line)  # several messages back to back are all kept
        except _UNDECODABLE as exc:
            envelopes.append(_skipped(line, describe_line_error(bad_utf8 or exc), mask))
            continue
        if bad_utf8 is not None:
            if any(m.type != "RECORD" for m in messages_of_line):  # a repaired STATE could
                envelopes.append(_skipped(line, describe_line_error(bad_utf8), mask))  # mislead
                continue
            for message in messages_of_line:
                stream = message.stream or ""
                repaired[stream] = repaired.get(stream, 0) + 1
        envelopes.extend(messages_of_line)
    return envelopes


def _skipped(line: bytes, why: str, mask: Callable[[str], str]) -> Envelope:
    # masked whole, then cut: a secret across the cut would leak its first characters
    preview = mask(line.decode("utf-8", "replace")).rstrip()[:200]
    warning = messages.log_message("WARN", f"skipped a tap stdout line that is {why}: {preview!r}")
    return _Skipped(type="", value=warning)
