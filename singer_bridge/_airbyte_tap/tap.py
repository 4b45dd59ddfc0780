"""An Airbyte source run as a Singer tap: ``--about``, ``--discover``, ``--catalog`` or
``--properties`` with ``--state``. Singer messages on stdout; the source's logs, traces and
stderr on stderr, masked.

The read passes each record's body through undecoded unless fields were deselected or a nested
key needs its carrier field. A Singer STATE goes out only for a STATE the source emitted (after
every record before it), carrying the newest state of every stream, so the next run gives the
source back exactly the state it last acknowledged; none goes out once the source reported an
error or a failed stream (a state after a failure may cover records that never came). A
FULL_TABLE stream's records carry the run's ``version`` and end with ACTIVATE_VERSION once the
stream completed, so targets can drop rows the source no longer has. A source error or a failed
stream ends the tap non-zero, naming the stream and the failure type, after everything the
source sent before it was written.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec

from singer_bridge._airbyte_tap.source import (
    ENV_VAR,
    SourceCommand,
    input_files,
    load_manifest,
    merged_config,
    split_config,
)
from singer_bridge._files import load_json_file, load_json_object, write_config_file
from singer_bridge._protocol.airbyte import AirbyteLine, decode_line, decode_lines
from singer_bridge._protocol.singer import tap_parser
from singer_bridge._tap.cache import TapCache, cache_dir, missing
from singer_bridge._tap.process import TapProcess, tap_environment
from singer_bridge._translate.catalog import key_carrier_paths, stream_metadata
from singer_bridge._translate.masking import GrowingMasker, secret_values
from singer_bridge._translate.routes import without_fields
from singer_bridge._translate.state import (
    Descriptor,
    singer_state_of_source,
    source_state_of_singer,
)
from singer_bridge._translate.to_singer import (
    AIRBYTE_STREAM_METADATA,
    ExtractedField,
    KeyCarriers,
    deselected_fields,
    is_selected,
    replication_method,
    singer_entry,
    tap_stream_id,
    with_key_carriers,
)
from singer_bridge.errors import BridgeError, ConfigError, TapError

_encode = msgspec.json.Encoder().encode
_ERRORS = (msgspec.DecodeError, msgspec.ValidationError)


def _log(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")
    sys.stderr.flush()


class _Session:
    """One run of the source: its masker, and how its stderr and its LOG/TRACE lines reach ours."""

    def __init__(self, command: SourceCommand, source_config: dict[str, Any]) -> None:
        self.command = command
        self.source_config = source_config
        self.masker = GrowingMasker.for_config(source_config, None)

    def learn_secrets(self) -> None:
        """Mask what the source's spec marks secret, besides the names that sound secret. The
        spec is kept in the cache by the source's identity (a reinstall changes it), so a sync
        starts the source for it once, not every time."""
        try:
            spec = self._cached_spec()
        except BridgeError as exc:
            self.log(
                "WARN",
                f"the source's spec could not be read ({exc.message}); secrets "
                "are recognised by their names only",
            )
            return
        self.masker = GrowingMasker.for_config(self.source_config, spec)

    def _cached_spec(self) -> dict[str, Any]:
        if self.command.kind == "manifest":
            return source_spec(self)
        argv = self.command.argv("spec", {})
        cache = TapCache(argv, {}, cache_dir())
        spec = cache.get("airbyte-spec")
        if missing(spec):
            spec = source_spec(self)
            cache.put("airbyte-spec", spec)
        return dict(spec)

    def log(self, level: str, text: str) -> None:
        _log(f"{level} {self.masker.mask(text)}")

    def process(self, name: str, files: Mapping[str, Path]) -> TapProcess:
        return TapProcess(
            self.command.argv(name, files),
            env=tap_environment({}, inherit=True),
            on_stderr=_log,
            mask=self.masker.mask,
        )

    def trace_error(self, trace: Mapping[str, Any]) -> tuple[str, str, str | None]:
        """(message, failure_type, stream) of an error TRACE, logged."""
        error = trace.get("error") or {}
        message = str(error.get("message") or error.get("internal_message") or "unknown error")
        failure = str(error.get("failure_type") or "system_error")
        descriptor = error.get("stream_descriptor") or {}
        stream = (
            tap_stream_id(str(descriptor["name"]), descriptor.get("namespace"))
            if descriptor.get("name")
            else None
        )
        where = f" in stream '{stream}'" if stream else ""
        self.log("ERROR", f"the source failed{where} ({failure}): {message}")
        if error.get("stack_trace"):
            self.log("DEBUG", str(error["stack_trace"]))
        return message, failure, stream

    def other(self, line: AirbyteLine) -> None:
        if line.log is not None:
            level = str(line.log.get("level") or "INFO").upper()
            self.log("CRITICAL" if level == "FATAL" else level, str(line.log.get("message") or ""))

    def command_output(self, name: str, config: dict[str, Any]) -> list[AirbyteLine]:
        """Run ``spec``/``discover``/``check`` and return its lines; a source error raises."""
        docs = {"config": self.command.source_config(config)} if name != "spec" else {}
        with input_files(self.command, **docs) as files, self.process(name, files) as proc:
            output = proc.read_stdout()
            code = proc.wait()
        lines = []
        for raw in output.splitlines():
            line = _decode(raw, self)
            if line is None:
                continue
            if line.type == "TRACE" and (line.trace or {}).get("type") == "ERROR":
                message, failure, _ = self.trace_error(line.trace or {})
                cls = ConfigError if failure == "config_error" else TapError
                raise cls(f"the source's {name} failed ({failure}): {message}")
            self.other(line)
            lines.append(line)
        if code != 0:
            raise TapError(f"the source's {name} exited with code {code}{_tail(proc)}")
        return lines


def _tail(proc: TapProcess) -> str:
    return f"; its stderr ended: {proc.stderr_tail[-1]}" if proc.stderr_tail else ""


def _decode(raw: bytes, session: _Session) -> AirbyteLine | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return decode_line(text)
    except _ERRORS:
        preview = text[:300].decode("utf-8", "replace")
        session.log("WARN", f"the source wrote a line that is not an Airbyte message: {preview}")
        return None


# --- spec and about ---------------------------------------------------------------------------


def source_spec(session: _Session) -> dict[str, Any]:
    """The source's connection specification (a manifest's own, for a manifest)."""
    if session.command.kind == "manifest":
        spec = load_manifest(Path(session.command.target)).get("spec") or {}
        return dict(
            spec.get("connection_specification") or spec.get("connectionSpecification") or {}
        )
    for line in session.command_output("spec", {}):
        if line.spec is not None:
            return dict(line.spec.get("connectionSpecification") or {})
    raise TapError("the source's spec wrote no SPEC message")


def about(session: _Session | None, version: str) -> dict[str, Any]:
    spec = source_spec(session) if session else None
    source_setting = {
        "description": "The Airbyte source to run: one of executable, module, class, "
        "manifest or image (optional python, runtime)",
        "type": ["object", "string"],
    }
    return {
        "name": "singer-bridge-tap",
        "description": "An Airbyte source run as a Singer tap"
        + (f" ({session.command.label})" if session else ""),
        "version": version,
        "capabilities": ["about", "catalog", "discover", "properties", "state"],
        "settings": {
            "type": "object",
            "properties": {
                "airbyte_source": source_setting,
                "airbyte_config": spec or {"type": "object"},
            },
        },
    }


def about_markdown(doc: Mapping[str, Any]) -> str:
    lines = [f"# {doc['name']}", "", str(doc["description"]), "", "## Settings", ""]
    properties = doc["settings"]["properties"]["airbyte_config"].get("properties") or {}
    lines.append("| Setting | Type | Description |")
    lines.append("|---|---|---|")
    for name, prop in {
        "airbyte_source": doc["settings"]["properties"]["airbyte_source"],
        **properties,
    }.items():
        kind = prop.get("type", "")
        kind = "/".join(kind) if isinstance(kind, list) else kind
        description = (str(prop.get("description") or "").splitlines() or [""])[0]
        lines.append(f"| {name} | {kind} | {description} |")
    return "\n".join(lines) + "\n"


# --- discovery --------------------------------------------------------------------------------


def discover(session: _Session) -> dict[str, Any]:
    for line in session.command_output("discover", session.source_config):
        if line.catalog is not None:
            streams = line.catalog.get("streams") or []
            return {"streams": [singer_entry(s) for s in streams if isinstance(s, dict)]}
    raise TapError("the source's discover wrote no CATALOG message")


# --- reading ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Route:
    """One selected stream: how its records are written."""

    sid: str
    prefix: bytes
    schema_line: bytes
    tail: bytes  # closes a record: the version, if any, and the brace
    dropped: frozenset[str]
    carriers: KeyCarriers
    version: int | None
    started: bool = False
    activated: bool = False
    records: int = 0


def _airbyte_stream(entry: Mapping[str, Any], md: Mapping[str, Any]) -> dict[str, Any]:
    """The Airbyte stream a Singer entry stands for: as discovery kept it, else rebuilt from
    the Singer metadata (a catalog written by hand or by another tool)."""
    kept = md.get(AIRBYTE_STREAM_METADATA)
    if isinstance(kept, dict) and kept.get("name"):
        return dict(kept)
    namespace = md.get("schema-name") or None
    name = str(entry.get("table_name") or entry.get("stream") or entry.get("tap_stream_id"))
    if namespace and name.startswith(f"{namespace}-"):
        name = name[len(namespace) + 1 :]
    carriers = key_carrier_paths(md)
    keys = md.get("table-key-properties") or entry.get("key_properties") or []
    valid = [str(k) for k in md.get("valid-replication-keys") or []]
    forced = str(md.get("forced-replication-method") or "").upper()
    stream: dict[str, Any] = {
        "name": name,
        "supported_sync_modes": ["full_refresh"]
        if forced == "FULL_TABLE"
        else ["incremental"]
        if forced == "INCREMENTAL"
        else ["full_refresh", "incremental"],
        "source_defined_cursor": bool(valid),
        "default_cursor_field": valid[:1],
        "source_defined_primary_key": [carriers.get(k) or [k] for k in keys],
    }
    if namespace:
        stream["namespace"] = namespace
    return stream


class ReadPlan:
    """The configured catalog for the source and a route per selected stream."""

    def __init__(self, catalog: Mapping[str, Any], version: int) -> None:
        self.configured: list[dict[str, Any]] = []
        self.routes: dict[Descriptor, _Route] = {}
        self.by_name: dict[str, list[_Route]] = {}
        self.ids: dict[Descriptor, str] = {}  # every stream of the catalog, selected or not
        self.descriptors: dict[str, Descriptor] = {}
        self.warnings: list[str] = []
        entries = catalog.get("streams")
        if not isinstance(entries, list):
            raise ConfigError("catalog: 'streams' must be a list of Singer catalog entries")
        for entry in entries:
            if not isinstance(entry, dict) or not entry.get("tap_stream_id"):
                raise ConfigError("catalog: every stream needs a 'tap_stream_id'")
            self._add(entry, version)

    def _add(self, entry: dict[str, Any], version: int) -> None:
        md = stream_metadata(entry).get((), {})
        sid = str(entry["tap_stream_id"])
        stream = _airbyte_stream(entry, md)
        descriptor = (str(stream["name"]), stream.get("namespace") or None)
        self.ids[descriptor] = sid
        self.descriptors[sid] = descriptor
        if not is_selected(entry):
            return
        carriers = {k: tuple(v) for k, v in key_carrier_paths(md).items()}
        schema = dict(entry.get("schema") or {})
        properties = dict(schema.get("properties") or {})
        modes = stream.get("supported_sync_modes") or ["full_refresh"]
        method = replication_method(entry) or (
            "INCREMENTAL" if "incremental" in modes else "FULL_TABLE"
        )
        if stream.get("source_defined_cursor"):
            cursor = list(stream.get("default_cursor_field") or [])
        else:
            key = md.get("replication-key") or entry.get("replication_key")
            cursor = [str(key)] if key else list(stream.get("default_cursor_field") or [])
        incremental = method in ("INCREMENTAL", "LOG_BASED") and "incremental" in modes
        if incremental and not cursor and not stream.get("source_defined_cursor"):
            self.warnings.append(
                f"stream '{sid}': INCREMENTAL needs a replication-key; read in full"
            )
            incremental = False
        elif method in ("INCREMENTAL", "LOG_BASED") and not incremental:
            self.warnings.append(
                f"stream '{sid}': the source cannot read it incrementally; read in full"
            )
        keys = list(stream.get("source_defined_primary_key") or [])
        kept = {*carriers, *(p[0] for p in keys if p), *cursor[:1]}
        dropped = frozenset(deselected_fields(entry) - kept)
        for name in (*dropped, *carriers):
            properties.pop(name, None)
        airbyte_schema = {**schema, "properties": properties}
        configured: dict[str, Any] = {
            "stream": {**stream, "json_schema": airbyte_schema},
            "sync_mode": "incremental" if incremental else "full_refresh",
            "destination_sync_mode": "append" if incremental else "overwrite",
        }
        if incremental and cursor:
            configured["cursor_field"] = cursor
        if keys:
            configured["primary_key"] = keys
        self.configured.append(configured)
        singer_schema = dict(entry.get("schema") or {})
        singer_schema["properties"] = {
            k: v for k, v in (singer_schema.get("properties") or {}).items() if k not in dropped
        }
        key_properties = md.get("table-key-properties") or entry.get("key_properties") or []
        schema_message: dict[str, Any] = {
            "type": "SCHEMA",
            "stream": sid,
            "schema": singer_schema,
            "key_properties": list(key_properties),
        }
        if incremental and len(cursor) == 1:
            schema_message["bookmark_properties"] = cursor
        full_table = None if incremental else version
        route = _Route(
            sid=sid,
            prefix=b'{"type":"RECORD","stream":' + _encode(sid) + b',"record":',
            schema_line=_encode(schema_message) + b"\n",
            tail=(b',"version":%d}\n' % full_table) if full_table is not None else b"}\n",
            dropped=dropped,
            carriers=carriers,
            version=full_table,
        )
        self.routes[descriptor] = route
        self.by_name.setdefault(descriptor[0], []).append(route)

    def route(self, name: str, namespace: str | None) -> _Route | None:
        found = self.routes.get((name, namespace))
        if found is None:
            same_name = self.by_name.get(name) or []
            found = same_name[0] if len(same_name) == 1 else None
        return found


def _state_key(state: Mapping[str, Any]) -> tuple[Any, ...]:
    kind = str(state.get("type") or ("LEGACY" if "data" in state else "STREAM")).upper()
    if kind == "STREAM":
        d = (state.get("stream") or {}).get("stream_descriptor") or {}
        return (kind, d.get("name"), d.get("namespace") or None)
    return (kind,)


class Reader:
    """Turns the source's stdout into Singer lines, in order, a block at a time."""

    def __init__(
        self,
        plan: ReadPlan,
        session: _Session,
        out: IO[bytes],
        initial_state: Iterable[dict[str, Any]],
        config_file: Path | None,
        tap_config: dict[str, Any],
    ) -> None:
        self.plan = plan
        self.session = session
        self.out = out
        self.states = {_state_key(s): s for s in initial_state}
        self.config_file = config_file
        self.tap_config = tap_config
        self.errors: list[tuple[str, str, str | None]] = []
        self.failed: list[str] = []
        self.last_stream: str | None = None
        self.unknown: set[tuple[str, str | None]] = set()
        self._emitted_at: float = -1.0
        self._extracted = b""
        self._extracted_field = ExtractedField()

    def block(self, block: bytes | bytearray) -> None:
        try:
            lines = decode_lines(block)
        except _ERRORS:
            lines = [
                x for x in map(lambda r: _decode(r, self.session), bytes(block).split(b"\n")) if x
            ]
        parts: list[Any] = []
        routes = self.plan.routes
        for line in lines:
            record = line.record
            if record is not None:
                route = routes.get((record.stream, record.namespace)) or self.plan.route(
                    record.stream, record.namespace
                )
                if route is None:
                    self._unknown(record.stream, record.namespace)
                    continue
                if not route.started:
                    route.started = True
                    parts.append(route.schema_line)
                    self.last_stream = route.sid
                data: Any = record.data
                if route.dropped:
                    data = without_fields(data, route.dropped)
                if route.carriers:
                    data = with_key_carriers(bytes(data), route.carriers)
                if record.emitted_at != self._emitted_at:
                    self._emitted_at = record.emitted_at
                    self._extracted = self._extracted_field(record.emitted_at)
                route.records += 1
                parts += (route.prefix, data, self._extracted, route.tail)
            elif line.state is not None:
                if self.errors or self.failed:
                    continue  # past a failure, a state may cover what was never delivered
                self.states[_state_key(line.state)] = line.state
                value = singer_state_of_source(list(self.states.values()), self.plan.ids)
                parts.append(_encode({"type": "STATE", "value": value}) + b"\n")
                self._write(parts)
                parts = []
                self.out.flush()
            elif line.trace is not None:
                self._trace(line.trace, parts)
            elif line.control is not None:
                self._control(line.control)
            else:
                self.session.other(line)
        self._write(parts)

    def _write(self, parts: list[Any]) -> None:
        if parts:
            self.out.write(b"".join(parts))

    def _unknown(self, name: str, namespace: str | None) -> None:
        if (name, namespace) not in self.unknown:
            self.unknown.add((name, namespace))
            self.session.log(
                "WARN",
                f"the source sent records of stream '{tap_stream_id(name, namespace)}', "
                "which the catalog does not select: dropped",
            )

    def _trace(self, trace: Mapping[str, Any], parts: list[Any]) -> None:
        kind = trace.get("type")
        if kind == "ERROR":
            self.errors.append(self.session.trace_error(trace))
        elif kind == "STREAM_STATUS":
            status = trace.get("stream_status") or {}
            d = status.get("stream_descriptor") or {}
            route = self.plan.route(str(d.get("name")), d.get("namespace") or None)
            value = str(status.get("status") or "").upper()
            if value == "INCOMPLETE":
                self.failed.append(
                    route.sid if route else tap_stream_id(str(d.get("name")), d.get("namespace"))
                )
            elif value == "COMPLETE" and route is not None:
                self._activate(route, parts)
            elif value in ("STARTED", "RUNNING") and route is not None:
                self.last_stream = route.sid

    def _activate(self, route: _Route, parts: list[Any]) -> None:
        if route.version is not None and route.started and not route.activated:
            route.activated = True
            message = {"type": "ACTIVATE_VERSION", "stream": route.sid, "version": route.version}
            parts.append(_encode(message) + b"\n")

    def _control(self, control: Mapping[str, Any]) -> None:
        if str(control.get("type") or "").upper() != "CONNECTOR_CONFIG":
            return
        new = (control.get("connectorConfig") or {}).get("config")
        if not isinstance(new, dict):
            return
        for secret in secret_values(new, None):
            self.session.masker.add(secret)
        self.tap_config = merged_config(self.tap_config, new)
        if self.config_file is None:
            return
        try:
            mode = write_config_file(self.config_file, self.tap_config)
        except OSError as exc:
            self.session.log(
                "ERROR",
                f"the source updated its config but '{self.config_file}' could not be written "
                f"({exc.strerror}): the next run may be refused",
            )
            return
        self.session.log(
            "INFO",
            f"the source updated its config: wrote it to '{self.config_file}' (mode {mode:04o})",
        )

    def finish(self, succeeded: bool) -> None:
        parts: list[Any] = []
        if succeeded:
            for route in self.plan.routes.values():
                self._activate(route, parts)
        self._write(parts)
        self.out.flush()


def read(
    session: _Session,
    catalog: Mapping[str, Any],
    singer_state: Any,
    out: IO[bytes],
    config_file: Path | None,
    tap_config: dict[str, Any],
) -> int:
    plan = ReadPlan(catalog, version=int(time.time() * 1000))
    for warning in plan.warnings:
        session.log("WARN", warning)
    state = source_state_of_singer(singer_state, plan.descriptors)
    reader = Reader(plan, session, out, state, config_file, tap_config)
    if not plan.configured:
        session.log("WARN", "no stream is selected: nothing to read")
        return 0
    docs = {
        "config": session.command.source_config(session.source_config),
        "catalog": {"streams": plan.configured},
        "state": state or None,
    }
    with input_files(session.command, **docs) as files, session.process("read", files) as proc:
        for block in proc.stdout_blocks():  # on an error, leaving the block stops the source
            reader.block(block)
        code = proc.wait()
        reader.finish(code == 0 and not reader.errors and not reader.failed)
    return _outcome(reader, code, proc, session)


def _outcome(reader: Reader, code: int, proc: TapProcess, session: _Session) -> int:
    problems = []
    for message, failure, stream in reader.errors:
        where = f"stream '{stream}'" if stream else "the source"
        problems.append(f"{where} failed ({failure}): {message}")
    named = {s for _, _, s in reader.errors if s}
    problems += [
        f"stream '{s}' did not complete (INCOMPLETE)" for s in reader.failed if s not in named
    ]
    if code != 0 and not problems:
        where = f" while reading stream '{reader.last_stream}'" if reader.last_stream else ""
        problems.append(f"the source exited with code {code}{where} (system_error){_tail(proc)}")
    for problem in problems:
        session.log("CRITICAL", problem)
    return 1 if problems else 0


def run(argv: list[str], out: IO[bytes] | None = None, version: str = "") -> int:
    args = tap_parser("Run an Airbyte source as a Singer tap.").parse_args(argv)
    stdout = out or sys.stdout.buffer
    try:
        if args.about:
            session = None  # no source named: the tap's own settings only
            if args.config or os.environ.get(ENV_VAR):
                tap_config = load_json_object(args.config, "config") if args.config else {}
                session = _Session(*split_config(tap_config))
            doc = about(session, version)
            text = (
                json.dumps(doc, indent=2) + "\n" if args.format == "json" else about_markdown(doc)
            )
            stdout.write(text.encode())
            stdout.flush()
            return 0
        if not args.config:
            raise ConfigError("--config is required (the tap's config, naming the Airbyte source)")
        tap_config = load_json_object(args.config, "config")
        session = _Session(*split_config(tap_config))
        session.learn_secrets()
        if args.discover:
            stdout.write(json.dumps(discover(session), indent=2).encode() + b"\n")
            stdout.flush()
            return 0
        catalog_file = args.catalog or args.properties
        catalog = load_json_object(catalog_file, "catalog") if catalog_file else discover(session)
        state = load_json_file(args.state, "state") if args.state else None
        return read(session, catalog, state, stdout, Path(args.config), tap_config)
    except BridgeError as exc:
        _log(f"CRITICAL {exc.message} ({exc.failure_type})")
        return 1
    except BrokenPipeError:  # the target stopped reading: the source was stopped with us
        _log("CRITICAL the tap's output was closed by its reader before the sync ended")
        if out is None:  # nothing more can go there, not even the flush at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
