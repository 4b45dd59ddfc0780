"""Shared pytest settings."""

import os

# The bridge keeps what taps said (--about, catalogs) between commands (singer_bridge/tap/
# cache.py). Tests start from a clean slate each time: off here and in every bridge they start;
# tests/test_cache.py turns it on in a folder of its own.
os.environ["SINGER_BRIDGE_CACHE"] = "off"

# Runs in PyAirbyte's own venv, never imported by the test process.
collect_ignore = ["support/pyairbyte_driver.py"]
