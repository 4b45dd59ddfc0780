"""What the test APIs share: the JSON reply and quiet log of their request handlers, and the
start/stop/url of their server (a LocalServer on 127.0.0.1, a free port)."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any, Self

from singer_bridge.testing._server import LocalServer


class JsonHandler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class ServedApi:
    """A test API served by ``LocalServer(handler)``: ``start()``, ``url``, ``stop()``."""

    def serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = LocalServer(handler)
        self.url = self._server.url

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
