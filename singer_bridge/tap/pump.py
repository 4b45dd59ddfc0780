"""The hot loop: Singer lines from the tap's stdout through the translator to the writer.

Only the envelope of each line is decoded; a RECORD body stays raw bytes and goes out inside
a cached per-stream prefix. Whatever was translated before a failure is still delivered, and a
STATE is flushed right behind the records it covers.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from singer_bridge.protocol import airbyte as messages
from singer_bridge.protocol.events import BatchEvent, StateEvent
from singer_bridge.protocol.singer import ENVELOPE_DECODER, describe_line_error, to_event
from singer_bridge.tap.batch import batch_records
from singer_bridge.translate.translator import Translator
from singer_bridge.writer import Writer


def pump(chunks: Iterable[list[bytes]], translator: Translator, writer: Writer) -> None:
    """The hot loop: decode each Singer line's envelope, RECORDs straight to bytes.

    ``chunks`` yields lists of lines; each list's output goes to the writer in one call.
    """
    out: list[bytes] = []
    try:
        _pump(chunks, translator, writer, out)
    finally:
        writer.write_all(out)  # whatever was translated before a failure is still delivered


def _pump(
    chunks: Iterable[list[bytes]], translator: Translator, writer: Writer, out: list[bytes]
) -> None:
    record = translator.record
    emit = out.append
    decode = ENVELOPE_DECODER.decode
    for lines in chunks:
        for line in lines:
            try:
                if not line.isascii():
                    line.decode("utf-8")  # msgspec passes invalid UTF-8 in raw bodies through
                message = decode(line)
            except (ValueError, msgspec.DecodeError) as exc:  # incl. UnicodeDecodeError
                if line.strip():
                    emit(_bad_line(line, describe_line_error(exc)))
                continue
            if message.type == "RECORD":
                emit(record(message.stream or "", message.record, message.time_extracted))
                continue
            event = to_event(message)
            if isinstance(event, BatchEvent):
                for count, raw in enumerate(batch_records(event), 1):
                    emit(record(event.stream, raw, None))
                    if count % 1000 == 0:  # a batch file can be large: keep memory flat
                        writer.write_all(out)
                        out.clear()
            elif event is not None:
                out.extend(translator.feed(event))
                if isinstance(event, StateEvent):
                    writer.write_all(out)  # a STATE goes out right behind its records
                    out.clear()
                    writer.flush()
        writer.write_all(out)
        out.clear()


def _bad_line(line: bytes, why: str) -> bytes:
    preview = line[:200].decode("utf-8", "replace").rstrip()
    return messages.log_message("WARN", f"skipped a tap stdout line that is {why}: {preview!r}")
