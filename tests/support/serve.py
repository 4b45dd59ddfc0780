"""Run a test API from the command line until stopped (the docs pages start them this way):

    python -m tests.support.graphql_api --url-file api.url &

The server binds 127.0.0.1 on a free port and writes its base URL to ``--url-file``.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Protocol


class TestApi(Protocol):
    url: str

    def start(self) -> TestApi: ...

    def stop(self) -> None: ...


def serve(api: TestApi, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url-file", type=Path, required=True)
    args = parser.parse_args(argv)
    api.start()
    tmp = args.url_file.with_suffix(".tmp")
    tmp.write_text(api.url)
    tmp.rename(args.url_file)  # whole, or not there yet
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
