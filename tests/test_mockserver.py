"""The offline mock server: MockServer's expectation format, record and replay, the fixture."""

from __future__ import annotations

from pathlib import Path

import httpx

from singer_bridge.testing.mockserver import MockServer, running
from singer_bridge.testing.plugin import mock_server  # noqa: F401 - the fixture under test
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
