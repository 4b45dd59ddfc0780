"""singer-bridge: run Singer taps as Airbyte sources, and write sources once for both.

What a connector author uses is here; ``singer_bridge.native`` (the same ``Source`` and
``Stream``), ``singer_bridge.http`` (REST, GraphQL and async-job streams) and
``singer_bridge.testing`` (the offline mock server) hold the rest. Modules whose names start
with an underscore are internal.

``launch`` runs an Airbyte command (or, for a native source, Singer tap flags) and writes the
protocol lines to stdout, or to the binary file given:

>>> import io, json, sys
>>> from singer_bridge import SingerSource, launch
>>> about = '{"name": "tap-x", "settings": {"properties": {"token": {"writeOnly": true}}}}'
>>> tap = SingerSource(tap=[sys.executable, "-c", f"print({about!r})"])  # answers --about
>>> out = io.BytesIO()
>>> launch(tap, ["spec"], out)
0
>>> json.loads(out.getvalue())["spec"]["connectionSpecification"]["properties"]
{'token': {'writeOnly': True, 'airbyte_secret': True}}

Importing ``singer_bridge`` (or any module of it) loads none of the rest until a name is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from singer_bridge._version import __version__

if TYPE_CHECKING:
    from singer_bridge._cli.main import launch
    from singer_bridge._read.singer_source import SingerSource
    from singer_bridge._tap.bridge_config import BridgeConfig, load_bridge_config
    from singer_bridge._translate.catalog import StreamOverride
    from singer_bridge.errors import BridgeError, ConfigError, TapError, TransientError
    from singer_bridge.native import Checkpoint, ReadContext, Source, Stream

# public name -> the module that defines it, imported when the name is first used
_HOMES = {
    "launch": "singer_bridge._cli.main",
    "SingerSource": "singer_bridge._read.singer_source",
    "BridgeConfig": "singer_bridge._tap.bridge_config",
    "load_bridge_config": "singer_bridge._tap.bridge_config",
    "StreamOverride": "singer_bridge._translate.catalog",
    "BridgeError": "singer_bridge.errors",
    "ConfigError": "singer_bridge.errors",
    "TapError": "singer_bridge.errors",
    "TransientError": "singer_bridge.errors",
    "Checkpoint": "singer_bridge.native",
    "ReadContext": "singer_bridge.native",
    "Source": "singer_bridge.native",
    "Stream": "singer_bridge.native",
}

__all__ = [
    "BridgeConfig",
    "BridgeError",
    "Checkpoint",
    "ConfigError",
    "ReadContext",
    "SingerSource",
    "Source",
    "Stream",
    "StreamOverride",
    "TapError",
    "TransientError",
    "__version__",
    "launch",
    "load_bridge_config",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'singer_bridge' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
