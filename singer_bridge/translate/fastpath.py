"""The C scanner's seam: the translator hands it the streams its tight loop takes.

``singer_bridge._speedups.RecordScanner`` (optional C; ``singer_bridge.speedups`` makes one)
translates the common RECORD lines of a block in one pass, the same bytes as
``Translator.records``; ``ScannedRoutes`` keeps it told of the streams and counts its records.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from singer_bridge.translate.routes import Route


class RecordScanner(Protocol):
    """The C scanner's interface (see the module docstring of ``_speedups.c``)."""

    def set_routes(self, routes: dict[bytes, tuple[int, bytes]], /) -> None: ...

    def scan(
        self, block: bytes | bytearray, pos: int, clock_ms: int, /
    ) -> tuple[bytes, int, list[int]]: ...


class ScannedRoutes:
    """The C scanner, kept told of the streams the translator's tight loop takes."""

    __slots__ = ("_routes", "scanner", "stale")

    def __init__(self, scanner: RecordScanner | None) -> None:
        self.scanner = scanner
        self._routes: list[Route] = []
        self.stale = True  # the translator's set of fast streams changed: tell the scanner

    def scan(
        self, fast: Mapping[str | None, Route], block: bytes | bytearray, pos: int, clock_ms: int
    ) -> tuple[bytes, int]:
        """The scanner's lines from ``pos`` on (each route's ``pending`` counted), and where
        the first line it leaves starts."""
        scanner = self.scanner
        assert scanner is not None, "scan() needs the C scanner"
        if self.stale:
            routes = self._routes = list({id(r): r for r in fast.values()}.values())
            index = {id(route): i for i, route in enumerate(routes)}
            scanner.set_routes(
                {
                    name.encode(): (index[id(route)], route.prefix)
                    for name, route in fast.items()
                    if name is not None
                }
            )
            self.stale = False
        lines, pos, counts = scanner.scan(block, pos, clock_ms)
        if lines:
            for route, count in zip(self._routes, counts, strict=True):
                route.pending += count
        return lines, pos
