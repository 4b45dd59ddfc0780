"""Parallel tap processes: an API tap with 8 streams (1 vs 8 processes), a database tap with
10 tables (1 vs 2 processes).

tap-rest-api-msdk (singer-sdk; its venv as the tests build it) reads 8 streams from a local
paginated JSON API that adds 20 ms to every page, through `singer-bridge read` with the tap's
catalog, spec and catalog flag in a bridge config, once with one process and once with
``--parallel 8``, interleaved, best of ``--repeat``. Every run is checked: every record of
every stream exactly once, each stream's STATE ``recordCount``s adding up to its records.

``--db``: pipelinewise-tap-postgres (singer-python) reading 10 tables of ``--rows`` rows from
the PostgreSQL server the tests use, with one process and with two.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from tests.support.json_handler import JsonHandler  # noqa: E402

TOKEN = "bench-token-7"
STREAMS = [f"s{k}" for k in range(8)]


class PagedApi:
    """``GET /sK?offset=N``: ``{"items": [...], "next_page": N2 | null}``, 20 ms per page."""

    def __init__(self, pages: int, page_size: int, latency: float) -> None:
        api = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"error": "unauthorized"})
                    return
                url = urlparse(self.path)
                stream = url.path.strip("/")
                offset = int(parse_qs(url.query).get("offset", ["0"])[0] or 0)
                time.sleep(api.latency)
                total = api.pages * api.page_size
                items = [
                    {"id": i, "stream": stream, "name": f"{stream} item {i}", "price": i * 1.5}
                    for i in range(offset, min(offset + api.page_size, total))
                ]
                nxt = offset + api.page_size if offset + api.page_size < total else None
                self._send(200, {"items": items, "next_page": nxt})

        self.pages, self.page_size, self.latency = pages, page_size, latency
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def prepare(api: PagedApi, tmp: Path) -> list[str]:
    from singer_bridge._translate.catalog import airbyte_catalog, parse_singer_catalog
    from tests.support.realtaps import ALL_VENVS
    from tests.support.tapvenv import tap_bin

    exe = str(tap_bin("tap-rest-api-msdk", ALL_VENVS["tap-rest-api-msdk"]) / "tap-rest-api-msdk")
    config = {
        "api_url": api.url,
        "auth_method": "bearer_token",
        "bearer_token": TOKEN,
        "pagination_next_page_param": "offset",
        "streams": [
            {"name": s, "path": f"/{s}", "primary_keys": ["id"], "records_path": "$.items[*]"}
            for s in STREAMS
        ],
    }
    config_path = _write(tmp / "config.json", config)
    discovered = subprocess.run(
        [exe, "--config", config_path, "--discover"], capture_output=True, check=True
    ).stdout
    doc = json.loads(discovered)
    configured = {
        "streams": [
            {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
            for s in airbyte_catalog(parse_singer_catalog(doc))["streams"]
        ]
    }
    bridge_config = {
        "tap": [exe],
        "spec_file": _write(tmp / "spec.json", {"type": "object", "properties": {}}),
        "catalog_file": _write(tmp / "discovered.json", doc),
        "catalog_flag": "--catalog",
    }
    return [
        sys.executable,
        "-m",
        "singer_bridge",
        "--bridge-config",
        _write(tmp / "bridge.json", bridge_config),
        "read",
        "--config",
        config_path,
        "--catalog",
        _write(tmp / "configured.json", configured),
    ]


def run_once(argv: list[str], expected: int, streams: list[str] = STREAMS, first: int = 0) -> float:
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, check=False, cwd=REPO)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the read failed: {proc.stdout[-2000:]!r}")
    check_output(proc.stdout, expected, streams, first)
    return seconds


def check_output(
    stdout: bytes, expected: int, streams: list[str] = STREAMS, first: int = 0
) -> None:
    """Every stream's ids ``first .. first + expected - 1`` exactly once, and its STATEs'
    ``recordCount``s adding up to them; else ``SystemExit``."""
    ids: dict[str, list[int]] = {s: [] for s in streams}
    counted: dict[str, int] = dict.fromkeys(streams, 0)
    for line in stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            ids[message["record"]["stream"]].append(message["record"]["data"]["id"])
        elif message["type"] == "STATE":
            name = message["state"]["stream"]["stream_descriptor"]["name"]
            counted[name] += int(message["state"]["sourceStats"]["recordCount"])
    for stream in streams:
        if (
            sorted(ids[stream]) != list(range(first, first + expected))
            or counted[stream] != expected
        ):
            raise SystemExit(f"{stream}: {len(ids[stream])} records, {counted[stream]} counted")


DB_TABLES = [f"t{k}" for k in range(10)]


def db_bench(rows: int, repeat: int) -> str:
    """pipelinewise-tap-postgres, 10 tables: one process against two."""
    from singer_bridge._translate.catalog import airbyte_catalog, parse_singer_catalog
    from tests.support.postgres import start_postgres
    from tests.support.realtaps import ALL_VENVS
    from tests.support.tapvenv import tap_bin

    pg = start_postgres()
    try:
        sql = "".join(
            f"CREATE TABLE public.{t} (id bigint PRIMARY KEY, name text, amount numeric(12, 2),"
            f" updated_at timestamptz NOT NULL); INSERT INTO public.{t} SELECT i, 'row ' || i,"
            f" i / 100.0, timestamptz '2024-01-01' + i * interval '1 second'"
            f" FROM generate_series(1, {rows}) AS i;"
            for t in DB_TABLES
        )
        pg.psql("CREATE DATABASE bench_parallel", database="postgres")
        pg.psql(sql, database="bench_parallel")
        tmp = Path(tempfile.mkdtemp(prefix="sb-bench-parallel-db-"))
        exe = str(
            tap_bin("pipelinewise-tap-postgres", ALL_VENVS["pipelinewise-tap-postgres"])
            / "tap-postgres"
        )
        config = {
            "host": pg.host,
            "port": pg.port,
            "user": pg.user,
            "password": pg.password,
            "dbname": "bench_parallel",
            "filter_schemas": "public",
        }
        config_path = _write(tmp / "config.json", config)
        doc = json.loads(
            subprocess.run(
                [exe, "--config", config_path, "--discover"], capture_output=True, check=True
            ).stdout
        )
        catalog = airbyte_catalog(parse_singer_catalog(doc))["streams"]
        configured = {
            "streams": [
                {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
                for s in catalog
            ]
        }
        names = [s["name"] for s in catalog]
        bridge_config = {
            "tap": [exe],
            "spec_file": _write(tmp / "spec.json", {"type": "object", "properties": {}}),
            "catalog_file": _write(tmp / "discovered.json", doc),
            "catalog_flag": "--properties",
        }
        base = [
            sys.executable,
            "-m",
            "singer_bridge",
            "--bridge-config",
            _write(tmp / "bridge.json", bridge_config),
            "read",
            "--config",
            config_path,
            "--catalog",
            _write(tmp / "configured.json", configured),
        ]
        runs: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(repeat):
            for processes in runs:
                argv = [*base, "--parallel", str(processes)]
                runs[processes].append(run_once(argv, rows, names, first=1))
                print(f"db, {processes} process(es): {runs[processes][-1]:.2f} s", file=sys.stderr)
    finally:
        pg.stop()
    one, two = min(runs[1]), min(runs[2])
    total = rows * len(DB_TABLES)
    return "\n".join(
        [
            f"Database tap (pipelinewise-tap-postgres), 10 tables x {rows:,} rows from the "
            f"local PostgreSQL, {total:,} records; runs interleaved, best of {repeat}; every run "
            "checked for exactly-once records and exact state counts "
            "(`bench/parallel_taps.py --db`).",
            "",
            "| tap processes | records/s | wall s | speed-up |",
            "|---|---:|---:|---:|",
            f"| 1 | {total / one:,.0f} | {one:.2f} | 1.00x |",
            f"| 2 (`--parallel 2`) | {total / two:,.0f} | {two:.2f} | {one / two:.2f}x |",
        ]
    )


def _write(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--page-size", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--db", action="store_true", help="only the database tap, 1 vs 2")
    parser.add_argument("--rows", type=int, default=20_000, help="rows per table for --db")
    args = parser.parse_args(argv)
    if args.db:
        text = db_bench(args.rows, args.repeat)
        print(text)
        return text
    api = PagedApi(args.pages, args.page_size, args.latency)
    tmp = Path(tempfile.mkdtemp(prefix="sb-bench-parallel-"))
    base = prepare(api, tmp)
    per_stream = args.pages * args.page_size
    runs: dict[int, list[float]] = {1: [], 8: []}
    for _ in range(args.repeat):
        for processes in runs:
            argv_ = [*base, "--parallel", str(processes)]
            runs[processes].append(run_once(argv_, per_stream))
            print(f"{processes} process(es): {runs[processes][-1]:.2f} s", file=sys.stderr)
    api.server.shutdown()
    one, eight = min(runs[1]), min(runs[8])
    total = per_stream * len(STREAMS)
    text = "\n".join(
        [
            f"API tap (tap-rest-api-msdk), 8 streams x {args.pages} pages of {args.page_size} "
            f"records, {args.latency * 1000:.0f} ms added per page by the local API, "
            f"{total:,} records; runs interleaved, best of {args.repeat}; every run checked for "
            "exactly-once records and exact state counts (`bench/parallel_taps.py`).",
            "",
            "| tap processes | records/s | wall s | speed-up |",
            "|---|---:|---:|---:|",
            f"| 1 | {total / one:,.0f} | {one:.2f} | 1.00x |",
            f"| 8 (`--parallel 8`) | {total / eight:,.0f} | {eight:.2f} | {one / eight:.2f}x |",
        ]
    )
    print(text)
    return text


if __name__ == "__main__":
    main()
