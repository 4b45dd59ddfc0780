"""A local HTTP server on 127.0.0.1 and a free port, answering from a background thread.

The one way the mock server and the test APIs start and stop a server:

>>> from http.server import BaseHTTPRequestHandler
>>> class Hello(BaseHTTPRequestHandler):
...     def do_GET(self) -> None:
...         self.send_response(200)
...         self.send_header("Content-Length", "2")
...         self.end_headers()
...         self.wfile.write(b"hi")
...     def log_message(self, *args: object) -> None:
...         pass
>>> import urllib.request
>>> with LocalServer(Hello) as server:
...     urllib.request.urlopen(server.url + "/").read()
b'hi'
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LocalServer:
    """``LocalServer(handler).start()``; ``.url``; ``.stop()``; or ``with LocalServer(h) as s``.

    Binds 127.0.0.1 only; port 0 (the default) takes a free port, which ``url`` names.
    """

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.port: int = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (a server never started is only closed)."""
        if self._thread.is_alive():
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
