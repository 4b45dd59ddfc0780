"""The bridge config file: what a tap cannot tell us about itself.

JSON or TOML, for example::

    tap = ["tap-postgres"]
    catalog_flag = "auto"            # "--catalog", "--properties", "both" or "auto"
    exclude_streams = ["public-audit_log"]
    state_mode = "stream"            # or "global"
    [streams.users]
    sync_modes = ["full_refresh"]
    primary_key = [["id"]]
"""

from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from singer_bridge.errors import ConfigError

SyncMode = Literal["full_refresh", "incremental"]


class StreamOverride(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sync_modes: list[SyncMode] | None = None
    cursor_field: list[str] | None = None
    primary_key: list[list[str]] | None = None


class BridgeConfig(BaseModel):
    """Per-tap settings; every field has a default so an empty file is valid."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tap: list[str] | None = None
    catalog_flag: Literal["auto", "--catalog", "--properties", "both"] = "auto"
    spec_file: Path | None = None
    catalog_file: Path | None = None
    exclude_streams: list[str] = Field(default_factory=list)
    state_mode: Literal["stream", "global"] = "stream"
    streams: dict[str, StreamOverride] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    inherit_env: bool = True
    discover_timeout_seconds: float = 600.0
    idle_timeout_seconds: float | None = None
    secret_keys: list[str] = Field(default_factory=list)

    @field_validator("tap", mode="before")
    @classmethod
    def _split_command(cls, value: object) -> object:
        if isinstance(value, str):
            return shlex.split(value)
        return value


def load_bridge_config(path: str | Path) -> BridgeConfig:
    """Read a bridge config file; relative paths inside it are taken from the file's folder."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"bridge config file '{file}' cannot be read: {exc.strerror}") from exc
    try:
        raw = tomllib.loads(text) if file.suffix == ".toml" else json.loads(text or "{}")
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"bridge config file '{file}' is not valid: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"bridge config file '{file}' must hold an object")
    try:
        config = BridgeConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"bridge config file '{file}' is invalid: {problems}") from exc
    updates = {
        name: file.parent / getattr(config, name)
        for name in ("spec_file", "catalog_file")
        if getattr(config, name) is not None and not getattr(config, name).is_absolute()
    }
    return config.model_copy(update=updates) if updates else config
