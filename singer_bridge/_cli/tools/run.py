"""``run``: a sync for a person at a terminal, progress on stderr, data to JSONL or DuckDB.

    singer-bridge run --tap tap-postgres --config c.json --out data/
    singer-bridge run --tap tap-postgres --config c.json --duckdb shop.duckdb

Every stream is read (incrementally where it can be); the state is kept next to the data
(``state.json`` in --out, or ``FILE.state.json``) so the next run resumes. A stream's file or
table is ``NAMESPACE.NAME`` (``NAME`` without a namespace), see ``output_name``. DuckDB needs the
optional dependency: ``pip install 'singer-bridge[duckdb]'``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import msgspec

from singer_bridge._cli.options import add_tap_options
from singer_bridge._cli.sources import source_from_args
from singer_bridge._files import load_json_file, private_dir, write_private_json
from singer_bridge._read.singer_source import SingerSource
from singer_bridge.errors import BridgeError, ConfigError

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def output_name(name: str, namespace: str | None) -> str:
    """The file or table name of a stream: one per stream, never another stream's.

    Names kept as they are need nothing but letters, digits, ``_`` and ``-``, and no capitals
    (case-insensitive file systems and DuckDB would merge ``Users`` and ``users``); any other
    gets a short digest of the exact stream, so streams that read alike stay apart.

    >>> output_name("users", "public"), output_name("users", "sales"), output_name("users", None)
    ('public.users', 'sales.users', 'users')
    >>> output_name("public.users", None), output_name("a/b", None), output_name("a_b", None)
    ('public.users-b5c0b8c9', 'a_b-1ad30f60', 'a_b')
    """
    parts = [p for p in (namespace, name) if p is not None]
    safe = [_UNSAFE.sub("_", p).lower() for p in parts]
    if safe == parts and all("." not in p for p in parts):
        return ".".join(safe)
    digest = hashlib.sha256(json.dumps([namespace, name]).encode()).hexdigest()[:8]
    return ".".join(safe) + "-" + digest


class _RecordBody(msgspec.Struct):
    stream: str
    data: msgspec.Raw  # the bytes the translator wrote: 1234.50 and big integers stay exact
    emitted_at: int = 0
    namespace: str | None = None


class _Line(msgspec.Struct):
    type: str
    record: _RecordBody | None = None


_decode_line = msgspec.json.Decoder(_Line).decode


class Sink:
    """Takes the bridge's output lines like a Writer; keeps data, state and progress."""

    def __init__(self, out: Path | None, duckdb_file: Path | None, progress: IO[str]) -> None:
        self.counts: dict[str, int] = {}
        self.states: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.global_state: dict[str, Any] | None = None
        self.errors: list[str] = []
        self._files: dict[str, IO[bytes]] = {}
        self._rows: dict[str, list[tuple[str, int]]] = {}
        self._out, self._progress = out, progress
        self._db = _connect_duckdb(duckdb_file) if duckdb_file is not None else None
        self._started = self._shown = time.monotonic()
        self._tty = progress.isatty()
        self._mask: Callable[[str], str] = lambda text: text

    def mask_with(self, mask: Callable[[str], str]) -> None:
        """Like ``Writer.mask_with``: secrets masked in what is shown (logs, errors)."""
        self._mask = mask

    def write(self, data: bytes) -> None:
        for line in data.splitlines():
            if not line.strip():
                continue
            message = _decode_line(line)
            if message.record is not None and message.type == "RECORD":
                self._take_record(message.record)
            else:
                line = self._mask(line.decode("utf-8", "replace")).encode("utf-8")
                self._take(json.loads(line))

    def write_all(self, lines: list[bytes], *, plain: bool = False, small: bool = False) -> None:
        for data in lines:  # each line is masked or not by its type, plain or not
            self.write(data)

    def flush(self) -> None:
        self._flush_rows()

    def _take_record(self, record: _RecordBody) -> None:
        name = output_name(record.stream, record.namespace)
        self.counts[name] = self.counts.get(name, 0) + 1
        data = bytes(record.data)
        if self._db is not None:
            self._rows.setdefault(name, []).append((data.decode("utf-8"), record.emitted_at))
            if len(self._rows[name]) >= 5000:
                self._flush_rows()
        elif self._out is not None:
            if name not in self._files:
                file = self._out / f"{name}.jsonl"
                self._files[name] = file.open("ab")
            self._files[name].write(data + b"\n")
        self._show()

    def _take(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "STATE":
            self._flush_rows()  # data first, then the state that covers it
            self._keep_state(message["state"])
        elif kind == "TRACE" and message["trace"].get("type") == "ERROR":
            self.errors.append(message["trace"]["error"].get("message", ""))
        elif kind == "LOG" and message["log"]["level"] in ("ERROR", "FATAL"):
            self._progress.write(f"  {message['log']['message']}\n")

    def _keep_state(self, state: dict[str, Any]) -> None:
        if state.get("type") == "GLOBAL":
            self.global_state = {"type": "GLOBAL", "global": state["global"]}
        elif state.get("type") == "STREAM":
            d = state["stream"]["stream_descriptor"]
            self.states[(d["name"], d.get("namespace"))] = {
                "type": "STREAM",
                "stream": state["stream"],
            }

    def resume_from(self, previous: Any) -> None:
        """Start from the last run's state: a stream that sends no STATE now keeps its own."""
        for item in previous if isinstance(previous, list) else []:
            if isinstance(item, dict) and item.get("type") in ("STREAM", "GLOBAL"):
                self._keep_state(item)

    def state_document(self) -> list[dict[str, Any]]:
        if self.global_state is not None:
            return [self.global_state]
        return list(self.states.values())

    def _flush_rows(self) -> None:
        if self._db is None:
            return
        for name, rows in self._rows.items():
            table = '"' + name.replace('"', '""') + '"'
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (data JSON, emitted_at BIGINT)")
            self._db.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)
        self._rows = {}

    def _show(self, final: bool = False) -> None:
        """One progress line: redrawn in place at a terminal, every 10 s in a log file."""
        now = time.monotonic()
        if not final and now - self._shown < (1.0 if self._tty else 10.0):
            return
        if final and not self._tty:
            return  # the summary table follows
        self._shown = now
        elapsed = max(now - self._started, 1e-6)
        parts = [f"{name}: {n:,} ({n / elapsed:,.0f}/s)" for name, n in self.counts.items()]
        line = ", ".join(parts)
        if self._tty:  # redraw in place, clearing what a longer line left behind
            line = f"\r{line}\033[K" + ("\n" if final else "")
        else:
            line += "\n"
        self._progress.write(line)
        self._progress.flush()

    def close(self) -> None:
        self._flush_rows()
        for handle in self._files.values():
            handle.close()
        self._files = {}
        if self._db is not None:
            self._db.close()
            self._db = None

    def finish(self) -> str:
        """Close the outputs; the final progress line and the summary table, for stderr."""
        self.close()
        if self.counts:
            self._show(final=True)
        return self.summary()

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        width = max([len(n) for n in self.counts] + [6])
        lines = [f"{'stream':<{width}}  {'records':>10}  {'records/s':>10}"]
        for name, n in sorted(self.counts.items()):
            lines.append(f"{name:<{width}}  {n:>10,}  {n / elapsed:>10,.0f}")
        lines.append(f"{'total':<{width}}  {sum(self.counts.values()):>10,}  in {elapsed:.1f} s")
        return "\n".join(lines) + "\n"


def _configured(streams: list[Any]) -> dict[str, Any]:
    out = []
    for s in streams:
        inc = "incremental" in s.supported_sync_modes and bool(
            s.default_cursor_field or s.log_based
        )
        out.append(
            {
                "stream": s.airbyte_stream(),
                "destination_sync_mode": "append",
                "sync_mode": "incremental" if inc else "full_refresh",
                "cursor_field": s.default_cursor_field,
            }
        )
    return {"streams": out}


def _connect_duckdb(path: Path) -> Any:
    try:
        import duckdb
    except ImportError as exc:
        raise ConfigError(
            "--duckdb needs DuckDB: pip install 'singer-bridge[duckdb]' (or use --out DIR)"
        ) from exc
    return duckdb.connect(str(path))


def _sync(source: SingerSource, config_file: str, state_file: Path, sink: Sink) -> int:
    """Discover, select every stream, read from the kept state; the tap's exit code."""
    config, masker = source.load_config(config_file)
    with private_dir() as tmp:
        streams = source.discover_streams(write_private_json(tmp, "c.json", config), None, masker)
        catalog = write_private_json(tmp, "catalog.json", _configured(streams))
        state = str(state_file) if state_file.exists() else None
        return source.read(config_file, str(catalog), state, sink)  # type: ignore[arg-type]


def _open_sink(out: Path | None, duckdb_file: Path | None, state_file: Path) -> Sink:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    sink = Sink(out, duckdb_file, sys.stderr)
    if state_file.exists():
        sink.resume_from(load_json_file(state_file, "state"))
    return sink


def _failed(exc: BridgeError) -> int:
    sys.stderr.write(f"singer-bridge run: {exc.message}\n")
    return 1


class RunCommand:
    name = "run"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(
            self.name, help="sync a tap with progress, into JSONL or DuckDB"
        )
        parser.add_argument("--config", required=True)
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--out", type=Path, help="a folder for one JSONL file per stream")
        where.add_argument("--duckdb", type=Path, help="a DuckDB database file")
        add_tap_options(parser)

    def run(self, args: argparse.Namespace) -> int:
        state_file: Path = (
            (args.out / "state.json") if args.out else args.duckdb.with_suffix(".state.json")
        )
        try:
            sink = _open_sink(args.out, args.duckdb, state_file)
        except BridgeError as exc:
            return _failed(exc)
        try:
            code = _sync(source_from_args(args), args.config, state_file, sink)
        except BridgeError as exc:
            sink.close()
            return _failed(exc)
        sys.stderr.write(sink.finish())
        state_file.write_text(json.dumps(sink.state_document(), indent=2) + "\n")
        for error in sink.errors:
            sys.stderr.write(f"error: {error}\n")
        return code
