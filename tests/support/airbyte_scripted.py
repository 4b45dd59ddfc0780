"""A scripted Airbyte source for the tests of ``singer-bridge-tap``: it says what its config
tells it to, and keeps what it was given.

Config: ``catalog`` (the AirbyteStreams ``discover`` emits), ``messages`` (what ``read`` writes:
objects as JSON lines, strings as they are), ``exit_code``, ``capture`` (a folder: ``read``
copies its ``--catalog``/``--state`` there and writes its pid), ``hang`` (sleep after writing),
``api_token`` (a secret, as the spec says).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

SPEC = {
    "connectionSpecification": {
        "type": "object",
        "properties": {
            "api_token": {"type": "string", "airbyte_secret": True},
            # secret by the spec's word only: its name sounds like none
            "site_ref": {"type": "string", "airbyte_secret": True},
            "catalog": {"type": "array"},
            "messages": {"type": "array"},
        },
    }
}


def emit(message: object) -> None:
    line = message if isinstance(message, str) else json.dumps(message)
    sys.stdout.write(line + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command")
    parser.add_argument("--config")
    parser.add_argument("--catalog")
    parser.add_argument("--state")
    args = parser.parse_args()
    if args.command == "spec":
        emit({"type": "SPEC", "spec": SPEC})
        return 0
    config = json.loads(Path(args.config).read_text())
    if args.command == "discover":
        emit({"type": "CATALOG", "catalog": {"streams": config.get("catalog", [])}})
        return 0
    capture = config.get("capture")
    if capture:
        Path(capture, "pid").write_text(str(os.getpid()))
        for name in ("catalog", "state"):
            given = getattr(args, name)
            if given:
                shutil.copy(given, Path(capture, f"{name}.json"))
    for message in config.get("messages", []):
        emit(message)
    sys.stdout.flush()
    if config.get("hang"):
        time.sleep(600)
    return int(config.get("exit_code", 0))


if __name__ == "__main__":
    sys.exit(main())
