"""singer-bridge: run Singer taps as Airbyte sources.

A tap is named by its command; ``launch`` runs an Airbyte command against it and writes the
protocol lines (to stdout, or to the ``Writer`` given):

>>> import io, json, sys
>>> from singer_bridge import SingerSource, launch
>>> from singer_bridge.writer import Writer
>>> about = '{"name": "tap-x", "settings": {"properties": {"token": {"writeOnly": true}}}}'
>>> tap = SingerSource(tap=[sys.executable, "-c", f"print({about!r})"])  # answers --about
>>> out = io.BytesIO()
>>> launch(tap, ["spec"], Writer(out))
0
>>> json.loads(out.getvalue())["spec"]["connectionSpecification"]["properties"]
{'token': {'writeOnly': True, 'airbyte_secret': True}}
"""

from singer_bridge._version import __version__
from singer_bridge.bridge_config import BridgeConfig, StreamOverride, load_bridge_config
from singer_bridge.cli.main import launch, main
from singer_bridge.errors import BridgeError, ConfigError, TapError, TransientError
from singer_bridge.tap.source import SingerSource
from singer_bridge.translate.translator import Translator

__all__ = [
    "BridgeConfig",
    "BridgeError",
    "ConfigError",
    "SingerSource",
    "StreamOverride",
    "TapError",
    "TransientError",
    "Translator",
    "__version__",
    "launch",
    "load_bridge_config",
    "main",
]
