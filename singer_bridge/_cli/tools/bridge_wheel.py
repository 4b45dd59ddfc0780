"""A wheel of the running singer-bridge, rebuilt from what is installed: no index, no network.

``package`` ships this wheel in the connector folder so the image installs the very bridge the
connector was packaged (and tested) with, whichever way the user installed it:

- a regular install (``pip install singer-bridge``, a wheel, ``pip install <checkout>``): the
  files its ``RECORD`` lists, scripts and byte code left out;
- an editable install (``pip install -e``): the files of the ``singer_bridge`` source folder.

The wheel is pure (``py3-none-any``), so it is a zip of those files, the distribution's
``METADATA`` and entry points, a ``WHEEL`` file and a fresh ``RECORD`` with every file's hash.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

from singer_bridge._version import __version__
from singer_bridge.errors import ConfigError

DISTRIBUTION = "singer-bridge"
PACKAGE_DIR = Path(__file__).resolve().parents[2]  # the imported singer_bridge folder
_WHEEL = (
    "Wheel-Version: 1.0\n"
    "Generator: singer-bridge package (rebuilt from the installed distribution)\n"
    "Root-Is-Purelib: true\n"
    "Tag: py3-none-any\n"
)


def wheel_name(version: str = __version__) -> str:
    return f"singer_bridge-{version}-py3-none-any.whl"


def write_bridge_wheel(target: Path) -> Path:
    """Write the wheel of the installed singer-bridge into ``target``; its path."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(
            "singer-bridge runs without its distribution metadata (from a source folder on "
            "PYTHONPATH?), so no wheel of it can be built: install it (pip install -e .)"
        ) from None
    dist_info = f"singer_bridge-{__version__}.dist-info"
    members = dict(_package_files(dist))
    for name, data in _metadata_files(dist):
        members[f"{dist_info}/{name}"] = data
    members[f"{dist_info}/WHEEL"] = _WHEEL.encode()
    target.mkdir(parents=True, exist_ok=True)
    path = target / wheel_name()
    record = [f"{arcname},{_hash(data)},{len(data)}" for arcname, data in members.items()]
    record.append(f"{dist_info}/RECORD,,")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname, data in members.items():
            wheel.writestr(arcname, data)
        wheel.writestr(f"{dist_info}/RECORD", "\n".join(record) + "\n")
    return path


def _package_files(dist: importlib.metadata.Distribution) -> Iterator[tuple[str, bytes]]:
    """The ``singer_bridge`` package's files (path in the wheel, content)."""
    # RECORD lists what a regular install put in place; an editable install or a source
    # folder's egg-info lists nothing reliable: the folder itself is the truth then
    regular = dist.read_text("RECORD") is not None and not _is_editable(dist)
    listed = [p for p in dist.files or () if _ships(p.parts)] if regular else []
    if listed:
        for entry in listed:
            yield entry.as_posix(), Path(str(dist.locate_file(entry))).read_bytes()
        return
    for path in sorted(PACKAGE_DIR.rglob("*")):
        relative = path.relative_to(PACKAGE_DIR.parent)
        if path.is_file() and _ships(relative.parts):
            yield relative.as_posix(), path.read_bytes()


def _ships(parts: tuple[str, ...]) -> bool:
    """A package file, not a script (``../../bin``), byte code or install-only metadata."""
    return (
        parts[0] == "singer_bridge"
        and "__pycache__" not in parts
        and not parts[-1].endswith((".pyc", ".pyo"))
    )


def _metadata_files(dist: importlib.metadata.Distribution) -> Iterator[tuple[str, bytes]]:
    """METADATA (with the running version) and the entry points (the ``singer-bridge`` command,
    the pytest plugin). A source folder's ``*.egg-info`` calls its METADATA ``PKG-INFO``."""
    metadata = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    lines = [
        f"Version: {__version__}" if line.startswith("Version:") else line
        for line in metadata.split("\n")
        if not line.startswith("License-File:")  # the licence files stay behind
    ]
    yield "METADATA", "\n".join(lines).encode()
    entry_points = dist.read_text("entry_points.txt")
    if entry_points:
        yield "entry_points.txt", entry_points.encode()


def _is_editable(dist: importlib.metadata.Distribution) -> bool:
    direct_url = dist.read_text("direct_url.json")
    if not direct_url:
        return False
    return bool(json.loads(direct_url).get("dir_info", {}).get("editable"))


def _hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return f"sha256={digest.decode()}"
