"""The test kit for connector authors: an offline mock HTTP server, and a pytest plugin.

``pip install "singer-bridge[testing]"`` registers the plugin (``singer_bridge.testing.plugin``)
through pytest's entry point, so the ``mock_server`` fixture is there without
``pytest_plugins``. This package itself never imports pytest: the servers work in any program.
"""

from singer_bridge.testing._mockserver import MockServer, running
from singer_bridge.testing._server import LocalServer

__all__ = ["LocalServer", "MockServer", "running"]
