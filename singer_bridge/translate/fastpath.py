"""Which RECORD hot path runs: the C scanner (``singer_bridge._speedups``) when it was built,
else the pure-Python loop in ``Translator.records``. Both give the same bytes.

The C extension is optional: an install without a C compiler still works, at the pure-Python
speed. ``SINGER_BRIDGE_SPEEDUPS=off`` turns it off (to compare the two, or to rule it out).

>>> hot_path() in {"c", "python (not built)", "python (SINGER_BRIDGE_SPEEDUPS=off)"}
True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from singer_bridge.translate.routes import Route


class RecordScanner(Protocol):
    """The C scanner's interface (see the module docstring of ``_speedups.c``)."""

    def set_routes(self, routes: dict[bytes, tuple[int, bytes]], /) -> None: ...

    def scan(
        self, block: bytes | bytearray, pos: int, clock_ms: int, /
    ) -> tuple[bytes, int, list[int]]: ...


def _module() -> object | None:
    try:
        from singer_bridge import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _speedups  # type: ignore[no-any-return]


def _enabled() -> bool:
    return os.environ.get("SINGER_BRIDGE_SPEEDUPS", "on").strip().lower() not in {"off", "0", "no"}


def record_scanner() -> RecordScanner | None:
    """A new C scanner, or None where the pure-Python path runs."""
    module = _module()
    if module is None or not _enabled():
        return None
    scanner: RecordScanner = module.RecordScanner()  # type: ignore[attr-defined]
    return scanner


class ScannedRoutes:
    """The C scanner, kept told of the streams the translator's tight loop takes."""

    __slots__ = ("_routes", "_scanner", "stale")

    def __init__(self, scanner: RecordScanner) -> None:
        self._scanner = scanner
        self._routes: list[Route] = []
        self.stale = True  # the translator's set of fast streams changed: tell the scanner

    def scan(
        self, fast: Mapping[str | None, Route], block: bytes | bytearray, pos: int, clock_ms: int
    ) -> tuple[bytes, int]:
        """The scanner's lines from ``pos`` on (each route's ``pending`` counted), and where
        the first line it leaves starts."""
        if self.stale:
            routes = self._routes = list({id(r): r for r in fast.values()}.values())
            index = {id(route): i for i, route in enumerate(routes)}
            self._scanner.set_routes(
                {
                    name.encode(): (index[id(route)], route.prefix)
                    for name, route in fast.items()
                    if name is not None
                }
            )
            self.stale = False
        lines, pos, counts = self._scanner.scan(block, pos, clock_ms)
        if lines:
            for route, count in zip(self._routes, counts, strict=True):
                route.pending += count
        return lines, pos


def scanned_routes() -> ScannedRoutes | None:
    """The C scanner for a translator, or None where the pure-Python path runs."""
    scanner = record_scanner()
    return None if scanner is None else ScannedRoutes(scanner)


def hot_path() -> str:
    """Which hot path a read uses, for logs and benchmarks."""
    if not _enabled():
        return "python (SINGER_BRIDGE_SPEEDUPS=off)"
    return "c" if _module() is not None else "python (not built)"
