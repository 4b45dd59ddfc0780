"""``install``: a tap from a pip spec into a managed venv of its own (as Meltano does).

    singer-bridge install 'pipelinewise-tap-postgres==1.8.4'
    singer-bridge --tap-pip 'pipelinewise-tap-postgres==1.8.4' discover --config c.json

Venvs live under $SINGER_BRIDGE_VENVS (default ~/.cache/singer-bridge/venvs), one per spec.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from singer_bridge.errors import BridgeError, ConfigError
from singer_bridge.tools.venvs import ensure_venv

_SCRIPT_PREFIXES = ("tap-", "tap_", "source-")


def _name_of(spec: str) -> str:
    base = Path(spec).name if "/" in spec else spec
    for stop in "=<>!~[; @":
        base = base.split(stop)[0]
    return base or "tap"


def tap_executable(
    spec: str, executable: str | None = None, ignore_requires_python: bool = False
) -> Path:
    """Install ``spec`` (once) and return the tap's executable in its venv."""
    bin_dir = ensure_venv(_name_of(spec), [spec], ignore_requires_python=ignore_requires_python)
    if executable:
        path = bin_dir / executable
        if not path.exists():
            raise ConfigError(f"'{executable}' is not in the venv of {spec} ({bin_dir})")
        return path
    scripts = sorted(p for p in bin_dir.iterdir() if p.name.startswith(_SCRIPT_PREFIXES))
    if len(scripts) != 1:
        found = ", ".join(p.name for p in scripts) or "none"
        raise ConfigError(
            f"cannot tell which executable of {spec} is the tap (found: {found}); "
            "name it with --tap-executable"
        )
    return scripts[0]


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
