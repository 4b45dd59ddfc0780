"""``run``: a sync for a person at a terminal, progress on stderr, data to JSONL or DuckDB.

    singer-bridge run --tap tap-postgres --config c.json --out data/
    singer-bridge run --tap tap-postgres --config c.json --duckdb shop.duckdb

Every stream is read (incrementally where it can be); the state is kept next to the data
(``state.json`` in --out, or ``FILE.state.json``) so the next run resumes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from singer_bridge.errors import BridgeError
from singer_bridge.files import private_dir, write_private_json


class Sink:
    """Takes the bridge's output lines like a Writer; keeps data, state and progress."""

    def __init__(self, out: Path | None, duckdb_file: Path | None, progress: IO[str]) -> None:
        self.counts: dict[str, int] = {}
        self.states: dict[tuple[str, str | None], dict[str, Any]] = {}
        self.errors: list[str] = []
        self._files: dict[str, IO[str]] = {}
        self._rows: dict[str, list[tuple[str, int]]] = {}
        self._out, self._progress = out, progress
        self._db = None
        if duckdb_file is not None:
            import duckdb

            self._db = duckdb.connect(str(duckdb_file))
        self._started = self._shown = time.monotonic()

    def write(self, data: bytes) -> None:
        for line in data.splitlines():
            if line.strip():
                self._take(json.loads(line))

    def write_all(self, lines: list[bytes]) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        self._flush_rows()

    def _take(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "RECORD":
            record = message["record"]
            name = record["stream"]
            self.counts[name] = self.counts.get(name, 0) + 1
            if self._db is not None:
                self._rows.setdefault(name, []).append(
                    (json.dumps(record["data"]), record["emitted_at"])
                )
                if len(self._rows[name]) >= 5000:
                    self._flush_rows()
            elif self._out is not None:
                if name not in self._files:
                    self._files[name] = (self._out / f"{name}.jsonl").open("a", encoding="utf-8")
                self._files[name].write(json.dumps(record["data"]) + "\n")
            self._show()
        elif kind == "STATE" and message["state"].get("type") == "STREAM":
            d = message["state"]["stream"]["stream_descriptor"]
            self._flush_rows()  # data first, then the state that covers it
            self.states[(d["name"], d.get("namespace"))] = {
                "type": "STREAM",
                "stream": message["state"]["stream"],
            }
        elif kind == "TRACE" and message["trace"].get("type") == "ERROR":
            self.errors.append(message["trace"]["error"].get("message", ""))
        elif kind == "LOG" and message["log"]["level"] in ("ERROR", "FATAL"):
            self._progress.write(f"  {message['log']['message']}\n")

    def _flush_rows(self) -> None:
        if self._db is None:
            return
        for name, rows in self._rows.items():
            table = '"' + name.replace('"', '""') + '"'
            self._db.execute(f"CREATE TABLE IF NOT EXISTS {table} (data JSON, emitted_at BIGINT)")
            self._db.executemany(f"INSERT INTO {table} VALUES (?, ?)", rows)
        self._rows = {}

    def _show(self, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self._shown < 1.0:
            return
        self._shown = now
        elapsed = max(now - self._started, 1e-6)
        parts = [f"{name}: {n:,} ({n / elapsed:,.0f}/s)" for name, n in self.counts.items()]
        self._progress.write(f"\r{', '.join(parts)}" + ("\n" if final else ""))
        self._progress.flush()

    def close(self) -> None:
        self._flush_rows()
        for handle in self._files.values():
            handle.close()
        if self._db is not None:
            self._db.close()

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

    def run(self, args: argparse.Namespace) -> int:
        from singer_bridge.cli import source_from_args

        state_file = (
            (args.out / "state.json") if args.out else args.duckdb.with_suffix(".state.json")
        )
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
        sink = Sink(args.out, args.duckdb, sys.stderr)
        try:
            source = source_from_args(args)
            config, masker = source.load_config(args.config)
            with private_dir() as tmp:
                streams = source.discover_streams(
                    write_private_json(tmp, "c.json", config), None, masker
                )
                catalog = write_private_json(tmp, "catalog.json", _configured(streams))
                state = str(state_file) if state_file.exists() else None
                code = source.read(args.config, str(catalog), state, sink)  # type: ignore[arg-type]
        except BridgeError as exc:
            sink.close()
            sys.stderr.write(f"singer-bridge run: {exc.message}\n")
            return 1
        sink.close()
        sink._show(final=True)
        state_file.write_text(json.dumps(list(sink.states.values()), indent=2) + "\n")
        sys.stderr.write(sink.summary())
        for error in sink.errors:
            sys.stderr.write(f"error: {error}\n")
        return code
