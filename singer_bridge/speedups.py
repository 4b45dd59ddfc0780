"""Which RECORD hot path a read runs: the C scanner (``singer_bridge._speedups``) when it was
built, else the pure-Python loop in ``Translator.records``. Both give the same bytes.

The C extension is optional: an install without a C compiler still works, at the pure-Python
speed. ``SINGER_BRIDGE_SPEEDUPS=off`` turns it off (to compare the two, or to rule it out).

>>> hot_path() in {"c", "python (not built)", "python (SINGER_BRIDGE_SPEEDUPS=off)"}
True
"""

from __future__ import annotations

import os
from types import ModuleType

from singer_bridge.translate.fastpath import RecordScanner


def _module() -> ModuleType | None:
    try:
        from singer_bridge import _speedups  # type: ignore[attr-defined]
    except ImportError:
        return None
    return _speedups  # type: ignore[no-any-return]


def _enabled() -> bool:
    return os.environ.get("SINGER_BRIDGE_SPEEDUPS", "on").strip().lower() not in {"off", "0", "no"}


def record_scanner() -> RecordScanner | None:
    """A new C scanner for one read's translator, or None where the pure-Python path runs."""
    module = _module()
    if module is None or not _enabled():
        return None
    scanner: RecordScanner = module.RecordScanner()
    return scanner


def hot_path() -> str:
    """Which hot path a read uses, for logs, benchmarks and tests."""
    if not _enabled():
        return "python (SINGER_BRIDGE_SPEEDUPS=off)"
    return "c" if _module() is not None else "python (not built)"
