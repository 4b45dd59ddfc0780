"""Test helpers for connector authors: ``pytest_plugins = ["singer_bridge.testing.plugin"]``
gives the ``mock_server`` fixture (call it with expectations; every server it starts is stopped)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from singer_bridge.testing.mockserver import MockServer

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
