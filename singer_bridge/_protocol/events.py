"""Events: the lingua franca between sources (Singer taps, Python streams) and the translator.

A RECORD keeps its body as raw JSON bytes so numbers keep their exact text and the hot path
never builds a dict: ``RecordEvent("users", b'{"id": 1}')``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class SchemaEvent:
    stream: str
    schema: dict[str, Any]
    key_properties: tuple[str, ...] = ()
    bookmark_properties: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordEvent:
    stream: str
    data: bytes
    time_extracted: str | None = None


@dataclass(frozen=True, slots=True)
class StateEvent:
    value: Any
    # the streams (tap_stream_id or stream name) this STATE speaks for; None: all of them
    # (one of several parallel tap processes speaks only for its own)
    streams: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class BatchEvent:
    stream: str
    manifest: tuple[str, ...]
    encoding: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActivateVersionEvent:
    stream: str
    version: int


@dataclass(frozen=True, slots=True)
class LogEvent:
    level: str
    message: str


Event = SchemaEvent | RecordEvent | StateEvent | BatchEvent | ActivateVersionEvent | LogEvent
