"""Which Airbyte source the tap runs, and how: its command line and its input files.

A source is one of ``executable`` (a command on PATH or a path: a pip-installed connector),
``module`` (``python -m``), ``class`` (``pkg.module:Class``, an Airbyte CDK source or a
singer-bridge native ``Source``), ``manifest`` (a declarative YAML/JSON manifest, run by the
Airbyte CDK's ``source-declarative-manifest`` with the manifest in its config, the CDK's own
way to run one) or ``image`` (docker or podman; optional ``network``, ``volumes``). It comes
from the tap config's ``airbyte_source`` or the ``SINGER_BRIDGE_AIRBYTE_SOURCE`` environment
variable (a JSON object or ``kind:value``); the source's own config is ``airbyte_config``, or
the rest of the tap config.

>>> parse_source({"module": "source_faker", "python": "python3"}).argv("spec", {})
['python3', '-m', 'source_faker', 'spec']
>>> split_config({"airbyte_source": {"module": "source_x"}, "api_key": "k"})[1]
{'api_key': 'k'}
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from singer_bridge.errors import ConfigError

ENV_VAR = "SINGER_BRIDGE_AIRBYTE_SOURCE"
SOURCE_KEY = "airbyte_source"
CONFIG_KEY = "airbyte_config"
KINDS = ("executable", "module", "class", "manifest", "image")
MANIFEST_KEY = "__injected_declarative_manifest"
_CLASS_MAIN = Path(__file__).with_name("_class_main.py")
_IN_IMAGE = "/singer-bridge"


@dataclass(frozen=True, slots=True)
class SourceCommand:
    kind: str
    target: str
    python: str
    runtime: str | None = None  # docker or podman, for an image
    network: str | None = None  # an image's --network (none, host...)
    volumes: tuple[str, ...] = ()  # an image's more mounts, "host:container[:ro]"

    @property
    def label(self) -> str:
        return f"{self.kind} {self.target!r}"

    def argv(self, command: str, files: Mapping[str, Path]) -> list[str]:
        """The source's command line for ``command`` with ``--config``/``--catalog``/``--state``."""
        flags: list[str] = []
        for name, path in files.items():
            inside = f"{_IN_IMAGE}/{path.name}" if self.kind == "image" else str(path)
            flags += [f"--{name}", inside]
        if self.kind == "executable":
            return [self._executable(), command, *flags]
        if self.kind == "module":
            return [self.python, "-m", self.target, command, *flags]
        if self.kind == "class":
            return [self.python, str(_CLASS_MAIN), self.target, command, *flags]
        if self.kind == "manifest":
            return [self._manifest_runner(), command, *flags]
        mounts = ["-v", f"{next(iter(files.values())).parent}:{_IN_IMAGE}:ro"] if files else []
        for volume in self.volumes:
            mounts += ["-v", volume]
        network = ["--network", self.network] if self.network else []
        run = [self._runtime(), "run", "--rm", "-i", *network, *mounts]
        return [*run, self.target, command, *flags]

    def _executable(self) -> str:
        if os.sep in self.target:
            return self.target
        found = shutil.which(self.target) or shutil.which(self.target, path=_bin_dir())
        if not found:
            raise ConfigError(
                f"airbyte_source: executable {self.target!r} is not on PATH; install the "
                "connector (pip install airbyte-<name>) in this environment or give its path"
            )
        return found

    def _manifest_runner(self) -> str:
        name = "source-declarative-manifest"
        found = shutil.which(name, path=str(Path(self.python).parent)) or shutil.which(name)
        if not found:
            raise ConfigError(
                "airbyte_source: a manifest runs on the Airbyte CDK, and its "
                f"'{name}' command was not found: pip install airbyte-cdk"
            )
        return found

    def _runtime(self) -> str:
        for name in (self.runtime,) if self.runtime else ("docker", "podman"):
            if name and shutil.which(name):
                return name
        raise ConfigError(
            f"airbyte_source: image {self.target!r} needs a container runtime "
            "(docker or podman) on PATH"
        )

    def source_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """The config file's content for the source: a manifest rides in it."""
        if self.kind != "manifest":
            return config
        return {**config, MANIFEST_KEY: load_manifest(Path(self.target))}


def _bin_dir() -> str:
    return str(Path(sys.executable).parent)


def load_manifest(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"airbyte_source: cannot read manifest '{path}': {exc.strerror}") from exc
    if path.suffix == ".json":
        doc = json.loads(text)
    else:
        try:
            import yaml  # type: ignore[import-untyped]  # comes with the Airbyte CDK, which runs the manifest
        except ImportError as exc:
            raise ConfigError(
                "airbyte_source: reading a YAML manifest needs PyYAML (it comes with airbyte-cdk)"
            ) from exc
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(
                f"airbyte_source: manifest '{path}' is not valid YAML: {exc}"
            ) from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"airbyte_source: manifest '{path}' must be a mapping")
    return doc


def parse_source(value: Any, where: str = SOURCE_KEY) -> SourceCommand:
    """A ``SourceCommand`` from a config value or the environment's text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{"):
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ConfigError(f"{where}: not valid JSON: {exc}") from exc
        else:
            kind, sep, target = text.partition(":")
            if not sep:
                raise ConfigError(f"{where}: write 'kind:value', kind one of {', '.join(KINDS)}")
            value = {kind.strip(): target.strip()}
    if not isinstance(value, dict):
        raise ConfigError(f'{where}: must be an object such as {{"executable": "source-faker"}}')
    kinds = [k for k in KINDS if value.get(k)]
    if len(kinds) != 1:
        raise ConfigError(
            f"{where}: give exactly one of {', '.join(KINDS)} (found {', '.join(kinds) or 'none'})"
        )
    unknown = set(value) - {*KINDS, "python", "runtime", "network", "volumes"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    kind = kinds[0]
    volumes = value.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, str) for v in volumes):
        raise ConfigError(f"{where}: 'volumes' must be a list of 'host:container' strings")
    return SourceCommand(
        kind=kind,
        target=str(value[kind]),
        python=str(value.get("python") or sys.executable),
        runtime=value.get("runtime"),
        network=value.get("network"),
        volumes=tuple(volumes),
    )


def split_config(
    tap_config: dict[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[SourceCommand, dict[str, Any]]:
    """(the source, its own config) from the tap's config."""
    environ = os.environ if environ is None else environ
    if tap_config.get(SOURCE_KEY):
        command = parse_source(tap_config[SOURCE_KEY])
    elif environ.get(ENV_VAR):
        command = parse_source(environ[ENV_VAR], ENV_VAR)
    else:
        raise ConfigError(
            f"no Airbyte source: set '{SOURCE_KEY}' in the config (for example "
            f'{{"{SOURCE_KEY}": {{"executable": "source-faker"}}}}) or ${ENV_VAR}'
        )
    if CONFIG_KEY in tap_config:
        config = tap_config[CONFIG_KEY]
        if not isinstance(config, dict):
            raise ConfigError(f"'{CONFIG_KEY}' must be an object (the source's config)")
        return command, dict(config)
    return command, {k: v for k, v in tap_config.items() if k != SOURCE_KEY}


def merged_config(tap_config: dict[str, Any], source_config: dict[str, Any]) -> dict[str, Any]:
    """The tap config with the source's config replaced (a CONTROL message rotated it)."""
    source_config = {k: v for k, v in source_config.items() if k != MANIFEST_KEY}
    if CONFIG_KEY in tap_config:
        return {**tap_config, CONFIG_KEY: source_config}
    kept = {k: v for k, v in tap_config.items() if k == SOURCE_KEY}
    return {**kept, **source_config}


@contextmanager
def input_files(command: SourceCommand, **docs: Any) -> Iterator[dict[str, Path]]:
    """The source's input files (``config=...``, ``catalog=...``, ``state=...``; None left out)
    in a private folder, removed after. An image reads them through a read-only mount of an
    inner folder, so the container's user (often uid 1000) can read them; the outer folder
    keeps them from other users of this machine."""
    with tempfile.TemporaryDirectory(prefix="singer-bridge-tap-") as outer:
        folder = Path(outer) / "in"
        folder.mkdir(mode=0o755 if command.kind == "image" else 0o700)
        files: dict[str, Path] = {}
        for name, doc in docs.items():
            if doc is None:
                continue
            path = folder / f"{name}.json"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(doc, handle)
            if command.kind == "image":
                path.chmod(0o644)
            files[name] = path
        yield files
