"""The offline mock server: MockServer's expectation format, record and replay, the fixture."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from flask import Flask, Response
from flask import request as flask_request
from werkzeug.serving import make_server

from singer_bridge.testing._mockserver import MockServer, running
from singer_bridge.testing._server import LocalServer
from tests.support.json_handler import JsonHandler
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


def test_pytest_fixture_comes_from_the_installed_entry_point(
    mock_server: Callable[[list[dict[str, object]]], MockServer],
) -> None:
    # no import and no pytest_plugins here: the `pytest11` entry point provides the fixture
    server = mock_server(EXPECTATIONS)
    assert httpx.post(f"{server.url}/v1/search/1", json={"q": "x"}).status_code == 201


FIXTURE_USER = """
import urllib.error, urllib.request
import pytest

URLS = []

def test_fixture_serves(mock_server):
    api = mock_server([{"httpRequest": {"path": "/a"}, "httpResponse": {"body": "ok"}}])
    URLS.append(api.url)
    assert urllib.request.urlopen(api.url + "/a").read() == b"ok"

def test_the_server_was_stopped_after_the_test():
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(URLS[0] + "/a", timeout=5)
"""


@pytest.mark.parametrize(
    ("conftest", "autoload", "passes"),
    [
        (False, True, True),  # `pip install singer-bridge[testing]` is all it takes
        (True, True, True),  # projects that still name the plugin keep working
        (True, False, True),  # and the name alone loads it without the entry point
        (False, False, False),  # without either there is no fixture: the entry point did it
    ],
)
def test_fixture_through_the_entry_point_or_pytest_plugins(
    tmp_path: Path, conftest: bool, autoload: bool, passes: bool
) -> None:
    (tmp_path / "test_uses_fixture.py").write_text(FIXTURE_USER)
    if conftest:
        (tmp_path / "conftest.py").write_text('pytest_plugins = ["singer_bridge.testing.plugin"]\n')
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    if not autoload:
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
        check=False,
    )
    if passes:
        assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-2000:]
    else:
        assert run.returncode == 1 and "fixture 'mock_server' not found" in run.stdout


def test_the_test_kit_imports_without_pytest() -> None:
    code = (
        "import sys; sys.modules['pytest'] = None\n"  # any `import pytest` now fails
        "import singer_bridge.testing, singer_bridge.testing._mockserver\n"
        "import singer_bridge.testing._server\n"
        "print(sorted(singer_bridge.testing.__all__))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["['LocalServer',", "'MockServer',", "'running']"]
    blocked = subprocess.run(
        [sys.executable, "-c", code.replace("server\n", "plugin\n")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "ModuleNotFoundError" in blocked.stderr  # the check above would notice an import


def test_local_server_binds_loopback_on_a_free_port_and_stops() -> None:
    class Hello(JsonHandler):
        def do_GET(self) -> None:
            self._send(200, {"path": self.path})

    with LocalServer(Hello) as first, LocalServer(Hello) as second:
        assert first.url.startswith("http://127.0.0.1:") and first.port != second.port
        assert httpx.get(f"{first.url}/x").json() == {"path": "/x"}
        assert httpx.get(f"{second.url}/y").json() == {"path": "/y"}
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{first.url}/x")
    LocalServer(Hello).stop()  # never started: closes its socket without waiting


def test_mockservers_other_forms_priorities_and_body_matchers() -> None:
    expectations = [
        {  # list-form headers and query, a form body: an OAuth token request
            "httpRequest": {
                "method": "POST",
                "path": "/oauth/token",
                "headers": [{"name": "Content-Type", "values": ["application/x-www-form-.*"]}],
                "body": {"type": "PARAMETERS", "parameters": {"grant_type": ["refresh_token"]}},
            },
            "httpResponse": {"body": {"access_token": "a1"}},
        },
        {  # JSON bodies match on the expected fields only, unless STRICT
            "httpRequest": {"method": "POST", "path": "/search", "body": {"q": "x"}},
            "httpResponse": {"statusCode": 200, "body": "loose"},
        },
        {
            "httpRequest": {
                "method": "POST",
                "path": "/search",
                "body": {"type": "JSON", "json": {"q": "x"}, "matchType": "STRICT"},
            },
            "httpResponse": {"statusCode": 201, "body": "strict"},
            "priority": 10,
        },
        {
            "httpRequest": {
                "path": "/items",
                "queryStringParameters": [{"name": "page", "values": ["[0-9]+"]}],
            },
            "httpResponse": {"headers": [{"name": "X-Page", "values": ["n"]}], "body": "[]"},
        },
    ]
    with running(expectations) as server:
        token = httpx.post(
            f"{server.url}/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "r"}
        )
        assert token.json() == {"access_token": "a1"}
        assert httpx.post(f"{server.url}/search", json={"q": "x"}).text == "strict"  # priority
        assert httpx.post(f"{server.url}/search", json={"q": "x", "n": 1}).text == "loose"
        page = httpx.get(f"{server.url}/items", params={"page": 7, "size": 2})
        assert page.headers["X-Page"] == "n" and page.text == "[]"
        assert httpx.head(f"{server.url}/items", params={"page": 1}).content == b""
        assert httpx.get(f"{server.url}/items", params={"page": "x"}).status_code == 404


@pytest.fixture
def gzipping_api() -> Iterator[str]:
    """An upstream that wants ``api_key`` in the query and gzips its answers, asked or not."""
    app = Flask("upstream")

    @app.get("/v1/items")
    def items() -> Response:
        if flask_request.args.get("api_key") != "key-77":
            return Response('{"error": "bad key"}', 401, content_type="application/json")
        body = gzip.compress(json.dumps({"items": [1, 2]}).encode())
        return Response(body, headers={"Content-Encoding": "gzip"}, content_type="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}"
    server.shutdown()
    server.server_close()


def test_recording_stores_decoded_bodies_and_no_keys(tmp_path: Path, gzipping_api: str) -> None:
    recorder = MockServer([], record_from=gzipping_api).start()
    try:
        live = httpx.get(
            f"{recorder.url}/v1/items",
            params={"page": 1, "api_key": "key-77"},
            headers={"X-Api-Key": "key-77"},
        )
    finally:
        recorder.stop()
    assert live.json() == {"items": [1, 2]}
    recorder.save(tmp_path / "recorded.json")
    text = (tmp_path / "recorded.json").read_text()
    assert "key-77" not in text
    (entry,) = json.loads(text)
    assert entry["httpResponse"]["body"] == {"items": [1, 2]}
    with running(tmp_path / "recorded.json") as replay:  # still matches a request with a key
        again = httpx.get(f"{replay.url}/v1/items", params={"page": 1, "api_key": "key-77"})
        assert again.json() == {"items": [1, 2]}
