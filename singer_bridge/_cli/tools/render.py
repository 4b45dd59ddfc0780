"""Generated projects from the template files in ``tools/templates`` (Jinja2).

``init`` and ``package`` write whole projects; their files live in ``templates/`` as real files
(``*.jinja`` rendered, others copied as they are), and both share one ``pyproject.toml.jinja``.
A path component ``__module__`` stands for the project's Python package:

>>> files = render_tree("init/singer", "source_shop", name="shop", template="singer")
>>> sorted(files)[:2]
['source_shop/bridge.toml', 'source_shop/source.py']
>>> [line for line in files["source_shop/source.py"].splitlines() if "DEFAULT_TAP =" in line]
['DEFAULT_TAP = "tap-shop"']
"""

from __future__ import annotations

import functools
import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"
MODULE_DIR = "__module__"
SUFFIX = ".jinja"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,  # a missing field is an error, not an empty string
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # code and config, never HTML
    )
    env.filters.update(
        json=json.dumps,
        toml=json.dumps,  # JSON strings, lists and numbers are TOML's inline forms too
        pyrepr=repr,
        shell_join=lambda argv: shlex.join(list(argv)),
    )
    return env


def render(template: str, /, **fields: Any) -> str:
    """One template file (its path under ``templates/``) rendered with ``fields``."""
    return environment().get_template(template).render(**fields)


def render_tree(folder: str, module: str, /, **fields: Any) -> dict[str, str]:
    """Every file under ``templates/FOLDER`` by its path in the project, rendered or copied."""
    out = {}
    root = TEMPLATES / folder
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        target = "/".join(module if part == MODULE_DIR else part for part in relative.parts)
        if path.name.endswith(SUFFIX):
            template = path.relative_to(TEMPLATES).as_posix()
            out[target.removesuffix(SUFFIX)] = render(template, module=module, **fields)
        else:
            out[target] = path.read_text(encoding="utf-8")
    return out


def pyproject(
    *,
    name: str,
    version: str,
    description: str,
    module: str,
    dependencies: Sequence[str],
    entry_point: str,
    package_data: Sequence[str],
    dev: Sequence[str] = (),
) -> str:
    """The one ``pyproject.toml`` of every generated project (``init`` and ``package``)."""
    return render(
        "pyproject.toml.jinja",
        name=name,
        version=version,
        description=description,
        module=module,
        dependencies=list(dependencies),
        entry_point=entry_point,
        package_data=list(package_data),
        dev=list(dev),
    )
