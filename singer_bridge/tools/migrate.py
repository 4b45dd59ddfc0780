"""``migrate-state`` and ``migrate-catalog``: move a Singer pipeline to Airbyte without re-sync.

    singer-bridge migrate-state --singer-catalog catalog.json --state state.json > airbyte.json
    singer-bridge migrate-state --to singer --singer-catalog catalog.json --state airbyte.json
    singer-bridge migrate-catalog --singer-catalog catalog.json [--select 'users.*' ...]

The Singer catalog names the streams (or ``--tap``/``--config`` discover it). State goes
through the same translator a read uses, so migrated state is exactly what the bridge would
have emitted; Meltano's stored state (``{"singer_state": ...}``) is accepted as Singer state.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path
from typing import Any

from singer_bridge.catalog import (
    ConfiguredStream,
    SingerStream,
    parse_singer_catalog,
    stream_metadata,
)
from singer_bridge.errors import BridgeError, ConfigError
from singer_bridge.files import load_json_file, private_dir, write_private_json
from singer_bridge.state import singer_state_from_airbyte
from singer_bridge.translator import Translator


def singer_streams(args: argparse.Namespace) -> list[SingerStream]:
    """The tap's streams: from --singer-catalog, or by running discovery with --tap/--config."""
    if args.singer_catalog:
        return parse_singer_catalog(load_json_file(args.singer_catalog, "Singer catalog"))
    if not (args.tap and args.config):
        raise ConfigError("name the streams: --singer-catalog FILE, or --tap CMD with --config F")
    from singer_bridge.source import SingerSource

    source = SingerSource(tap=args.tap)
    config, masker = source.load_config(args.config)
    with private_dir() as tmp:
        return source.discover_streams(write_private_json(tmp, "c.json", config), None, masker)


def airbyte_state_from_singer(
    singer_state: Any, streams: list[SingerStream]
) -> list[dict[str, Any]]:
    """Per-stream Airbyte state for a Singer state, as a bridge read would emit it."""
    if isinstance(singer_state, dict) and isinstance(singer_state.get("singer_state"), dict):
        singer_state = singer_state["singer_state"]  # Meltano's stored state
    if not isinstance(singer_state, dict):
        raise ConfigError("the Singer state must be a JSON object")
    everything = [
        ConfiguredStream(singer=s, incremental=True, cursor_field=s.default_cursor_field)
        for s in streams
    ]
    translator = Translator(everything, now_ms=lambda: 0)
    lines = translator.state(singer_state)
    out = []
    for line in lines:
        message = json.loads(line)
        if message["type"] == "STATE":
            out.append({"type": "STREAM", "stream": message["state"]["stream"]})
    return out


def singer_state_from_airbyte_doc(doc: Any, streams: list[SingerStream]) -> dict[str, Any]:
    ids = {(s.name, s.namespace): s.tap_stream_id for s in streams}
    return singer_state_from_airbyte(doc, ids, "state file")


# -- catalogs --------------------------------------------------------------------------------
def _is_selected(entry: dict[str, Any]) -> bool:
    md = stream_metadata(entry).get((), {})
    for value in (
        md.get("selected"),
        entry.get("selected"),
        (entry.get("schema") or {}).get("selected"),
    ):
        if value is not None:
            return bool(value)
    return bool(md.get("selected-by-default"))


def _selected_properties(entry: dict[str, Any]) -> list[str] | None:
    """Properties left selected, or None when none was deselected (select everything)."""
    props = list((entry.get("schema") or {}).get("properties") or {})
    unselected = {
        crumb[1]
        for crumb, md in stream_metadata(entry).items()
        if len(crumb) == 2 and md.get("selected") is False and md.get("inclusion") != "automatic"
    }
    return [p for p in props if p not in unselected] if unselected else None


def _rule_matches(rules: list[str], stream: SingerStream, prop: str) -> bool:
    matched = False
    for rule in rules:
        negate = rule.startswith("!")
        pattern_stream, _, pattern_prop = rule.lstrip("!").partition(".")
        names = (stream.tap_stream_id, stream.stream, stream.name)
        if any(fnmatch.fnmatchcase(n, pattern_stream) for n in names) and fnmatch.fnmatchcase(
            prop, pattern_prop or "*"
        ):
            matched = not negate
            if negate:
                return False
    return matched


def configured_catalog(streams: list[SingerStream], select: list[str] | None) -> dict[str, Any]:
    """A configured Airbyte catalog from Singer selection metadata or Meltano select rules."""
    out = []
    for s in streams:
        props = list(s.json_schema.get("properties") or {})
        if select:
            fields: list[str] | None = [p for p in props if _rule_matches(select, s, p)]
            if not fields and not _rule_matches(select, s, "*"):
                continue
            fields = None if fields and len(fields) == len(props) else fields
        elif _is_selected(s.entry):
            fields = _selected_properties(s.entry)
        else:
            continue
        md = stream_metadata(s.entry).get((), {})
        method = str(
            md.get("replication-method") or s.entry.get("replication_method") or ""
        ).upper()
        key = md.get("replication-key") or s.entry.get("replication_key") or None
        incremental = (
            method in ("INCREMENTAL", "LOG_BASED") and "incremental" in s.supported_sync_modes
        )
        schema = s.json_schema
        if fields is not None:
            schema = {**schema, "properties": {p: schema["properties"][p] for p in fields}}
        out.append(
            {
                "stream": {**s.airbyte_stream(), "json_schema": schema},
                "sync_mode": "incremental" if incremental else "full_refresh",
                "destination_sync_mode": "append",
                "cursor_field": [key] if incremental and key else s.default_cursor_field,
                "primary_key": s.primary_key,
            }
        )
    return {"streams": out}


# -- the two subcommands ---------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--singer-catalog", help="the tap's Singer catalog (from --discover)")
    parser.add_argument("--tap", help="discover the catalog by running this tap ...")
    parser.add_argument("--config", help="... with this config")
    parser.add_argument("--out", type=Path, help="write here instead of stdout")


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
            streams = singer_streams(args)
            doc = load_json_file(args.state, "state")
            if args.to == "airbyte":
                _emit(airbyte_state_from_singer(doc, streams), args.out)
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

    def run(self, args: argparse.Namespace) -> int:
        try:
            _emit(configured_catalog(singer_streams(args), args.select), args.out)
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge migrate-catalog: {exc.message}\n")
            return 2
        return 0
