"""An offline HTTP mock server that speaks MockServer's expectation format, with no Docker.

    [{"httpRequest": {"method": "GET", "path": "/v1/items",
                      "queryStringParameters": {"page": ["1"]}, "headers": {"X-Key": ["k"]}},
      "httpResponse": {"statusCode": 200, "headers": {"Content-Type": ["application/json"]},
                       "body": {"items": []}, "delay": {"timeUnit": "MILLISECONDS", "value": 20}},
      "times": {"remainingTimes": 1}}]

Requests are matched in file order (method, path, query subset, header subset, body); a
request nothing matches gets a 404 naming it. With ``record_from`` set, unmatched requests are
sent to that upstream and the exchange is kept as a new expectation (``save()`` writes them).
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

_UNITS = {"MILLISECONDS": 0.001, "SECONDS": 1.0, "MICROSECONDS": 1e-6}


def _values(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _body_matches(expected: Any, raw: bytes) -> bool:
    if expected is None:
        return True
    if isinstance(expected, dict) and expected.get("type") == "JSON":
        expected = expected.get("json")
    elif isinstance(expected, dict) and expected.get("type") == "STRING":
        return str(expected.get("string")) == raw.decode("utf-8", "replace")
    if isinstance(expected, str):
        return expected == raw.decode("utf-8", "replace")
    try:
        return bool(json.loads(raw or b"null") == expected)
    except ValueError:
        return False


class Expectation:
    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.request = dict(doc.get("httpRequest") or {})
        self.response = dict(doc.get("httpResponse") or {})
        times = doc.get("times") or {}
        self.remaining: int | None = (
            None if times.get("unlimited", not times) else int(times.get("remainingTimes", 1))
        )
        self.doc = dict(doc)

    def matches(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        want = self.request
        if want.get("method", method).upper() != method.upper():
            return False
        pattern = str(want.get("path", path))
        if pattern != path and not (pattern.startswith("^") and re.fullmatch(pattern, path)):
            return False
        for name, values in (want.get("queryStringParameters") or {}).items():
            if query.get(name) != _values(values):
                return False
        lowered = {k.lower(): v for k, v in headers.items()}
        for name, values in (want.get("headers") or {}).items():
            if lowered.get(name.lower()) not in _values(values):
                return False
        return _body_matches(want.get("body"), body)

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
        self.expectations = [Expectation(e) for e in load_expectations(expectations)]
        self.record_from = record_from.rstrip("/") if record_from else None
        self.recorded: list[dict[str, Any]] = []
        self.unmatched: list[str] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> MockServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.recorded, indent=2) + "\n", encoding="utf-8")

    def respond(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
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
        headers: Mapping[str, str],
        body: bytes,
    ) -> tuple[int, dict[str, list[str]], bytes, float]:
        assert self.record_from is not None
        forwarded = {
            k: v for k, v in headers.items() if k.lower() not in ("host", "content-length")
        }
        request = urllib.request.Request(
            self.record_from + target, data=body or None, headers=forwarded, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as upstream:
                status, out_headers, data = upstream.status, dict(upstream.headers), upstream.read()
        except urllib.error.HTTPError as exc:
            status, out_headers, data = exc.code, dict(exc.headers), exc.read()
        try:
            shown: Any = json.loads(data)
        except ValueError:
            shown = data.decode("utf-8", "replace")
        entry: dict[str, Any] = {
            "httpRequest": {
                "method": method,
                "path": path,
                **({"queryStringParameters": query} if query else {}),
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
                status, headers, data, delay = mock.respond(
                    self.command, self.path, dict(self.headers), body
                )
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for name, values in headers.items():
                    for value in values:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


def _render(response: Mapping[str, Any]) -> tuple[int, dict[str, list[str]], bytes, float]:
    body = response.get("body")
    headers = {k: _values(v) for k, v in (response.get("headers") or {}).items()}
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
