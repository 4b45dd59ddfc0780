"""The pytest plugin of the test kit: the ``mock_server`` fixture.

Installed with ``pip install "singer-bridge[testing]"``, pytest loads it by itself (entry point
``pytest11``); without the entry point, ``pytest_plugins = ["singer_bridge.testing.plugin"]``
in a ``conftest.py`` loads it the same way. Call the fixture with expectations (a list, or a
MockServer JSON file); every server it starts is stopped after the test::

    def test_items(mock_server):
        api = mock_server("tests/expectations.json")
        ...  # point the source at api.url
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from singer_bridge.testing._mockserver import MockServer

Expectations = list[Mapping[str, Any]] | str | Path


@pytest.fixture
def mock_server() -> Iterator[Callable[[Expectations], MockServer]]:
    started: list[MockServer] = []

    def start(expectations: Expectations) -> MockServer:
        server = MockServer(expectations).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
