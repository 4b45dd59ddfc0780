"""Decoding Singer message lines: the envelope only, the RECORD body stays raw JSON bytes.

>>> m = decode_line(b'{"type": "RECORD", "stream": "s", "record": {"n": 1234.50}}')
>>> (m.type, m.stream, bytes(m.record))
('RECORD', 's', b'{"n": 1234.50}')
"""

from __future__ import annotations

import argparse
from typing import Any

import msgspec

from singer_bridge._protocol.events import (
    ActivateVersionEvent,
    BatchEvent,
    Event,
    SchemaEvent,
    StateEvent,
)


class SingerLineError(ValueError):
    """A stdout line that is not a Singer message (not JSON, not UTF-8, no type)."""


class Envelope(msgspec.Struct, gc=False):
    type: str
    stream: str | None = None
    record: msgspec.Raw = msgspec.Raw()
    # raw JSON, read only when it differs from the last record's: see ``extracted_text``
    time_extracted: msgspec.Raw = msgspec.Raw()
    value: Any = None
    schema: Any = None
    key_properties: Any = None
    bookmark_properties: Any = None
    version: Any = None
    manifest: Any = None
    encoding: Any = None


ENVELOPE_DECODER = msgspec.json.Decoder(Envelope)


def extracted_text(message: Envelope) -> str | None:
    """A message's ``time_extracted`` as text; None when absent, null or not a string.

    >>> extracted_text(decode_line(b'{"type": "RECORD", "time_extracted": "2024-05-01"}'))
    '2024-05-01'
    >>> extracted_text(decode_line(b'{"type": "RECORD", "time_extracted": 5}')) is None
    True
    """
    raw = message.time_extracted
    if not raw:
        return None
    text = bytes(raw)
    if text[:1] == b'"' and b"\\" not in text:
        return text[1:-1].decode("utf-8", "replace")
    try:
        value = msgspec.json.decode(raw)
    except msgspec.DecodeError:  # 1e999: out of a float's range, no time either way
        return None
    return value if isinstance(value, str) else None


def describe_line_error(exc: Exception) -> str:
    """Why a line is not a Singer message, from the error decoding it raised."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not valid UTF-8 ({exc.reason} at byte {exc.start})"
    if isinstance(exc, RecursionError):
        return "nested too deeply to decode"
    if isinstance(exc, msgspec.ValidationError):
        return f"not a Singer message: {exc}"
    return f"not valid JSON: {exc}"


def decode_line(line: bytes) -> Envelope:
    """Decode one line; raise ``SingerLineError`` saying why it is not a Singer message.

    (The hot loop in ``source.pump`` inlines this.)
    """
    try:
        if not line.isascii():
            line.decode("utf-8")  # msgspec passes invalid UTF-8 inside raw bodies through
        return ENVELOPE_DECODER.decode(line)
    except (ValueError, msgspec.DecodeError) as exc:
        raise SingerLineError(describe_line_error(exc)) from exc


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v) for v in value)
    if isinstance(value, str) and value:
        return (value,)
    return ()


def to_event(message: Envelope) -> Event | None:
    """The event for a non-RECORD message; None for types the bridge does not translate."""
    kind = message.type
    if kind == "STATE":
        return StateEvent(message.value)
    stream = message.stream or ""
    if kind == "SCHEMA":
        schema = message.schema if isinstance(message.schema, dict) else {}
        return SchemaEvent(
            stream, schema, _names(message.key_properties), _names(message.bookmark_properties)
        )
    if kind == "ACTIVATE_VERSION":
        return ActivateVersionEvent(stream, int(message.version or 0))
    if kind == "BATCH":
        encoding = message.encoding if isinstance(message.encoding, dict) else {}
        return BatchEvent(stream, _names(message.manifest), encoding)
    return None


def tap_parser(description: str) -> argparse.ArgumentParser:
    """The Singer tap command line: ``--config``, ``--discover``, ``--catalog`` or
    ``--properties``, ``--state``, ``--about`` with ``--format`` (json or markdown)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config")
    parser.add_argument("--discover", action="store_true")
    parser.add_argument("--catalog")
    parser.add_argument("--properties")
    parser.add_argument("--state")
    parser.add_argument("--about", action="store_true")
    parser.add_argument("--format", default="json", choices=["json", "markdown"])
    return parser
