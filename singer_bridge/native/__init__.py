"""Native sources: write a source once in Python, run it as an Airbyte source or a Singer tap.

Its output goes through the same translator as a wrapped Singer tap, so state, ``sourceStats``,
stream statuses and error traces behave the same.
"""

from singer_bridge.native.source import AirbyteSource, Source, launch
from singer_bridge.native.stream import Checkpoint, ReadContext, Stream

__all__ = ["AirbyteSource", "Checkpoint", "ReadContext", "Source", "Stream", "launch"]
