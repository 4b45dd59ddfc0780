"""The ``singer-bridge`` command, and ``launch``: the Airbyte CLI contract around a source (a
wrapped Singer tap, or a native ``Source``, which also answers Singer tap flags).

singer-bridge --tap 'tap-postgres' read --config c.json --catalog k.json --state s.json
SINGER_BRIDGE_TAP='tap-postgres' singer-bridge spec
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import traceback
from collections.abc import Sequence
from types import FrameType
from typing import Any, BinaryIO, Protocol

from singer_bridge._cli.options import add_global_options, add_tap_options
from singer_bridge._cli.sources import source_from_args
from singer_bridge._cli.tools import TOOLS, load_tool
from singer_bridge._clock import now_ms
from singer_bridge._protocol import airbyte as messages
from singer_bridge._read.native_source import NativeSource
from singer_bridge._read.singer_source import SingerSource
from singer_bridge._version import __version__
from singer_bridge._writer import Writer
from singer_bridge.errors import BridgeError, ConfigError
from singer_bridge.native import Source
from singer_bridge.native._singer_mode import run_singer

_VALUE_OPTIONS = {"--tap", "--bridge-config", "--tap-pip", "--tap-executable"}
_PROTOCOL_COMMANDS = ("spec", "check", "discover", "read")


def requested_command(argv: Sequence[str]) -> str | None:
    """The subcommand in ``argv``: its first word that is not an option or an option's value."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; of the tooling subcommands only the one named in ``argv`` is imported."""
    parser = argparse.ArgumentParser(
        prog="singer-bridge", description="Run a Singer tap as an Airbyte source."
    )
    parser.add_argument("--version", action="version", version=f"singer-bridge {__version__}")
    add_global_options(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", required=True)
    spec = commands.add_parser("spec", help="print the connector spec")
    check = commands.add_parser("check", help="check a config: discovery and a first record")
    discover = commands.add_parser("discover", help="print the Airbyte catalog")
    read = commands.add_parser("read", help="read records")
    for sub in (spec, check, discover, read):
        add_tap_options(sub)
    for sub in (check, discover, read):
        sub.add_argument("--config", required=True)
    read.add_argument("--catalog", required=True)
    read.add_argument("--state")
    read.add_argument(
        "--parallel",
        type=_positive,
        metavar="N",
        help="read with N processes of the tap, each given a share of the streams",
    )
    wanted = requested_command(argv)
    for name, (_, _, help_text) in TOOLS.items():
        if name == wanted:
            load_tool(name).add_parser(commands)
        else:  # listed in --help; its options are only built when it runs
            commands.add_parser(name, help=help_text, add_help=False)
    return parser


class AirbyteSource(Protocol):
    """What the Airbyte commands drive: a wrapped Singer tap (``SingerSource``) or a native
    ``Source`` (as ``NativeSource``)."""

    def spec(self) -> dict[str, Any]: ...

    def check(self, config_file: str, writer: Writer) -> bytes: ...

    def discover(self, config_file: str, writer: Writer) -> bytes: ...

    def read(
        self, config_file: str, catalog_file: str, state_file: str | None, writer: Writer
    ) -> int: ...

    def interrupt(self, reason: str) -> None: ...


def launch(
    source: SingerSource | Source | None = None,
    argv: Sequence[str] | None = None,
    out: BinaryIO | None = None,
) -> int:
    """Run one command of ``source`` and write its output; return the exit code.

    ``argv`` (default: ``sys.argv[1:]``) is an Airbyte command (``spec``, ``check``,
    ``discover``, ``read``) or a tooling subcommand; for a native ``Source``, Singer tap flags
    (``--about``, ``--discover``, ``--config ... --catalog ...``) run it as a Singer tap. With no
    source, the tap comes from ``--tap``, ``--tap-pip`` or ``$SINGER_BRIDGE_TAP``. ``out`` is
    where the protocol lines go (default: stdout).
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if isinstance(source, Source):
        if not args[:1] or args[0] not in _PROTOCOL_COMMANDS:
            return run_singer(source, args, out)
        return _launch(NativeSource(source), args, Writer(out) if out else Writer())
    return _launch(source, args, Writer(out) if out else Writer())


def _launch(source: AirbyteSource | None, argv: list[str], writer: Writer) -> int:
    args = build_parser(argv).parse_args(argv)
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
    if args.command in TOOLS:
        return load_tool(args.command).run(args)
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

    if getattr(args, "parallel", None) is not None:
        if not hasattr(source, "parallel"):
            raise ConfigError("--parallel works for wrapped Singer taps only")
        setattr(source, "parallel", args.parallel)  # noqa: B010 (not in the Protocol)

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


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> None:
    """The ``singer-bridge`` console script."""
    sys.exit(launch(None, argv))
