"""Reading the files a Singer BATCH message names (``file://`` JSONL, gzip or not).

A missing or unreadable file is an error, never a silent skip.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import IO
from urllib.parse import unquote, urlparse

from singer_bridge._protocol.events import BatchEvent
from singer_bridge.errors import TapError


def batch_records(event: BatchEvent) -> Iterator[bytes]:
    """Yield each record of each manifest file as raw JSON bytes, in manifest order."""
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
                for line in handle:
                    line = line.strip()
                    if line:
                        yield line
            except (OSError, EOFError) as exc:
                raise TapError(
                    f"BATCH file {url} of stream '{event.stream}' is corrupt: {exc}"
                ) from exc


def _open(path: Path, gzipped: bool) -> IO[bytes]:
    if gzipped:
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _local_path(url: str, stream: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path if parsed.scheme else url))
    raise TapError(f"BATCH for stream '{stream}' names {url}; only file:// manifests are supported")
