"""Run a source class as an Airbyte command: ``python _class_main.py pkg.module:Class read ...``.

Run by path (not imported), so it works in any interpreter that has the source: a
singer-bridge native ``Source`` goes through ``singer_bridge.launch``, anything else through
the Airbyte CDK's ``launch``. Names resolve from the working folder too.
"""

import importlib
import os
import sys


def _is_native(source: object) -> bool:
    try:
        from singer_bridge.native import Source
    except ImportError:  # an interpreter without singer-bridge: an Airbyte CDK source
        return False
    return isinstance(source, Source)


def main() -> None:
    target, argv = sys.argv[1], sys.argv[2:]
    sys.path.insert(0, os.getcwd())
    module_name, _, attribute = target.partition(":")
    found: object = importlib.import_module(module_name)
    for part in (attribute or "").split("."):
        found = getattr(found, part) if part else found
    source = found() if isinstance(found, type) else found
    if _is_native(source):
        from singer_bridge import launch

        sys.exit(launch(source, argv))  # type: ignore[arg-type]
    from airbyte_cdk.entrypoint import launch as cdk_launch  # type: ignore[import-not-found]

    cdk_launch(source, argv)


if __name__ == "__main__":
    main()
