"""Native sources: write a source once in Python, run it as an Airbyte source or a Singer tap.

Its output goes through the same translator as a wrapped Singer tap, so state, ``sourceStats``,
stream statuses and error traces behave the same. ``singer_bridge.launch(source)`` runs it.
"""

from singer_bridge.native._source import Source
from singer_bridge.native._stream import Checkpoint, ReadContext, Stream

__all__ = ["Checkpoint", "ReadContext", "Source", "Stream"]
