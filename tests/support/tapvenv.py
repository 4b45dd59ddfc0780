"""Cached venvs for the real taps the tests run (`python -m tests.support.tapvenv --all`).

Every tap gets its own venv (singer-python pins jsonschema 2.x, singer-sdk needs 4.x), cached
under .cache/tap-venvs by the hash of its pip specs; CI warms them all in parallel first.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from singer_bridge._tap.venvs import ensure_venv

REPO = Path(__file__).resolve().parents[2]
ROOT = Path(os.environ.get("SINGER_BRIDGE_VENVS") or REPO / ".cache" / "tap-venvs")


def tap_bin(name: str, specs: list[str]) -> Path:
    """The bin folder of the tap's venv, building it once."""
    from tests.support.realtaps import THEN

    return ensure_venv(name, specs, root=ROOT, then=THEN.get(name, ()))


def main() -> int:
    from tests.support.realtaps import ALL_VENVS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--all", action="store_true", help="build every registered venv")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    wanted = {n: s for n, s in ALL_VENVS.items() if args.all or n in args.names}
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(tap_bin, name, specs) for name, specs in wanted.items()}
        failed = 0
        for name, future in futures.items():
            try:
                print(f"{name}: {future.result()}", file=sys.stderr)
            except Exception as exc:
                failed += 1
                print(f"{name}: FAILED {exc}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
