"""``package``: a connector folder the Airbyte platform can build and run.

    singer-bridge package --tap-pip 'tap-x==1.2.3' --name source-x --out build/
    singer-bridge package --tap "$(singer-bridge install 'tap-x==1.2.3')" --name source-x
    singer-bridge package --native ./source-shop --name source-shop   # a native source

writes ``build/source-x/`` with a Dockerfile in Airbyte's conventions (``AIRBYTE_ENTRYPOINT``,
``io.airbyte.name``/``io.airbyte.version`` labels), ``metadata.yaml``, an installable Python
package whose ``source-x`` command is the bridge around the tap (with the bridge config, if one
is given), a wheel of singer-bridge, and a README saying how to build the image and add it to
Airbyte as a custom connector. A tap given by a local path is copied into the folder.
A native source (``--native``: a project folder such as ``init`` writes, a wheel, or a pip
spec) needs no generated package: the image installs it with the wheel and runs its command.

The wheel is rebuilt from the installed singer-bridge (``bridge_wheel``), so packaging needs no
package index whichever way singer-bridge was installed. The folder is written next to its
final place and renamed at the end: a failure leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import stat
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from singer_bridge._cli.options import add_tap_options
from singer_bridge._cli.tools.bridge_wheel import wheel_name, write_bridge_wheel
from singer_bridge._cli.tools.installed import freeze, native_source_licence, tap_venv_licence
from singer_bridge._cli.tools.render import pyproject, render_tree
from singer_bridge._tap.bridge_config import load_bridge_config
from singer_bridge._tap.venvs import installed_specs, tap_executable
from singer_bridge._version import __version__
from singer_bridge.errors import BridgeError, ConfigError

_NAME = re.compile(r"^source-[a-z0-9][a-z0-9-]*$")
_SUBTYPES = ("api", "database", "file", "custom", "message_queue", "unknown")
DOCS_URL = "https://docs.airbyte.com/integrations/custom-connectors"
_NOT_SOURCES = shutil.ignore_patterns("build", "dist", "*.egg-info", "__pycache__", ".git", ".venv")


@dataclass(frozen=True, slots=True)
class Connector:
    """What goes into the folder: the connector's identity, what the image installs and the
    command it runs: a wrapped tap (in its own venv, behind a generated ``source-x`` package)
    or, with ``native``, a native source whose own command is the connector."""

    name: str
    version: str
    specs: list[str]  # pip specs as the image installs them
    command: list[str]  # the tap's argv inside the image, or the native source's command
    subtype: str = "api"
    documentation_url: str = DOCS_URL
    native: bool = False
    licence: str | None = None  # from the source's distribution metadata, when it says
    ignore_requires_python: bool = False  # the tap's lock installs with this pip flag

    @property
    def module(self) -> str:
        return self.name.replace("-", "_")

    @property
    def image(self) -> str:
        return f"airbyte/{self.name}"


def files(c: Connector, local_sources: bool = False) -> dict[str, str]:
    """The folder's files by relative path, from ``templates/package`` and the shared pyproject."""
    fields = {
        "name": c.name,
        "version": c.version,
        "image": c.image,
        "subtype": c.subtype,
        "documentation_url": c.documentation_url,
        "definition_id": uuid.uuid5(uuid.NAMESPACE_URL, f"singer-bridge/{c.name}"),
        "specs": c.specs,
        "command": c.command,
        "tap_specs": c.specs,
        "tap_command": c.command,
        "tap_executable": Path(c.command[0]).name,
        "local_sources": local_sources,
        "bridge_wheel": wheel_name(),
        "licence": c.licence,
        "ignore_requires_python": c.ignore_requires_python,
    }
    common = render_tree("package/common", c.module, **fields)
    # stored without its dot: setuptools' package-data globs skip hidden files
    common[".dockerignore"] = common.pop("dockerignore")
    if c.native:
        return {**common, **render_tree("package/native", c.module, **fields)}
    return {
        "pyproject.toml": pyproject(
            name=c.name,
            version=c.version,
            description=f"{c.name}: a Singer tap as an Airbyte source, through singer-bridge",
            module=c.module,
            dependencies=[f"singer-bridge>={__version__}"],
            entry_point=f"{c.module}:main",
            package_data=["*.json"],
        ),
        **common,
        **render_tree("package/tap", c.module, **fields),
    }


# -- from the command line to the folder -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class PackagedTap:
    """The tap as installed here: pip specs, argv in the image, and the venv it lives in."""

    specs: list[str]
    command: list[str]
    venv: Path


def packaged_tap(args: argparse.Namespace) -> PackagedTap:
    """The tap of ``--tap`` (a venv ``singer-bridge install`` made) or ``--tap-pip`` (installed
    now, as ``singer-bridge --tap-pip`` does): its venv is what the image's lock repeats."""
    tap = shlex.split(args.tap) if args.tap else []
    if args.tap_pip:
        executable = tap_executable(args.tap_pip, args.tap_executable, args.ignore_requires_python)
        specs, arguments = [args.tap_pip], tap[1:]
    else:
        found = installed_specs(tap[0]) if tap else None
        if not found:
            raise ConfigError(
                "name the tap with --tap-pip SPEC, or --tap pointing at a tap installed by "
                "`singer-bridge install SPEC` (an image installs it from a pip spec)"
            )
        executable = Path(shutil.which(tap[0]) or tap[0]).absolute()
        specs, arguments = found, tap[1:]
    name = args.tap_executable or executable.name
    return PackagedTap(specs, [f"/opt/tap/bin/{name}", *arguments], executable.parent.parent)


def copy_local_specs(specs: list[str], folder: Path, sources: str = "tap-src") -> list[str]:
    """A spec that is a local path is copied into the build context (its folder ``sources``);
    the image installs the copy, from ``/tmp/SOURCES``."""
    out = []
    for spec in specs:
        path = Path(spec)
        if not path.exists():
            out.append(spec)
            continue
        target = folder / sources / path.name
        if path.is_dir():
            shutil.copytree(path, target, ignore=_NOT_SOURCES, dirs_exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        out.append(f"/tmp/{sources}/{path.name}")
    return out


def copy_bridge_config(source: Path, module_dir: Path) -> None:
    """The bridge config as ``bridge.json`` in the package, with its spec and catalog files;
    its ``tap`` is left out: in the image the tap lives at /opt/tap."""
    config = load_bridge_config(source)
    changes: dict[str, Any] = {"tap": None}
    for field_name in ("spec_file", "catalog_file"):
        path = getattr(config, field_name)
        if path is not None:
            shutil.copyfile(path, module_dir / path.name)
            changes[field_name] = Path(path.name)
    doc = msgspec.to_builtins(config.replace(**changes), enc_hook=str)
    doc = {k: v for k, v in doc.items() if v is not None}
    (module_dir / "bridge.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


def write_folder(args: argparse.Namespace) -> Path:
    """Write the folder in a temporary sibling and rename it into place at the end, so a
    failure leaves nothing half-written (and an earlier folder of that name untouched)."""
    final: Path = args.out / args.name
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{args.name}-", dir=args.out))
    try:
        _fill_folder(args, work)
        _make_readable(work)
        if final.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{args.name}-old-", dir=args.out))
            final.rename(old / args.name)
            work.rename(final)
            shutil.rmtree(old)
        else:
            work.rename(final)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return final


def _fill_folder(args: argparse.Namespace, folder: Path) -> None:
    if args.native is not None:
        connector = _native_connector(args, folder)
    else:
        connector = _tap_connector(args, folder)
    local_sources = any(spec.startswith("/tmp/") for spec in connector.specs)
    for relative, text in files(connector, local_sources).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if args.bridge_config:
        copy_bridge_config(Path(args.bridge_config), folder / connector.module)
    write_bridge_wheel(folder / "wheels")


def _native_connector(args: argparse.Namespace, folder: Path) -> Connector:
    if args.tap or args.tap_pip or args.bridge_config:
        raise ConfigError("--native is a source of its own: no --tap, --tap-pip or --bridge-config")
    specs = copy_local_specs([args.native], folder, "native-src")
    return Connector(
        args.name,
        args.connector_version,
        specs,
        [args.native_command or args.name],
        args.subtype,
        args.docs_url,
        native=True,
        licence=native_source_licence(args.native),
    )


def _tap_connector(args: argparse.Namespace, folder: Path) -> Connector:
    if args.bridge_config:
        load_bridge_config(Path(args.bridge_config))  # a bad one fails before any install
    tap = packaged_tap(args)
    image_specs = copy_local_specs(tap.specs, folder)
    local = {
        host: image for host, image in zip(tap.specs, image_specs, strict=True) if host != image
    }
    lock = freeze(tap.venv, local)
    (folder / "tap-lock.txt").write_text("\n".join(lock) + "\n", encoding="utf-8")
    return Connector(
        args.name,
        args.connector_version,
        image_specs,
        tap.command,
        args.subtype,
        args.docs_url,
        licence=tap_venv_licence(tap.venv, Path(tap.command[0]).name, tap.specs[0]),
        ignore_requires_python=args.ignore_requires_python,
    )


def _make_readable(folder: Path) -> None:
    """Everything readable by all (the image's unprivileged user too), whatever the umask;
    the temporary folder itself starts as 0700."""
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        executable = path.is_dir() or mode & stat.S_IXUSR
        path.chmod(mode | (0o755 if executable else 0o644))


class PackageCommand:
    name = "package"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(
            self.name, help="write a connector folder (Dockerfile, metadata.yaml, package)"
        )
        parser.add_argument("--name", required=True, help="source-NAME, lower case")
        parser.add_argument("--out", type=Path, default=Path("."))
        parser.add_argument("--version", dest="connector_version", default="0.1.0")
        parser.add_argument("--subtype", choices=_SUBTYPES, default="api")
        parser.add_argument(
            "--docs-url",
            default=DOCS_URL,
            help="the connector's documentation (metadata.yaml documentationUrl)",
        )
        parser.add_argument(
            "--native",
            metavar="PATH_OR_PIP_SPEC",
            help="a native source (project folder, wheel or pip spec) instead of a tap",
        )
        parser.add_argument(
            "--native-command",
            help="with --native: the source's command (default: the --name, as `init` makes it)",
        )
        add_tap_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        if not _NAME.match(args.name):
            sys.stderr.write("singer-bridge package: --name must look like source-x (lower case)\n")
            return 2
        try:
            folder = write_folder(args)
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge package: {exc.message}\n")
            return 2
        except OSError as exc:
            sys.stderr.write(f"singer-bridge package: {exc}\n")
            return 1
        sys.stderr.write(
            f"wrote {folder}; build it: "
            f"docker build -t airbyte/{args.name}:{args.connector_version} {folder}\n"
        )
        return 0
