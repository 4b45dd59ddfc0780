"""``install``: a tap from a pip spec into a managed venv of its own (as Meltano does).

    singer-bridge install 'pipelinewise-tap-postgres==1.8.4'
    singer-bridge --tap-pip 'pipelinewise-tap-postgres==1.8.4' discover --config c.json

Venvs live under $SINGER_BRIDGE_VENVS (default ~/.cache/singer-bridge/venvs), one per spec.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from singer_bridge._tap.venvs import tap_executable
from singer_bridge.errors import BridgeError


class Install:
    name = "install"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(self.name, help="install a tap into its own managed venv")
        parser.add_argument("spec", help="a pip spec: a name with a version, a path or a URL")
        parser.add_argument("--tap-executable", help="the tap's command, if it has several")
        parser.add_argument(
            "--ignore-requires-python",
            action="store_true",
            help="install even if the tap's Requires-Python excludes this Python",
        )

    def run(self, args: argparse.Namespace) -> int:
        try:
            path = tap_executable(args.spec, args.tap_executable, args.ignore_requires_python)
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge install: {exc.message}\n")
            return 2
        sys.stderr.write(f"installed {args.spec}; run it with: singer-bridge --tap {path} ...\n")
        sys.stdout.write(f"{path}\n")
        return 0
