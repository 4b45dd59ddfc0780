"""``probe``: what a tap can do, and a suggested bridge config for it.

    singer-bridge probe --tap 'tap-postgres' --config config.json --write-config bridge.json

Reports --about (capabilities, settings), the catalog flag it reads, state support, and per
stream its keys, replication methods and incremental keys. A JSON report goes to stdout, a
readable one to stderr. For a tap without --about, a spec inferred from the given config is
written next to the bridge config (``bridge.spec.json``), so clients see the settings and the
bridge masks the secret ones.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from singer_bridge._cli.options import add_tap_options
from singer_bridge._cli.sources import source_from_args
from singer_bridge._files import load_json_object, private_dir, write_private_json
from singer_bridge._read.singer_source import SingerSource
from singer_bridge._translate.catalog import SingerStream, stream_metadata
from singer_bridge._translate.spec import JSON_SCHEMA_DRAFT
from singer_bridge.errors import BridgeError

_SECRET_NAME = re.compile(r"pass|secret|token|api_?key|private|credential", re.IGNORECASE)
_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"))


def probe(source: SingerSource, config_file: str | None) -> dict[str, Any]:
    """What the tap says about itself; with a config, its streams too (it runs discovery)."""
    tap = source.tap
    about = source.about()
    capabilities = list(about.get("capabilities") or []) if about else []
    report: dict[str, Any] = {
        "tap": tap,
        "about": about is not None,
        "capabilities": capabilities,
        "settings": sorted(source.spec()["connectionSpecification"].get("properties") or {}),
        "catalog_flag": source.detect_catalog_flag(),
        "state": "state" in capabilities or not about,  # singer-python taps take --state
        "streams": [],
    }
    spec = source.spec() if about else None
    report["advice"] = advice(report)
    if config_file:
        config, masker = source.load_config(config_file)
        with private_dir() as tmp:
            streams = source.discover_streams(
                write_private_json(tmp, "c.json", config), None, masker
            )
        for s in streams:
            md = stream_metadata(s.entry).get((), {})
            report["streams"].append(
                {
                    "tap_stream_id": s.tap_stream_id,
                    "name": s.name,
                    "namespace": s.namespace,
                    "primary_key": s.primary_key,
                    "sync_modes": s.supported_sync_modes,
                    "forced_replication_method": md.get("forced-replication-method") or None,
                    "incremental_keys": s.default_cursor_field,
                    "suggested_cursor": suggest_cursor(s),
                    "field_selection": any(len(k) == 2 for k in stream_metadata(s.entry)),
                }
            )
        report["_catalog"] = {"streams": [s.entry for s in streams]}
    report["_spec"] = spec
    return report


_CURSOR_NAME = re.compile(
    r"^(_?(updated|modified|changed|last_?modified|last_?updated|updated_?at|modified_?at"
    r"|_sdc_.*_at|ts|timestamp|lsn|xmin|rowversion|version|seq|sequence)(_at|_on|_time|_date)?)$",
    re.IGNORECASE,
)


def suggest_cursor(stream: SingerStream) -> list[str] | None:
    """For a stream the user must give a cursor (a SQL table, say): a likely column, or None.

    >>> from singer_bridge._translate.catalog import parse_singer_catalog
    >>> [s] = parse_singer_catalog({"streams": [{"tap_stream_id": "public-t", "schema": {
    ...     "properties": {"id": {"type": "integer"}, "updated_at": {"type": "string",
    ...     "format": "date-time"}}}, "metadata": [{"breadcrumb": [], "metadata": {
    ...     "schema-name": "public"}}]}]})
    >>> suggest_cursor(s)
    ['updated_at']
    """
    if "incremental" not in stream.supported_sync_modes or stream.source_defined_cursor:
        return None
    if stream.default_cursor_field:
        return None
    properties = stream.json_schema.get("properties") or {}

    def usable(prop: Any) -> bool:
        types = prop.get("type") if isinstance(prop, dict) else None
        types = [types] if isinstance(types, str) else types or []
        return "integer" in types or (
            "string" in types and prop.get("format") in ("date-time", "date")
        )

    named = [n for n, prop in properties.items() if _CURSOR_NAME.match(n) and usable(prop)]
    timestamps = [
        n
        for n, prop in properties.items()
        if isinstance(prop, dict) and prop.get("format") == "date-time"
    ]
    choice = (named or timestamps)[:1]
    return choice or None


def suggested_bridge_config(
    report: dict[str, Any], spec_file: str | None, catalog_file: str | None = None
) -> dict[str, Any]:
    """The bridge config that lets a read start the tap once: its absolute command, catalog
    flag, spec (and catalog) files, and a cursor for each stream that needs one."""
    # relative paths made absolute, so the config works from any directory
    tap = [str(Path(a).resolve()) if "/" in a and Path(a).exists() else a for a in report["tap"]]
    suggested: dict[str, Any] = {"tap": tap, "catalog_flag": report["catalog_flag"]}
    if spec_file:
        suggested["spec_file"] = spec_file
    if catalog_file:
        suggested["catalog_file"] = catalog_file
    cursors = {
        s["tap_stream_id"]: {"cursor_field": s["suggested_cursor"]}
        for s in report["streams"]
        if s.get("suggested_cursor")
    }
    if cursors:
        suggested["streams"] = cursors
    return suggested


def spec_from_config(config: dict[str, Any], title: str) -> dict[str, Any]:
    """A starting spec for a tap without --about: the settings this config uses.

    >>> spec_from_config({"host": "db", "port": 5432, "password": "x"}, "tap-pg")[
    ...     "connectionSpecification"]["properties"]["password"]
    {'type': 'string', 'airbyte_secret': True}
    """
    properties: dict[str, Any] = {}
    for key, value in config.items():
        kind = next((name for t, name in _JSON_TYPES if isinstance(value, t)), None)
        prop: dict[str, Any] = {"type": kind} if kind else {}
        if isinstance(value, list | dict):
            prop = {"type": "array" if isinstance(value, list) else "object"}
        if isinstance(value, str) and _SECRET_NAME.search(key):
            prop["airbyte_secret"] = True
        properties[key] = prop
    schema = {
        "$schema": JSON_SCHEMA_DRAFT,
        "title": title,
        "type": "object",
        "required": sorted(config),
        "properties": properties,
    }
    return {"connectionSpecification": schema}


def advice(report: dict[str, Any]) -> list[str]:
    tips = []
    if not report["about"]:
        tips.append(
            "the tap has no --about: add a spec_file so clients see its settings "
            "(--config with --write-config writes one from your config)"
        )
    if not report["state"]:
        tips.append("the tap does not say it reads --state: every read may start over")
    return tips


def _describe(report: dict[str, Any]) -> str:
    lines = [
        f"tap: {' '.join(report['tap'])}",
        f"--about: {'yes' if report['about'] else 'no'}; "
        f"capabilities: {', '.join(report['capabilities']) or '-'}",
        f"settings: {', '.join(report['settings']) or '(none declared)'}",
        f"catalog flag: {report['catalog_flag']}; state: {'yes' if report['state'] else 'no'}",
    ]
    lines += [f"advice: {tip}" for tip in report["advice"]]
    for s in report["streams"]:
        lines.append(
            f"  {s['name']:<24} ns={s['namespace'] or '-':<10} pk={s['primary_key']} "
            f"modes={'/'.join(s['sync_modes'])} incremental keys={s['incremental_keys'] or '-'}"
        )
    return "\n".join(lines) + "\n"


class Probe:
    name = "probe"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(
            self.name, help="report what a tap can do; suggest a bridge config"
        )
        parser.add_argument("--config", help="a config, to discover the streams too")
        parser.add_argument(
            "--write-config", type=Path, help="write the suggested bridge config here"
        )
        parser.add_argument(
            "--write-catalog",
            action="store_true",
            help="with --write-config and --config: keep the discovered catalog too, so reads "
            "skip discovery (run probe again when the source's tables change)",
        )
        add_tap_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        try:
            report = probe(source_from_args(args), args.config)
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge probe: {exc.message}\n")
            return 2
        sys.stderr.write(_describe(report))
        if args.write_config:
            _write_suggestion(report, args.write_config, args.config, args.write_catalog)
        public = {k: v for k, v in report.items() if not k.startswith("_")}
        sys.stdout.write(json.dumps(public, indent=2) + "\n")
        return 0


def _write_suggestion(
    report: dict[str, Any], target: Path, config_file: str | None, write_catalog: bool
) -> None:
    """The bridge config, with its spec (and catalog) files beside it, named relative to it."""
    spec = report.get("_spec")
    if spec is None and config_file:
        spec = spec_from_config(load_json_object(config_file, "config"), _title(report["tap"]))
        sys.stderr.write("the tap has no --about: its spec is inferred from the config; check it\n")
    spec_name = catalog_name = None
    if spec is not None:
        spec_path = target.with_name(f"{target.stem}.spec.json")
        spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        spec_name = spec_path.name  # relative: resolved from the bridge config's folder
        sys.stderr.write(f"wrote {spec_path}\n")
    if write_catalog and report.get("_catalog") is not None:
        catalog_path = target.with_name(f"{target.stem}.catalog.json")
        catalog_path.write_text(json.dumps(report["_catalog"], indent=2) + "\n", encoding="utf-8")
        catalog_name = catalog_path.name
        sys.stderr.write(f"wrote {catalog_path}: reads use it instead of running discovery\n")
    suggested = suggested_bridge_config(report, spec_name, catalog_name)
    target.write_text(json.dumps(suggested, indent=2) + "\n", encoding="utf-8")
    sys.stderr.write(f"wrote {target}\n")


def _title(tap: list[str]) -> str:
    if "-m" in tap[:-1]:
        return tap[tap.index("-m") + 1]
    return Path(tap[0]).name if tap else "Singer tap"
