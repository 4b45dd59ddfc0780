"""``probe``: what a tap can do, and a suggested bridge config for it.

    singer-bridge probe --tap 'tap-postgres' --config config.json --write-config bridge.json

Reports --about (capabilities, settings), the catalog flag it reads, state support, and per
stream its keys, replication methods and incremental keys. A JSON report goes to stdout, a
readable one to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from singer_bridge.catalog import stream_metadata
from singer_bridge.errors import BridgeError
from singer_bridge.files import private_dir, write_private_json
from singer_bridge.source import SingerSource


def probe(tap: list[str], config_file: str | None) -> dict[str, Any]:
    source = SingerSource(tap=tap)
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


def suggested_bridge_config(report: dict[str, Any]) -> dict[str, Any]:
    return {"tap": report["tap"], "catalog_flag": report["catalog_flag"]}


def advice(report: dict[str, Any]) -> list[str]:
    tips = []
    if not report["about"]:
        tips.append("the tap has no --about: add a spec_file so clients see its settings")
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

    def run(self, args: argparse.Namespace) -> int:
        from singer_bridge.cli import source_from_args

        try:
            tap = source_from_args(args).tap
            report = probe(tap, args.config)
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge probe: {exc.message}\n")
            return 2
        sys.stderr.write(_describe(report))
        if args.write_config:
            args.write_config.write_text(
                json.dumps(suggested_bridge_config(report), indent=2) + "\n"
            )
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
