"""The bridge config file: what a tap cannot tell us about itself.

JSON or TOML, for example::

    tap = ["tap-postgres"]
    catalog_flag = "auto"            # "--catalog", "--properties", "both", "none" or "auto"
    exclude_streams = ["public-audit_log"]
    state_mode = "stream"            # or "global"
    [streams.users]
    sync_modes = ["full_refresh"]
    primary_key = [["id"]]

Validated with msgspec (typed, with paths in errors) rather than pydantic: the bridge starts
for every spec/check/discover/read a client runs, and this keeps that start quick.

>>> BridgeConfig.from_dict({"tap": "tap-x --flag", "state_mode": "global"}).tap
['tap-x', '--flag']
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from singer_bridge._translate.catalog import StreamOverride
from singer_bridge.errors import ConfigError


class BridgeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Per-tap settings; every field has a default so an empty file is valid."""

    tap: list[str] | None = None
    catalog_flag: Literal["auto", "--catalog", "--properties", "both", "none"] = "auto"
    spec_file: Path | None = None
    catalog_file: Path | None = None
    exclude_streams: list[str] = msgspec.field(default_factory=list)
    state_mode: Literal["stream", "global"] = "stream"
    streams: dict[str, StreamOverride] = msgspec.field(default_factory=dict)
    env: dict[str, str] = msgspec.field(default_factory=dict)
    inherit_env: bool = True
    discover_timeout_seconds: float = 600.0
    check: Literal["read", "discover"] = "read"
    check_stream: str | None = None
    check_timeout_seconds: float = 120.0
    idle_timeout_seconds: float | None = None
    # A read stops with an error at a tap stdout line longer than this (no newline, say).
    max_line_bytes: Annotated[int, msgspec.Meta(ge=1)] = 256 * 1024 * 1024
    secret_keys: list[str] = msgspec.field(default_factory=list)
    # Read with this many processes of the tap, each given a share of the streams (1: one).
    parallel_processes: Annotated[int, msgspec.Meta(ge=1)] = 1
    # False: the tap must never run as several processes at once (parallel reads refused).
    parallel_safe: bool = True

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str = "bridge config") -> BridgeConfig:
        if isinstance(raw.get("tap"), str):
            raw = {**raw, "tap": shlex.split(raw["tap"])}
        try:
            return msgspec.convert(raw, cls, dec_hook=_decode_path, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"{source} is invalid: {exc}") from exc

    def replace(self, **changes: Any) -> BridgeConfig:
        return msgspec.structs.replace(self, **changes)


def _decode_path(kind: type, value: Any) -> Any:
    if kind is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError(kind)


def load_bridge_config(path: str | Path) -> BridgeConfig:
    """Read a bridge config file; relative paths inside it are taken from the file's folder."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"bridge config file '{file}' cannot be read: {exc.strerror}") from exc
    try:
        raw = _toml(text) if file.suffix == ".toml" else json.loads(text or "{}")
    except ValueError as exc:  # tomllib.TOMLDecodeError is one too
        raise ConfigError(f"bridge config file '{file}' is not valid: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"bridge config file '{file}' must hold an object")
    config = BridgeConfig.from_dict(raw, f"bridge config file '{file}'")
    updates = {
        name: file.parent / value
        for name in ("spec_file", "catalog_file")
        if (value := getattr(config, name)) is not None and not value.is_absolute()
    }
    return config.replace(**updates) if updates else config


def _toml(text: str) -> Any:
    import tomllib  # only for a TOML file: most runs read JSON, and this costs start-up time

    return tomllib.loads(text)
