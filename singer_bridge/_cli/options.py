"""Options shared by the protocol commands and the tooling subcommands.

The tap options are accepted before or after a subcommand:
``singer-bridge --tap X probe`` is ``singer-bridge probe --tap X``.
"""

from __future__ import annotations

import argparse
from typing import Any, Protocol

from singer_bridge._cli.sources import CONFIG_ENV, TAP_ENV


class ToolCommand(Protocol):
    """A tooling subcommand (install, migrate-state, ...): its parser and how it runs."""

    name: str

    def add_parser(self, commands: Any) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def add_global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument("--tap", default=default, help=f"the tap command (or ${TAP_ENV})")
    parser.add_argument(
        "--bridge-config",
        default=default,
        help=f"bridge config file, JSON or TOML (or ${CONFIG_ENV})",
    )
    parser.add_argument(
        "--tap-pip",
        default=default,
        help="install the tap from this pip spec (own venv) and run it",
    )
    parser.add_argument("--tap-executable", default=default, help="with --tap-pip: its command")
    parser.add_argument(
        "--ignore-requires-python",
        action="store_true",
        default=default or False,
        help="with --tap-pip: install even if the tap's Requires-Python excludes this Python",
    )
    parser.add_argument("--debug", action="store_true", default=default or False)


def add_tap_options(parser: argparse.ArgumentParser) -> None:
    """The tap options on a subcommand too: ``singer-bridge probe --tap X`` = ``--tap X probe``."""
    add_global_options(parser, suppress=True)
