"""``mock-server``: serve MockServer-format expectations on 127.0.0.1 until stopped.

singer-bridge mock-server expectations.json --port 1080
singer-bridge mock-server recorded.json --record-from https://api.example.com   # record
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from singer_bridge.testing._mockserver import MockServer


class MockServerCommand:
    name = "mock-server"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(
            self.name, help="serve expectation files on 127.0.0.1 (no Docker)"
        )
        parser.add_argument("expectations", type=Path, help="a JSON file (written when recording)")
        parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
        parser.add_argument("--record-from", help="forward unmatched requests here and record them")

    def run(self, args: argparse.Namespace) -> int:
        recording = bool(args.record_from)
        if not recording and not args.expectations.exists():
            sys.stderr.write(f"singer-bridge mock-server: {args.expectations} does not exist\n")
            return 2
        source = args.expectations if args.expectations.exists() else []
        server = MockServer(source, port=args.port, record_from=args.record_from).start()
        done = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: done.set())
        sys.stderr.write(f"mock server listening on {server.url}\n")
        sys.stderr.flush()
        done.wait()
        server.stop()
        if recording:
            server.save(args.expectations)
            sys.stderr.write(
                f"recorded {len(server.recorded)} expectations into {args.expectations}\n"
            )
        if server.unmatched:
            sys.stderr.write(f"unmatched requests: {len(server.unmatched)}\n")
        return 0
