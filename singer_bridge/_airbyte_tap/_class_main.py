"""Run a source class as an Airbyte command: ``python _class_main.py pkg.module:Class read ...``.

Run by path (not imported), so it works in any interpreter that has the source: a
singer-bridge native ``Source`` goes through ``singer_bridge.launch``, anything else through
the Airbyte CDK's ``launch``. Names resolve from the working folder too.
"""

import argparse
import importlib
import inspect
import os
import sys


def _is_native(source: object) -> bool:
    try:
        from singer_bridge.native import Source
    except ImportError:  # an interpreter without singer-bridge: an Airbyte CDK source
        return False
    return isinstance(source, Source)


def _construct(cls: type, argv: list[str]) -> object:
    """An instance of the source class: with no arguments, or, for a CDK source that takes the
    command's catalog, config and state (concurrent and declarative ones), with those, read
    by the class's own ``read_catalog``/``read_config``/``read_state``."""
    wanted = [p for p in ("catalog", "config", "state") if p in inspect.signature(cls).parameters]
    if not wanted:
        return cls()
    parser = argparse.ArgumentParser(add_help=False)
    for name in ("catalog", "config", "state"):
        parser.add_argument(f"--{name}")
    paths, _ = parser.parse_known_args(argv)
    readers = {"catalog": "read_catalog", "config": "read_config", "state": "read_state"}
    kwargs = {}
    for name in wanted:
        path = getattr(paths, name)
        kwargs[name] = getattr(cls, readers[name])(path) if path else None
    return cls(**kwargs)


def main() -> None:
    target, argv = sys.argv[1], sys.argv[2:]
    sys.path.insert(0, os.getcwd())
    module_name, _, attribute = target.partition(":")
    found: object = importlib.import_module(module_name)
    for part in (attribute or "").split("."):
        found = getattr(found, part) if part else found
    source = _construct(found, argv) if isinstance(found, type) else found
    if _is_native(source):
        from singer_bridge import launch

        sys.exit(launch(source, argv))  # type: ignore[arg-type]
    from airbyte_cdk.entrypoint import launch as cdk_launch  # type: ignore[import-not-found]

    cdk_launch(source, argv)


if __name__ == "__main__":
    main()
