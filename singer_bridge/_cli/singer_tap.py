"""``singer-bridge-tap``: any Airbyte source as a Singer tap (docs/airbyte-in-meltano.md)."""

from __future__ import annotations

import sys

from singer_bridge._airbyte_tap.tap import run
from singer_bridge._version import __version__


def main() -> None:
    sys.exit(run(sys.argv[1:], version=__version__))
