"""singer-bridge: run Singer taps as Airbyte sources.

>>> from singer_bridge import SingerSource, launch
>>> source = SingerSource(tap=["tap-demo"])
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
