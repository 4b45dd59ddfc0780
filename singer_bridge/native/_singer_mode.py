"""A native source run as a Singer tap: ``--about``, ``--discover``, ``--catalog``/``--properties``,
``--state``; Singer messages on stdout, logs on stderr. The same streams, the same engine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import msgspec

from singer_bridge._files import load_json_file, load_json_object, write_config_file
from singer_bridge._protocol.events import RecordEvent, SchemaEvent, StateEvent
from singer_bridge._protocol.singer import tap_parser
from singer_bridge._translate.spec import validate_config
from singer_bridge._translate.to_singer import is_selected, replication_method, with_key_carriers
from singer_bridge.errors import BridgeError
from singer_bridge.native._engine import read_stream, tap_stream_id
from singer_bridge.native._singer_keys import key_carriers, singer_catalog_entry
from singer_bridge.native._source import Source
from singer_bridge.native._state import StateKeeper

_encode = msgspec.json.Encoder().encode


def _selected(entry: dict[str, Any]) -> tuple[bool, bool | None]:
    """(selected, incremental) for a Singer catalog entry; incremental is ``None`` when the
    entry names no replication method."""
    method = replication_method(entry)
    return is_selected(entry), None if method is None else method in ("INCREMENTAL", "LOG_BASED")


def _rewrite_config(path: Path, config: dict[str, Any]) -> None:
    """A rotated credential goes back into the user's config file (replaced atomically),
    or the next run would start from a token the server already retired."""
    try:
        mode = write_config_file(path, config)
    except OSError as exc:
        sys.stderr.write(
            f"ERROR a credential was rotated but config file '{path}' could not be updated "
            f"({exc.strerror}): the next run may be refused\n"
        )
        return
    sys.stderr.write(
        f"INFO a credential was rotated: wrote the new config to '{path}' (mode {mode:04o})\n"
    )


def run_singer(source: Source, argv: Sequence[str], out: IO[bytes] | None = None) -> int:
    args = tap_parser("A native source run as a Singer tap.").parse_args(list(argv))
    stdout = out or sys.stdout.buffer
    if args.about:
        about = {
            "name": source.name,
            "version": source.version,
            "settings": source.connection_spec,
            "capabilities": ["about", "catalog", "properties", "discover", "state"],
        }
        stdout.write(json.dumps(about, indent=2).encode() + b"\n")
        return 0
    try:
        if not args.config:
            raise BridgeError("--config is required")
        config = load_json_object(args.config, "config")
        validate_config(config, source.connection_spec, args.config)
        source._config_sink = lambda new: _rewrite_config(Path(args.config), new)
        source._config_file = Path(args.config)
        source.bind(config)
        streams = {tap_stream_id(s): s for s in source.streams(config)}
        if args.discover:
            catalog = {"streams": [singer_catalog_entry(s) for s in streams.values()]}
            stdout.write(json.dumps(catalog, indent=2).encode() + b"\n")
            return 0
        _sync(source, args, config, streams, stdout)
    except BridgeError as exc:
        sys.stderr.write(f"CRITICAL {exc.message}\n")
        return 1
    return 0


def _sync(
    source: Source,
    args: argparse.Namespace,
    config: dict[str, Any],
    streams: dict[str, Any],
    stdout: IO[bytes],
) -> None:
    catalog_file = args.catalog or args.properties
    plan: list[tuple[str, bool]]
    if catalog_file:
        doc = load_json_file(catalog_file, "catalog")
        plan = []
        for entry in doc.get("streams", []):
            selected, incremental = _selected(entry)
            stream_id = entry.get("tap_stream_id")
            if selected and stream_id in streams:
                # singer-sdk's rule: a stream with a replication key is incremental unless the
                # catalog says otherwise
                if incremental is None:
                    incremental = streams[stream_id].cursor_field is not None
                plan.append((stream_id, incremental))
    else:  # no catalog: every stream, incrementally where it can
        plan = [(sid, s.cursor_field is not None) for sid, s in streams.items()]
    keeper = StateKeeper(load_json_file(args.state, "state") if args.state else None)
    extracted = dt.datetime.now(dt.UTC).isoformat()
    for stream_id, incremental in plan:
        stream = streams[stream_id]
        carriers = key_carriers(stream)
        for event in read_stream(
            stream, config, keeper, incremental and stream.cursor_field is not None
        ):
            if isinstance(event, RecordEvent):
                stdout.write(
                    b'{"type":"RECORD","stream":'
                    + _encode(event.stream)
                    + b',"record":'
                    + (with_key_carriers(event.data, carriers) if carriers else event.data)
                    + b',"time_extracted":'
                    + _encode(extracted)
                    + b"}\n"
                )
            elif isinstance(event, SchemaEvent):
                entry = singer_catalog_entry(stream)  # nested keys by their carrier fields
                message = {
                    "type": "SCHEMA",
                    "stream": event.stream,
                    "schema": entry["schema"],
                    "key_properties": entry["key_properties"],
                }
                if stream.cursor_field:
                    message["bookmark_properties"] = [stream.cursor_field]
                stdout.write(_encode(message) + b"\n")
            elif isinstance(event, StateEvent):
                stdout.write(_encode({"type": "STATE", "value": event.value}) + b"\n")
                stdout.flush()
    stdout.flush()
