"""`check` on a REST tap (tap-rest-api-msdk) fails when the URL is wrong, and only then.

tap-rest-api-msdk infers a stream's schema from the API's first records unless the config
gives one; with a declared schema its discovery never touches the network, so only a first
read can tell a wrong URL.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airbyte_check import by_type, validate_output
from tests.support.http_items import TOKEN, ItemsApi
from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin

pytestmark = pytest.mark.realtap
VENV = "tap-rest-api-msdk"
ITEM_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "price": {"type": "number"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


@pytest.fixture(scope="module")
def api() -> Iterator[ItemsApi]:
    server = ItemsApi().start()
    yield server
    server.stop()


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once closed


def check(tmp_path: Path, api_url: str, declared_schema: bool) -> dict[str, Any]:
    stream: dict[str, Any] = {
        "name": "items",
        "path": "/items",
        "primary_keys": ["id"],
        "records_path": "$.items[*]",
    }
    if declared_schema:
        stream["schema"] = ITEM_SCHEMA
    config = {
        "api_url": api_url,
        "auth_method": "bearer_token",
        "bearer_token": TOKEN,
        "streams": [stream],
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    tap = tap_bin(VENV, ALL_VENVS[VENV]) / VENV
    argv = [
        sys.executable,
        "-m",
        "singer_bridge",
        "--tap",
        str(tap),
        "check",
        "--config",
        str(path),
    ]
    proc = subprocess.run(argv, capture_output=True, timeout=300, check=False)
    (status,) = [
        m["connectionStatus"] for m in by_type(validate_output(proc.stdout), "CONNECTION_STATUS")
    ]
    result: dict[str, Any] = status
    return result


@pytest.mark.parametrize("declared_schema", [False, True], ids=["inferred", "declared"])
def test_check_succeeds_on_the_right_url(
    api: ItemsApi, tmp_path: Path, declared_schema: bool
) -> None:
    assert check(tmp_path, api.url, declared_schema)["status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    "declared_schema",
    [False, True],
    ids=["inferred", "declared"],
)
def test_check_fails_when_nothing_listens_at_the_url(tmp_path: Path, declared_schema: bool) -> None:
    status = check(tmp_path, _closed_port_url(), declared_schema)
    assert status["status"] == "FAILED" and status["message"]


@pytest.mark.parametrize(
    "declared_schema",
    [False, True],
    ids=["inferred", "declared"],
)
def test_check_fails_when_the_url_has_the_wrong_path(
    api: ItemsApi, tmp_path: Path, declared_schema: bool
) -> None:
    status = check(tmp_path, api.url + "/v2", declared_schema)
    assert status["status"] == "FAILED" and status["message"]
