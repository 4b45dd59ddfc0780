"""``migrate-state`` and ``migrate-catalog``: move a Singer pipeline to Airbyte without re-sync.

    singer-bridge migrate-state --singer-catalog catalog.json --state state.json > airbyte.json
    singer-bridge migrate-state --to singer --singer-catalog catalog.json --state airbyte.json
    singer-bridge migrate-catalog --singer-catalog catalog.json [--select 'users.*' ...]

The Singer catalog names the streams (or ``--tap``/``--config`` discover it; a bridge config
applies its stream overrides, exclusions and ``state_mode``). State goes through the same
translator a read uses, so migrated state is exactly what the bridge would have emitted;
Meltano's stored state (``{"singer_state": ...}``) is accepted as Singer state. Selection comes
from the catalog's metadata, or from Meltano ``select`` rules and ``metadata`` overrides.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from singer_bridge._cli.options import add_tap_options
from singer_bridge._cli.sources import bridge_config_from_args, source_from_args
from singer_bridge._files import load_json_file, private_dir, write_private_json
from singer_bridge._translate.catalog import (
    ConfiguredStream,
    SingerStream,
    parse_singer_catalog,
    stream_metadata,
)
from singer_bridge._translate.state import singer_state_from_airbyte
from singer_bridge._translate.to_singer import is_selected
from singer_bridge._translate.translator import Translator
from singer_bridge.errors import BridgeError, ConfigError

StateMode = Literal["stream", "global"]


def singer_streams(args: argparse.Namespace) -> tuple[list[SingerStream], StateMode]:
    """The tap's streams and the bridge's state mode: from --singer-catalog, or discovery."""
    bridge = bridge_config_from_args(args)
    if args.singer_catalog:
        doc = load_json_file(args.singer_catalog, "Singer catalog")
        streams = parse_singer_catalog(doc, bridge.streams, tuple(bridge.exclude_streams))
        return streams, bridge.state_mode
    source = source_from_args(args)
    if not args.config or not (source.tap or bridge.catalog_file):
        raise ConfigError("name the streams: --singer-catalog FILE, or --tap CMD with --config F")
    config, masker = source.load_config(args.config)
    with private_dir() as tmp:
        config_path = write_private_json(tmp, "c.json", config)
        return source.discover_streams(config_path, None, masker), bridge.state_mode


def airbyte_state_from_singer(
    singer_state: Any,
    streams: list[SingerStream],
    state_mode: StateMode = "stream",
) -> list[dict[str, Any]]:
    """Airbyte state for a Singer state, as a bridge read would emit it (without stats)."""
    if isinstance(singer_state, dict) and isinstance(singer_state.get("singer_state"), dict):
        singer_state = singer_state["singer_state"]  # Meltano's stored state
    if not isinstance(singer_state, dict):
        raise ConfigError("the Singer state must be a JSON object")
    everything = [
        ConfiguredStream(singer=s, incremental=True, cursor_field=s.default_cursor_field)
        for s in streams
    ]
    translator = Translator(everything, now_ms=lambda: 0, state_mode=state_mode)
    out = []
    for line in translator.state(singer_state):
        message = json.loads(line)
        if message["type"] == "STATE":
            out.append({k: v for k, v in message["state"].items() if k != "sourceStats"})
    return out


def singer_state_from_airbyte_doc(doc: Any, streams: list[SingerStream]) -> dict[str, Any]:
    ids = {(s.name, s.namespace): s.tap_stream_id for s in streams}
    return singer_state_from_airbyte(doc, ids, "state file")


# -- catalogs --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MetadataRule:
    """Meltano's ``metadata`` extra as a rule: ``public-users.replication-key=updated_at``."""

    pattern: str
    key: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> MetadataRule:
        left, equals, raw = text.partition("=")
        pattern, dot, key = left.rpartition(".")
        if not (equals and dot and pattern and key):
            raise ConfigError(
                f"--metadata '{text}' must look like STREAM.KEY=VALUE, "
                "e.g. 'public-users.replication-key=updated_at'"
            )
        try:
            value = json.loads(raw)  # true, false, numbers, lists
        except ValueError:
            value = raw
        return cls(pattern, key, value)


def _names(stream: SingerStream) -> tuple[str, ...]:
    return (stream.tap_stream_id, stream.stream, stream.name)


def _root_metadata(stream: SingerStream, rules: list[MetadataRule]) -> dict[str, Any]:
    md = dict(stream_metadata(stream.entry).get((), {}))
    for rule in rules:
        if any(fnmatch.fnmatchcase(n, rule.pattern) for n in _names(stream)):
            md[rule.key] = rule.value
    return md


def _deselected_properties(entry: dict[str, Any]) -> set[str]:
    return {
        crumb[1]
        for crumb, md in stream_metadata(entry).items()
        if len(crumb) == 2 and md.get("selected") is False and md.get("inclusion") != "automatic"
    }


def _rule_matches(rules: list[str], stream: SingerStream, prop: str) -> bool:
    matched = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern_stream, _, pattern_prop = rule.lstrip("!").partition(".")
        if any(fnmatch.fnmatchcase(n, pattern_stream) for n in _names(stream)) and (
            fnmatch.fnmatchcase(prop, pattern_prop or "*")
        ):
            if negate:
                return False  # an exclusion wins, whatever the order
            matched = True
    return matched


def _chosen_fields(
    stream: SingerStream, md: dict[str, Any], select: list[str] | None
) -> list[str] | None:
    """The properties to read, or None when the stream is not selected at all."""
    props = list(stream.json_schema.get("properties") or {})
    if select:
        fields = [p for p in props if _rule_matches(select, stream, p)]
        return fields if fields or _rule_matches(select, stream, "*") else None
    if not is_selected(stream.entry, md):
        return None
    unselected = _deselected_properties(stream.entry)
    return [p for p in props if p not in unselected]


def _replication(stream: SingerStream, md: dict[str, Any]) -> tuple[bool, list[str]]:
    """Incremental or not, and the cursor, from the catalog as a plain Singer run reads it."""
    entry = stream.entry
    method = str(
        md.get("replication-method")
        or entry.get("replication_method")
        or md.get("forced-replication-method")
        or ""
    ).upper()
    key = md.get("replication-key") or entry.get("replication_key") or None
    incremental = method in ("INCREMENTAL", "LOG_BASED") and (
        "incremental" in stream.supported_sync_modes
    )
    if incremental and key:
        return True, [str(key)]
    return incremental, stream.default_cursor_field


def _configured(stream: SingerStream, md: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    incremental, cursor = _replication(stream, md)
    props = stream.json_schema.get("properties") or {}
    # Keys, the cursor and automatic fields always travel: destinations need them.
    automatic = (
        {k[0] for k in stream.primary_key}
        | set(cursor[:1])
        | {
            crumb[1]
            for crumb, m in stream_metadata(stream.entry).items()
            if len(crumb) == 2 and m.get("inclusion") == "automatic"
        }
    )
    kept = [p for p in props if p in fields or p in automatic]
    schema = stream.json_schema
    if len(kept) < len(props):
        schema = {**schema, "properties": {p: props[p] for p in kept}}
    return {
        "stream": {**stream.airbyte_stream(), "json_schema": schema},
        "sync_mode": "incremental" if incremental else "full_refresh",
        "destination_sync_mode": "append",
        "cursor_field": cursor if incremental else stream.default_cursor_field,
        "primary_key": stream.primary_key,
    }


def configured_catalog(
    streams: list[SingerStream],
    select: list[str] | None = None,
    metadata: list[MetadataRule] | None = None,
) -> dict[str, Any]:
    """A configured Airbyte catalog from Singer selection metadata or Meltano select rules."""
    out = []
    for stream in streams:
        md = _root_metadata(stream, metadata or [])
        fields = _chosen_fields(stream, md, select)
        if fields is not None:
            out.append(_configured(stream, md, fields))
    return {"streams": out}


# -- the two subcommands ---------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--singer-catalog", help="the tap's Singer catalog (from --discover)")
    parser.add_argument("--config", help="with --tap: discover the catalog with this config")
    parser.add_argument("--out", type=Path, help="write here instead of stdout")
    add_tap_options(parser)


def _emit(doc: Any, out: Path | None) -> None:
    text = json.dumps(doc, indent=2) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, encoding="utf-8")


class MigrateState:
    name = "migrate-state"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(self.name, help="Singer (or Meltano) state <-> Airbyte state")
        _common(parser)
        parser.add_argument("--state", required=True, help="the state file to convert")
        parser.add_argument("--to", choices=["airbyte", "singer"], default="airbyte")

    def run(self, args: argparse.Namespace) -> int:
        try:
            streams, state_mode = singer_streams(args)
            doc = load_json_file(args.state, "state")
            if args.to == "airbyte":
                _emit(airbyte_state_from_singer(doc, streams, state_mode), args.out)
            else:
                _emit(singer_state_from_airbyte_doc(doc, streams), args.out)
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge migrate-state: {exc.message}\n")
            return 2
        return 0


class MigrateCatalog:
    name = "migrate-catalog"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(
            self.name,
            help="Singer catalog selection (or Meltano select rules) -> configured Airbyte catalog",
        )
        _common(parser)
        parser.add_argument(
            "--select",
            action="append",
            metavar="RULE",
            help="Meltano-style rule, e.g. 'users.*' or '!users.password' (repeatable)",
        )
        parser.add_argument(
            "--metadata",
            action="append",
            default=[],
            metavar="STREAM.KEY=VALUE",
            help="Meltano metadata, e.g. 'users.replication-method=INCREMENTAL' (repeatable)",
        )

    def run(self, args: argparse.Namespace) -> int:
        try:
            rules = [MetadataRule.parse(text) for text in args.metadata]
            streams, _ = singer_streams(args)
            _emit(configured_catalog(streams, args.select, rules), args.out)
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge migrate-catalog: {exc.message}\n")
            return 2
        return 0
