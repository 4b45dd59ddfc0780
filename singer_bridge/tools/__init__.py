"""Tooling subcommands of ``singer-bridge`` beyond the Airbyte protocol commands.

Each module exposes an object with ``name``, ``add_parser(commands)`` and ``run(args) -> int``;
add it to ``TOOLS`` to make it a subcommand.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from singer_bridge.cli import ToolCommand


def _tools() -> list[ToolCommand]:
    from singer_bridge.tools.acceptance import AcceptanceCommand
    from singer_bridge.tools.init import InitCommand
    from singer_bridge.tools.install import Install
    from singer_bridge.tools.migrate import MigrateCatalog, MigrateState
    from singer_bridge.tools.mock_server import MockServerCommand
    from singer_bridge.tools.package import PackageCommand
    from singer_bridge.tools.probe import Probe
    from singer_bridge.tools.run import RunCommand

    return [
        Install(),
        Probe(),
        MigrateState(),
        MigrateCatalog(),
        MockServerCommand(),
        AcceptanceCommand(),
        RunCommand(),
        PackageCommand(),
        InitCommand(),
    ]


TOOLS: list[ToolCommand] = _tools()
