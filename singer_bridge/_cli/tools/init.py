"""``init``: a new connector project whose generated tests pass as generated.

    singer-bridge init shop --template http      # native HTTP-API source + offline mock server
    singer-bridge init shop --template python    # native source in plain Python
    singer-bridge init shop --template singer    # wrap an existing Singer tap

Writes ``source-NAME/`` with a pyproject (``source-NAME`` command, a ``dev`` extra for the
tests), the source module, its spec and schemas, tests, a README, and a ``meltano.yml`` that
registers it as a Meltano custom extractor (docs/meltano.md). TODO comments say what
to fill in. The files are ``templates/pyproject.toml.jinja``, ``templates/init/common/`` and
``templates/init/TEMPLATE/``, rendered by ``tools.render``.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from singer_bridge._cli.tools.render import TEMPLATES, pyproject, render_tree
from singer_bridge._version import __version__

TEMPLATE_NAMES = ("http", "python", "singer")
# what the generated tests need: `pip install -e ".[dev]"` (the testing extra: mock_server)
DEV_EXTRA = ("pytest>=8", f"singer-bridge[testing]>={__version__}")


# JSON Schema types as Meltano setting kinds (a string needs none)
MELTANO_KINDS = {"integer": "integer", "number": "decimal", "boolean": "boolean"}
MELTANO_KINDS |= {"array": "array", "object": "object"}


def meltano_settings(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The settings of the extractor in ``meltano.yml``, from the connector's spec.

    >>> token, days = meltano_settings({"properties": {
    ...     "token": {"type": "string", "airbyte_secret": True}, "days": {"type": "integer"}}})
    >>> token
    {'name': 'token', 'kind': None, 'sensitive': True}
    >>> days
    {'name': 'days', 'kind': 'integer', 'sensitive': False}
    """
    settings = []
    for name, prop in (spec.get("properties") or {}).items():
        types = prop.get("type")
        types = types if isinstance(types, list) else [types]
        kind = next((str(t) for t in types if t != "null"), "")
        secret = bool(prop.get("airbyte_secret") or prop.get("secret") or prop.get("writeOnly"))
        settings.append({"name": name, "kind": MELTANO_KINDS.get(kind), "sensitive": secret})
    return settings


def project_files(name: str, template: str) -> dict[str, str]:
    """The new project's files by relative path: ``templates/init/common`` and the template's."""
    module = f"source_{name.replace('-', '_')}"
    sample = json.loads((TEMPLATES / "init" / "common" / "tests" / "sample.json").read_text())
    spec = json.loads((TEMPLATES / "init" / template / "__module__" / "spec.json").read_text())
    fields: dict[str, Any] = {
        "name": name,
        "template": template,
        "sample": sample,
        "settings": meltano_settings(spec),
    }
    out = {
        "pyproject.toml": pyproject(
            name=f"source-{name}",
            version="0.1.0",
            description=f"TODO: what source-{name} reads",
            module=module,
            dependencies=[f"singer-bridge>={__version__}"],
            entry_point=f"{module}.source:main",
            package_data=["*.json", "*.toml", "schemas/*.json"],
            dev=DEV_EXTRA,
        ),
        **render_tree("init/common", module, **fields),
        **render_tree(f"init/{template}", module, **fields),
    }
    return out


class InitCommand:
    name = "init"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(self.name, help="write a new connector project")
        parser.add_argument("project", help="the source's name: 'shop' makes source-shop")
        parser.add_argument("--template", choices=TEMPLATE_NAMES, default="http")
        parser.add_argument("--out", type=Path, default=Path("."))

    def run(self, args: argparse.Namespace) -> int:
        name = args.project.removeprefix("source-")
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,39}", name):
            sys.stderr.write(
                "singer-bridge init: the name must be 1-40 lower case letters, digits, dashes\n"
            )
            return 2
        folder = args.out / f"source-{name}"
        if folder.exists():
            sys.stderr.write(f"singer-bridge init: {folder} exists already\n")
            return 2
        for relative, text in project_files(name, args.template).items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        sys.stderr.write(
            f'wrote {folder}; next: cd {folder} && pip install -e ".[dev]" && pytest tests\n'
        )
        return 0
