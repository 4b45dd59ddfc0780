"""Reading the files a Singer BATCH message names (``file://`` JSONL, gzip or not).

A missing or unreadable file is an error, never a silent skip. Each line gets the checks a
RECORD line's body gets: it must be one JSON value (nothing after it that could add keys to
the Airbyte message it is put in), invalid UTF-8 is replaced by U+FFFD, and a line that is no
JSON is skipped with a reason (a ``SkippedLine``) instead of reaching stdout.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

import msgspec

from singer_bridge._protocol.events import BatchEvent
from singer_bridge._protocol.singer import describe_line_error
from singer_bridge.errors import TapError

_RAW = msgspec.json.Decoder(msgspec.Raw)


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """A line of a BATCH file that is no record, and why (for the WARN that replaces it)."""

    why: str


def batch_records(event: BatchEvent, repaired: dict[str, int]) -> Iterator[bytes | SkippedLine]:
    """Yield each record of each manifest file as raw JSON bytes, in manifest order, or a
    ``SkippedLine`` for a line that is no JSON; ``repaired`` counts, per stream, the lines
    whose invalid UTF-8 was replaced."""
    fmt = str(event.encoding.get("format") or "jsonl").lower()
    if fmt != "jsonl":
        raise TapError(f"BATCH for stream '{event.stream}' uses format '{fmt}'; only jsonl is read")
    compression = str(event.encoding.get("compression") or "none").lower()
    for url in event.manifest:
        path = _local_path(url, event.stream)
        try:
            handle = _open(path, compression == "gzip" or path.suffix == ".gz")
        except OSError as exc:
            raise TapError(
                f"BATCH file for stream '{event.stream}' cannot be read: {url} ({exc.strerror})"
            ) from exc
        with handle:
            try:
                for number, line in enumerate(handle, 1):
                    line = line.strip()
                    if line:
                        yield _checked(line, event.stream, f"line {number} of {url}", repaired)
            except (OSError, EOFError) as exc:
                raise TapError(
                    f"BATCH file {url} of stream '{event.stream}' is corrupt: {exc}"
                ) from exc


def _checked(line: bytes, stream: str, where: str, repaired: dict[str, int]) -> bytes | SkippedLine:
    if not line.isascii():
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            line = line.decode("utf-8", "replace").encode("utf-8")
            repaired[stream] = repaired.get(stream, 0) + 1
    try:
        _RAW.decode(line)  # one JSON value and nothing after it
    except (ValueError, msgspec.DecodeError, RecursionError) as exc:
        preview = line[:200].decode("utf-8", "replace")
        why = describe_line_error(exc)
        return SkippedLine(f"{where} (stream '{stream}') is {why}: {preview!r}")
    return line


def _open(path: Path, gzipped: bool) -> IO[bytes]:
    if gzipped:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _local_path(url: str, stream: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path if parsed.scheme else url))
    raise TapError(f"BATCH for stream '{stream}' names {url}; only file:// manifests are supported")
