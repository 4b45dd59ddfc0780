"""An offline HTTP mock server that speaks MockServer's expectation format, with no Docker.

    [{"httpRequest": {"method": "GET", "path": "/v1/items",
                      "queryStringParameters": {"page": ["1"]}, "headers": {"X-Key": ["k"]}},
      "httpResponse": {"statusCode": 200, "headers": {"Content-Type": ["application/json"]},
                       "body": {"items": []}, "delay": {"timeUnit": "MILLISECONDS", "value": 20}},
      "times": {"remainingTimes": 1}}]

Requests are matched by priority, then in file order: method; path, header and query values as
text or regular expression; the expected query parameters and headers present (either of
MockServer's forms, name -> values or a list of name/values); the body as JSON
(``ONLY_MATCHING_FIELDS`` unless ``matchType`` is ``STRICT``), STRING, REGEX or form
PARAMETERS. ``times`` limits how often an expectation answers; ``delay`` slows its answer. A
request nothing matches gets a 404 naming it. With ``record_from`` set, unmatched requests are
sent to that upstream and the exchange is kept as a new expectation (``save()`` writes them):
the response body decoded (upstream is asked for no compression, and a gzip or deflate body is
decoded anyway), request headers left out, and the value of a secret query parameter
(``api_key``, ``token``, ``X-Amz-Signature``...) recorded as ``.+``, which matches any value
on replay but keeps the key out of the file.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from singer_bridge._signing import is_signing_param
from singer_bridge.testing._server import LocalServer

_UNITS = {"MILLISECONDS": 0.001, "SECONDS": 1.0, "MICROSECONDS": 1e-6}


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _multi(doc: Any) -> dict[str, list[str]]:
    """Headers or query parameters in either of MockServer's forms, as name -> values:
    ``{"page": ["1"]}`` or ``[{"name": "page", "values": ["1"]}]``."""
    if isinstance(doc, list):
        return {
            str(i.get("name")): _values(i.get("values", [])) for i in doc if isinstance(i, dict)
        }
    if isinstance(doc, dict):
        return {str(k): _values(v) for k, v in doc.items()}
    return {}


def _text_matches(expected: str, actual: str) -> bool:
    """MockServer matches names' values and paths as plain text or as a regular expression."""
    if expected == actual:
        return True
    try:
        return re.fullmatch(expected, actual) is not None
    except re.error:
        return False


def _all_present(expected: dict[str, list[str]], actual: dict[str, list[str]]) -> bool:
    """Every expected value is among the actual ones (MockServer's default SUB_SET match)."""
    return all(
        any(_text_matches(want, got) for got in actual.get(name, []))
        for name, wanted in expected.items()
        for want in wanted
    )


def _json_subset(expected: Any, actual: Any) -> bool:
    """ONLY_MATCHING_FIELDS: the expected object's fields match; others may be present."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return all(k in actual and _json_subset(v, actual[k]) for k, v in expected.items())
    return bool(expected == actual)


def _body_matches(expected: Any, raw: bytes) -> bool:
    if expected is None:
        return True
    text = raw.decode("utf-8", "replace")
    kind = expected.get("type") if isinstance(expected, dict) else None
    if kind == "STRING":
        wanted = str(expected.get("string"))
        return wanted in text if expected.get("subString") else wanted == text
    if kind == "REGEX":
        return re.fullmatch(str(expected.get("regex")), text) is not None
    if kind == "PARAMETERS":
        return _all_present(_multi(expected.get("parameters")), parse_qs(text))
    if isinstance(expected, str):
        return expected == text
    strict = kind == "JSON" and expected.get("matchType") == "STRICT"
    wanted = expected.get("json") if kind == "JSON" else expected
    try:
        actual = json.loads(raw or b"null")
    except ValueError:
        return False
    return bool(wanted == actual) if strict else _json_subset(wanted, actual)


class Expectation:
    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.request = dict(doc.get("httpRequest") or {})
        self.response = dict(doc.get("httpResponse") or {})
        times = doc.get("times") or {}
        self.remaining: int | None = (
            None if times.get("unlimited", not times) else int(times.get("remainingTimes", 1))
        )
        self.priority = int(doc.get("priority") or 0)
        self.doc = dict(doc)

    def matches(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, list[str]],
        body: bytes,
    ) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        want = self.request
        if str(want.get("method", method)).upper() != method.upper():
            return False
        if not _text_matches(str(want.get("path", path)), path):
            return False
        if not _all_present(_multi(want.get("queryStringParameters")), query):
            return False
        lowered = {k.lower(): v for k, v in headers.items()}
        wanted = {k.lower(): v for k, v in _multi(want.get("headers")).items()}
        return _all_present(wanted, lowered) and _body_matches(want.get("body"), body)

    def take(self) -> dict[str, Any]:
        if self.remaining is not None:
            self.remaining -= 1
        return self.response


def load_expectations(source: list[Mapping[str, Any]] | str | Path) -> list[Mapping[str, Any]]:
    if not isinstance(source, str | Path):
        return list(source)
    doc = json.loads(Path(source).read_text(encoding="utf-8"))
    return [doc] if isinstance(doc, dict) else list(doc)


class MockServer:
    """``MockServer(expectations).start()``; ``.url``; ``.stop()``. Thread-safe, 127.0.0.1."""

    def __init__(
        self,
        expectations: list[Mapping[str, Any]] | str | Path,
        port: int = 0,
        record_from: str | None = None,
    ) -> None:
        loaded = [Expectation(e) for e in load_expectations(expectations)]
        # higher priority first, then file order (sorted() is stable)
        self.expectations = sorted(loaded, key=lambda e: -e.priority)
        self.record_from = record_from.rstrip("/") if record_from else None
        self.recorded: list[dict[str, Any]] = []
        self.unmatched: list[str] = []
        self._lock = threading.Lock()
        self._server = LocalServer(self._handler(), port)
        self.url = self._server.url

    def start(self) -> MockServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.recorded, indent=2) + "\n", encoding="utf-8")

    def respond(
        self, method: str, target: str, headers: dict[str, list[str]], body: bytes
    ) -> tuple[int, dict[str, list[str]], bytes, float]:
        url = urlparse(target)
        query = parse_qs(url.query, keep_blank_values=True)
        with self._lock:
            found = next(
                (e for e in self.expectations if e.matches(method, url.path, query, headers, body)),
                None,
            )
            response = found.take() if found else None
        if response is None and self.record_from:
            return self._record(method, target, url.path, query, headers, body)
        if response is None:
            self.unmatched.append(f"{method} {target}")
            text = json.dumps({"error": f"no expectation matches {method} {target}"}).encode()
            return 404, {"Content-Type": ["application/json"]}, text, 0.0
        return _render(response)

    def _record(
        self,
        method: str,
        target: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, list[str]],
        body: bytes,
    ) -> tuple[int, dict[str, list[str]], bytes, float]:
        assert self.record_from is not None
        forwarded = {
            k: ", ".join(v)
            for k, v in headers.items()
            # identity: the body is recorded as text, never as compressed bytes
            if k.lower() not in ("host", "content-length", "accept-encoding")
        }
        request = urllib.request.Request(
            self.record_from + target, data=body or None, headers=forwarded, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as upstream:
                status, out_headers, data = upstream.status, dict(upstream.headers), upstream.read()
        except urllib.error.HTTPError as exc:
            status, out_headers, data = exc.code, dict(exc.headers), exc.read()
        data = _decoded(data, out_headers.get("Content-Encoding", ""))
        try:
            shown: Any = json.loads(data)
        except ValueError:
            shown = data.decode("utf-8", "replace")
        entry: dict[str, Any] = {
            "httpRequest": {
                "method": method,
                "path": path,
                **({"queryStringParameters": _redacted(query)} if query else {}),
            },
            "httpResponse": {
                "statusCode": status,
                "body": shown,
                "headers": {"Content-Type": [out_headers.get("Content-Type", "application/json")]},
            },
            "times": {"remainingTimes": 1},
        }
        with self._lock:
            self.recorded.append(entry)
        return _render(entry["httpResponse"])

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received: dict[str, list[str]] = {}
                for name, value in self.headers.items():
                    received.setdefault(name, []).append(value)
                status, headers, data, delay = mock.respond(self.command, self.path, received, body)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for name, values in headers.items():
                    for value in values:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _decoded(data: bytes, encoding: str) -> bytes:
    """A body as sent before compression (gzip, deflate; an unknown one stays as it is)."""
    kinds = [e.strip().lower() for e in encoding.split(",") if e.strip()]
    for kind in reversed(kinds):
        if kind in ("gzip", "x-gzip"):
            data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
        elif kind == "deflate":
            try:
                data = zlib.decompress(data)
            except zlib.error:  # raw deflate, as some servers send it
                data = zlib.decompress(data, -zlib.MAX_WBITS)
    return data


def _redacted(query: dict[str, list[str]]) -> dict[str, list[str]]:
    """The query to record: a secret parameter's value becomes a pattern for any value."""
    return {k: [".+"] * len(v) if is_signing_param(k) else v for k, v in query.items()}


def _render(response: Mapping[str, Any]) -> tuple[int, dict[str, list[str]], bytes, float]:
    body = response.get("body")
    headers = _multi(response.get("headers"))
    if isinstance(body, dict) and body.get("type") == "JSON":
        body = body.get("json")
    elif isinstance(body, dict) and body.get("type") == "STRING":
        body = str(body.get("string"))
    if isinstance(body, str):
        data = body.encode()
    elif body is None:
        data = b""
    else:
        data = json.dumps(body).encode()
        headers.setdefault("Content-Type", ["application/json"])
    delay = response.get("delay") or {}
    seconds = float(delay.get("value", 0)) * _UNITS.get(
        str(delay.get("timeUnit", "MILLISECONDS")), 0.001
    )
    return int(response.get("statusCode", 200)), headers, data, seconds


@contextmanager
def running(expectations: list[Mapping[str, Any]] | str | Path) -> Iterator[MockServer]:
    """``with running("expectations.json") as server: ... server.url ...``"""
    server = MockServer(expectations).start()
    try:
        yield server
    finally:
        server.stop()
