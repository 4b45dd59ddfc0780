"""The ``singer-bridge`` command: the Airbyte CLI contract around a ``SingerSource``.

singer-bridge --tap 'tap-postgres' read --config c.json --catalog k.json --state s.json
SINGER_BRIDGE_TAP='tap-postgres' singer-bridge spec
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from types import FrameType
from typing import Any, Protocol

from singer_bridge import messages
from singer_bridge._version import __version__
from singer_bridge.bridge_config import BridgeConfig, load_bridge_config
from singer_bridge.errors import BridgeError
from singer_bridge.source import SingerSource, now_ms
from singer_bridge.writer import Writer

TAP_ENV = "SINGER_BRIDGE_TAP"
CONFIG_ENV = "SINGER_BRIDGE_CONFIG"


def _add_global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
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
    parser.add_argument("--debug", action="store_true", default=default or False)


def add_tap_options(parser: argparse.ArgumentParser) -> None:
    """The tap options on a subcommand too: ``singer-bridge probe --tap X`` = ``--tap X probe``."""
    _add_global_options(parser, suppress=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="singer-bridge", description="Run a Singer tap as an Airbyte source."
    )
    parser.add_argument("--version", action="version", version=f"singer-bridge {__version__}")
    _add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True)
    spec = commands.add_parser("spec", help="print the connector spec")
    check = commands.add_parser("check", help="check a config by running discovery")
    discover = commands.add_parser("discover", help="print the Airbyte catalog")
    read = commands.add_parser("read", help="read records")
    for sub in (spec, check, discover, read):
        add_tap_options(sub)
    for sub in (check, discover, read):
        sub.add_argument("--config", required=True)
    read.add_argument("--catalog", required=True)
    read.add_argument("--state")
    for tool in _tools():
        tool.add_parser(commands)
    return parser


class AirbyteSource(Protocol):
    """What ``launch`` drives: a Singer tap (``SingerSource``) or a native Python source."""

    def spec(self) -> dict[str, Any]: ...

    def check(self, config_file: str, writer: Writer) -> bytes: ...

    def discover(self, config_file: str, writer: Writer) -> bytes: ...

    def read(
        self, config_file: str, catalog_file: str, state_file: str | None, writer: Writer
    ) -> int: ...

    def interrupt(self, reason: str) -> None: ...


class ToolCommand(Protocol):
    """A tooling subcommand (install, migrate-state, ...): its parser and how it runs."""

    name: str

    def add_parser(self, commands: Any) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def _tools() -> list[ToolCommand]:
    # Each tooling module registers itself here; imported lazily so `read` stays fast to start.
    from singer_bridge.tools import TOOLS

    return TOOLS


def bridge_config_from_args(args: argparse.Namespace) -> BridgeConfig:
    config_file = args.bridge_config or os.environ.get(CONFIG_ENV)
    return load_bridge_config(config_file) if config_file else BridgeConfig()


def source_from_args(args: argparse.Namespace) -> SingerSource:
    bridge_config = bridge_config_from_args(args)
    tap = args.tap or os.environ.get(TAP_ENV) or None
    if tap is None and args.tap_pip:
        from singer_bridge.tools.install import tap_executable

        tap = [str(tap_executable(args.tap_pip, args.tap_executable))]
    return SingerSource(tap=tap, bridge_config=bridge_config)


def launch(source: AirbyteSource | None, argv: Sequence[str], writer: Writer | None = None) -> int:
    """Parse Airbyte CLI arguments, run the command, write protocol lines; return the exit code."""
    args = build_parser().parse_args(list(argv))
    writer = writer or Writer()
    try:
        return _run(source, args, writer)
    except BridgeError as exc:
        writer.write(messages.error_trace(exc, now_ms()))
        return 1
    except BrokenPipeError:
        return 1  # the reader went away; nothing more can be delivered
    except Exception as exc:
        error = BridgeError(f"singer-bridge failed unexpectedly: {type(exc).__name__}: {exc}")
        writer.write(messages.error_trace(error, now_ms(), traceback.format_exc()))
        return 1
    finally:
        with contextlib.suppress(BrokenPipeError):
            writer.flush()


def _run(source: AirbyteSource | None, args: argparse.Namespace, writer: Writer) -> int:
    for tool in _tools():
        if args.command == tool.name:
            return tool.run(args)
    if source is None:
        source = source_from_args(args)
    if args.command == "spec":
        writer.write(messages.spec_message(source.spec()))
        return 0
    if args.command == "check":
        writer.write(source.check(args.config, writer))
        return 0
    if args.command == "discover":
        writer.write(source.discover(args.config, writer))
        return 0

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        source.interrupt(signal.Signals(signum).name)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return source.read(args.config, args.catalog, args.state, writer)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: Sequence[str] | None = None) -> None:
    sys.exit(launch(None, sys.argv[1:] if argv is None else argv))
