"""Shared pytest settings and fixtures."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.docker import docker_daemon
from tests.support.mysql import MariaDBServer, mariadb_installed, start_mariadb
from tests.support.postgres import PostgresServer, postgres_bin, start_postgres

# The bridge keeps what taps said (--about, catalogs) between commands (singer_bridge/tap/
# cache.py). Tests start from a clean slate each time: off here and in every bridge they start;
# tests/test_cache.py turns it on in a folder of its own.
os.environ["SINGER_BRIDGE_CACHE"] = "off"

# Runs in PyAirbyte's own venv, never imported by the test process.
collect_ignore = ["support/pyairbyte_driver.py"]


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server, one per test module that asks for it (a module's tests
    share it: each makes its own database); skipped where the server is not installed."""
    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mariadb() -> Iterator[MariaDBServer]:
    """A throwaway MariaDB server (row-based binlog), one per test module that asks for it;
    skipped where the server is not installed."""
    if not mariadb_installed():
        pytest.skip("MariaDB server binaries are not installed (apt-get install mariadb-server)")
    server = start_mariadb()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def docker_env() -> Iterator[dict[str, str]]:
    """A Docker daemon of the tests' own with the base image built (tests/support/docker.py),
    one per session: the environment that reaches it. Tests using it share the xdist group
    ``docker``, so one worker starts it once."""
    with docker_daemon() as env:
        yield env
