"""What ``package`` learns from what is installed: a source's licence and a tap venv's lock.

The licence comes from a distribution's metadata (``License-Expression``, a short ``License``,
or a ``License ::`` classifier), so ``metadata.yaml`` names the tap's licence, not a guess:

>>> licence_from_metadata(None, None, ["License :: OSI Approved :: MIT License"])
'MIT'
>>> licence_from_metadata("Apache-2.0", "whatever", [])
'Apache-2.0'
>>> licence_from_metadata(None, "UNKNOWN", []) is None
True

The lock is ``pip freeze`` of the tap's venv: the image installs exactly what was tested here.
"""

from __future__ import annotations

import email
import importlib.metadata
import subprocess
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from singer_bridge.errors import ConfigError

# the classifiers' names as SPDX identifiers, for the licences taps use
_SPDX = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "BSD License": "BSD-3-Clause",
    "ISC License (ISCL)": "ISC",
    "The Unlicense (Unlicense)": "Unlicense",
}


def licence_from_metadata(
    expression: str | None, text: str | None, classifiers: Iterable[str]
) -> str | None:
    """The licence a distribution declares, as short as it says it; None if it says none."""
    if expression and expression.strip():
        return expression.strip()
    # a License field is often the whole licence text: only a one-line name is a name
    name = (text or "").strip()
    if name and "\n" not in name and len(name) <= 60 and name.upper() not in ("UNKNOWN", "NONE"):
        return name
    for classifier in classifiers:
        parts = [part.strip() for part in classifier.split("::")]
        if parts[0] == "License" and len(parts) > 1 and parts[-1] != "OSI Approved":
            return _SPDX.get(parts[-1], parts[-1])
    return None


def licence_of_distribution(
    metadata: importlib.metadata.PackageMetadata | email.message.Message,
) -> str | None:
    def first(field: str) -> str | None:
        # get_all: a missing field is None, without the deprecation of a missing __getitem__
        values = metadata.get_all(field)
        return str(values[0]) if values else None

    classifiers = [str(c) for c in metadata.get_all("Classifier") or []]
    return licence_from_metadata(first("License-Expression"), first("License"), classifiers)


def tap_venv_licence(venv: Path, executable: str, spec: str) -> str | None:
    """The licence of the distribution in ``venv`` that provides the tap's command."""
    sites = [str(p) for p in venv.glob("lib/python3*/site-packages")]
    dists = list(importlib.metadata.distributions(path=sites))
    name = spec.split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower()
    for dist in dists:
        scripts = {ep.name for ep in dist.entry_points if ep.group == "console_scripts"}
        names = dist.metadata.get_all("Name") or [""]
        if executable in scripts or _canonical(str(names[0])) == _canonical(name):
            return licence_of_distribution(dist.metadata)
    return None


def native_source_licence(spec: str) -> str | None:
    """A native source's licence, from its project folder or wheel; None for a pip spec."""
    path = Path(spec)
    if (path / "pyproject.toml").is_file():
        project = tomllib.loads((path / "pyproject.toml").read_text()).get("project", {})
        declared = project.get("license")
        text = declared.get("text") if isinstance(declared, dict) else declared
        return licence_from_metadata(None, text, project.get("classifiers", []))
    if path.suffix == ".whl" and path.is_file():
        with zipfile.ZipFile(path) as wheel:
            name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
            return licence_of_distribution(email.message_from_bytes(wheel.read(name)))
    return None


def freeze(venv: Path, local: Mapping[str, str]) -> list[str]:
    """``pip freeze`` of a tap venv (setuptools and wheel included: old taps import
    ``pkg_resources``), local paths replaced by their place in the image (``local``)."""
    argv = [str(venv / "bin" / "python"), "-m", "pip", "freeze", "--all", "--exclude", "pip"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ConfigError(
            f"listing what the tap's venv {venv} holds failed (pip freeze): {result.stderr[-2000:]}"
        )
    lines = []
    for line in result.stdout.splitlines():
        for host, image in local.items():
            line = line.replace(Path(host).resolve().as_uri(), Path(image).as_uri())
            if line.startswith("-e ") and Path(line[3:].strip()).resolve() == Path(host).resolve():
                line = image
        lines.append(line)
    return lines


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")
