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

from singer_bridge.cli.options import add_tap_options
from singer_bridge.errors import BridgeError
from singer_bridge.files import load_json_object, private_dir, write_private_json
from singer_bridge.tap.source import SingerSource
from singer_bridge.translate.catalog import stream_metadata
from singer_bridge.translate.spec import JSON_SCHEMA_DRAFT

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
                    "field_selection": any(len(k) == 2 for k in stream_metadata(s.entry)),
                }
            )
    return report


def suggested_bridge_config(report: dict[str, Any], spec_file: str | None) -> dict[str, Any]:
    suggested: dict[str, Any] = {"tap": report["tap"], "catalog_flag": report["catalog_flag"]}
    if spec_file:
        suggested["spec_file"] = spec_file
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
        add_tap_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        from singer_bridge.cli.options import source_from_args

        try:
            report = probe(source_from_args(args), args.config)
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge probe: {exc.message}\n")
            return 2
        sys.stderr.write(_describe(report))
        if args.write_config:
            _write_suggestion(report, args.write_config, args.config)
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0


def _write_suggestion(report: dict[str, Any], target: Path, config_file: str | None) -> None:
    spec_name = None
    if not report["about"] and config_file:
        spec_path = target.with_name(f"{target.stem}.spec.json")
        title = Path(report["tap"][0]).name
        spec = spec_from_config(load_json_object(config_file, "config"), title)
        spec_path.write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
        spec_name = spec_path.name  # relative: resolved from the bridge config's folder
        sys.stderr.write(f"wrote {spec_path}: a spec inferred from the config; check it\n")
    suggested = suggested_bridge_config(report, spec_name)
    target.write_text(json.dumps(suggested, indent=2) + "\n", encoding="utf-8")
