"""The offline mock server: MockServer's expectation format, record and replay, the fixture."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from singer_bridge.mockserver import MockServer, running
from singer_bridge.testing import mock_server  # noqa: F401 - the fixture under test
from tests.support.shop_api import ShopApi

EXPECTATIONS = [
    {
        "httpRequest": {
            "method": "GET",
            "path": "/v1/items",
            "queryStringParameters": {"page": ["1"]},
            "headers": {"X-Key": ["k1"]},
        },
        "httpResponse": {"statusCode": 200, "body": {"items": [{"id": 1}]}},
        "times": {"remainingTimes": 1},
    },
    {
        "httpRequest": {
            "method": "GET",
            "path": "/v1/items",
            "queryStringParameters": {"page": ["1"]},
        },
        "httpResponse": {"statusCode": 429, "headers": {"Retry-After": ["0"]}},
        "times": {"unlimited": True},
    },
    {
        "httpRequest": {
            "method": "POST",
            "path": "^/v1/search/\\d+$",
            "body": {"type": "JSON", "json": {"q": "x"}},
        },
        "httpResponse": {
            "statusCode": 201,
            "body": "created",
            "delay": {"timeUnit": "MILLISECONDS", "value": 10},
        },
    },
]


def test_expectations_match_in_order_with_times_bodies_and_regex_paths() -> None:
    with running(EXPECTATIONS) as server:
        first = httpx.get(f"{server.url}/v1/items", params={"page": 1}, headers={"X-Key": "k1"})
        assert first.status_code == 200 and first.json() == {"items": [{"id": 1}]}
        again = httpx.get(f"{server.url}/v1/items", params={"page": 1}, headers={"X-Key": "k1"})
        assert again.status_code == 429 and again.headers["Retry-After"] == "0"  # times used up
        posted = httpx.post(f"{server.url}/v1/search/42", json={"q": "x"})
        assert posted.status_code == 201 and posted.text == "created"
        missing = httpx.get(f"{server.url}/nowhere")
        assert missing.status_code == 404 and "GET /nowhere" in missing.json()["error"]
        assert server.unmatched == ["GET /nowhere"]


def test_record_then_replay_offline(tmp_path: Path) -> None:
    api = ShopApi().start()
    try:
        recorder = MockServer([], record_from=api.url).start()
        token = httpx.post(
            f"{recorder.url}/oauth/token",
            data={"client_secret": "shop-secret-9", "refresh_token": "r1"},
        )
        assert token.status_code == 200
        live = httpx.get(
            f"{recorder.url}/v1/customers",
            params={"page": 1},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        recorder.stop()
        recorder.save(tmp_path / "recorded.json")
    finally:
        api.stop()
    with running(tmp_path / "recorded.json") as replay:  # the real API is gone now
        again = httpx.get(f"{replay.url}/v1/customers", params={"page": 1})
        assert again.json() == live.json()


def test_pytest_fixture_starts_and_stops_servers(mock_server) -> None:  # noqa: F811
    server = mock_server(EXPECTATIONS)
    assert httpx.post(f"{server.url}/v1/search/1", json={"q": "x"}).status_code == 201


def test_command_serves_a_file_until_stopped(tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text(json.dumps(EXPECTATIONS))
    proc = subprocess.Popen(
        [sys.executable, "-m", "singer_bridge", "mock-server", str(tmp_path / "e.json")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = re.search(r"http://127\.0\.0\.1:\d+", proc.stderr.readline()).group(0)  # type: ignore[union-attr]
        assert httpx.post(f"{url}/v1/search/7", json={"q": "x"}).text == "created"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        if proc.stderr is not None:
            proc.stderr.close()
