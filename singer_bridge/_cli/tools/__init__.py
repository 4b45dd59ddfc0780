"""Tooling subcommands of ``singer-bridge`` beyond the Airbyte protocol commands.

Each module exposes a class with ``name``, ``add_parser(commands)`` and ``run(args) -> int``.
``TOOLS`` names them by subcommand so the CLI imports only the one that runs: ``spec``,
``check``, ``discover`` and ``read`` import none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from singer_bridge._cli.options import ToolCommand

# subcommand -> (module, class, one-line help)
TOOLS: dict[str, tuple[str, str, str]] = {
    "install": ("install", "Install", "install a tap into its own managed venv"),
    "probe": ("probe", "Probe", "what a tap can do, with a suggested bridge config"),
    "migrate-state": ("migrate", "MigrateState", "Singer (or Meltano) state <-> Airbyte state"),
    "migrate-catalog": (
        "migrate",
        "MigrateCatalog",
        "Singer catalog -> configured catalog",
    ),
    "mock-server": ("mock_server", "MockServerCommand", "an offline mock HTTP server"),
    "test": ("acceptance", "AcceptanceCommand", "acceptance tests for any Airbyte source"),
    "run": ("run", "RunCommand", "read every stream into JSONL or DuckDB, with progress"),
    "package": ("package", "PackageCommand", "write a connector package (Dockerfile, metadata)"),
    "init": ("init", "InitCommand", "write a new connector project"),
    "oauth": ("oauth", "OAuthCommand", "get a refresh token (OAuth 2.0 consent, PKCE)"),
}


def load_tool(name: str) -> ToolCommand:
    """The tooling subcommand ``name``, importing only its module."""
    module_name, class_name, _ = TOOLS[name]
    module = importlib.import_module(f"singer_bridge._cli.tools.{module_name}")
    tool: ToolCommand = getattr(module, class_name)()
    return tool
