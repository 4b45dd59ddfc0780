"""The ``singer-bridge`` command: Airbyte protocol commands and tooling subcommands."""

from singer_bridge._cli.main import launch, main

__all__ = ["launch", "main"]
