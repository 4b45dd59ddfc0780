"""A real tap alone against the same tap behind `singer-bridge read`: wall time and CPU.

Starts the PostgreSQL server the tests use (tests/support/postgres.py), fills a table with
``--rows`` rows, and for each real tap (MeltanoLabs tap-postgres, singer-sdk; pipelinewise
tap-postgres, singer-python; their venvs as the tests build them) runs, interleaved:

- **alone**: the tap with the same config and selected catalog the bridge would give it,
  stdout to /dev/null;
- **bridged**: ``singer-bridge read`` with a bridge config naming the tap, its spec, its
  catalog and its catalog flag (so the tap starts once), stdout to /dev/null.

Wall time is the best of ``--repeat``; CPU is user+system of the measured process and all it
waited for (``os.wait4``: for the bridge, the bridge and its tap), from the same run. The
bridge also reports its own share (``getrusage(RUSAGE_SELF)`` at its exit): the taps' own CPU
varies by more than 10% from run to run, the bridge's share much less. ``--pipe`` adds the
tap alone writing into a pipe that ``cat`` drains (a reader that wakes for every flushed
message), to show what a pipe costs a tap against /dev/null. The bridge's modules are
compiled first, as an installed bridge has them (``PYTHONDONTWRITEBYTECODE`` would otherwise
make every run compile them again). A separate pass checks the bridged output: every row
exactly once, state counts exact.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from singer_bridge._read.pipeline import plan_read  # noqa: E402
from singer_bridge._translate.catalog import (  # noqa: E402
    airbyte_catalog,
    parse_singer_catalog,
    singer_catalog_with_selection,
)

TABLE = "bench_rows"
FILL_SQL = f"""
CREATE TABLE public.{TABLE} (
    id bigint PRIMARY KEY, name text, email text, amount numeric(14, 2), active boolean,
    note text, country text, score double precision, updated_at timestamptz NOT NULL
);
INSERT INTO public.{TABLE}
SELECT i, 'Customer ' || i, 'customer' || i || '@example.com', (i % 100000) / 100.0,
       i % 2 = 0, CASE WHEN i % 5 = 0 THEN 'needs follow-up' END, 'NL', i / 7.0,
       timestamptz '2024-01-01' + i * interval '1 second'
FROM generate_series(1, ROWS) AS i;
"""


@dataclass
class Tap:
    name: str
    venv: str
    executable: str
    flag: str
    db_key: str
    extra: dict[str, Any]


TAPS = [
    Tap(
        "meltanolabs-tap-postgres (singer-sdk)",
        "meltanolabs-tap-postgres",
        "tap-postgres",
        "--catalog",
        "database",
        {"filter_schemas": ["public"]},
    ),
    Tap(
        "pipelinewise-tap-postgres (singer-python)",
        "pipelinewise-tap-postgres",
        "tap-postgres",
        "--properties",
        "dbname",
        {"filter_schemas": "public"},
    ),
]


@dataclass
class Run:
    wall: float
    cpu: float
    own: float | None = None  # the bridge's own CPU, without its tap's
    waits: int | None = None  # the bridge's voluntary context switches (its wake-ups)


# Runs `singer-bridge` and, at its exit, writes its own CPU (not its children's) to a file.
BRIDGE = """
import atexit, os, resource, sys
def _own():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    with open(os.environ["SB_BENCH_OWN_CPU"], "w") as f:
        f.write(f"{usage.ru_utime + usage.ru_stime!r} {usage.ru_nvcsw}")
atexit.register(_own)
sys.argv[0] = "singer-bridge"
from singer_bridge._cli.main import main
main()
"""


def measure(argv: list[str], cwd: Path = REPO, into_pipe: bool = False) -> Run:
    """Run to the end, stdout to /dev/null (or, ``into_pipe``, to a pipe ``cat`` drains)."""
    own = Path(tempfile.mkdtemp(prefix="sb-bench-own-")) / "cpu"
    env = dict(os.environ, SB_BENCH_OWN_CPU=str(own))
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        out = subprocess.PIPE if into_pipe else sink
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
        if proc.stdout is not None:
            drain = subprocess.Popen(["cat"], stdin=proc.stdout, stdout=sink)
            proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        if into_pipe:
            drain.wait()
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed with exit code {proc.returncode}")
    mine, waits = None, None
    if own.exists():
        cpu, switches = own.read_text().split()
        mine, waits = float(cpu), int(switches)
        own.unlink()
    own.parent.rmdir()
    return Run(wall, usage.ru_utime + usage.ru_stime, mine, waits)


def prepare(tap: Tap, pg: Any, database: str, tmp: Path) -> tuple[list[str], list[str]]:
    from tests.support.realtaps import ALL_VENVS
    from tests.support.tapvenv import tap_bin

    exe = str(tap_bin(tap.venv, ALL_VENVS[tap.venv]) / tap.executable)
    config = {"host": pg.host, "port": pg.port, "user": pg.user, "password": pg.password}
    config[tap.db_key] = database
    config.update(tap.extra)
    folder = tmp / tap.venv
    folder.mkdir()
    config_path = _write(folder / "config.json", config)
    discovered = subprocess.run(
        [exe, "--config", config_path, "--discover"], capture_output=True, check=True
    ).stdout
    doc = json.loads(discovered)
    streams = parse_singer_catalog(doc)
    ours = [s for s in airbyte_catalog(streams)["streams"] if s["name"] == TABLE]
    configured = {
        "streams": [
            {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
            for s in ours
        ]
    }
    plan = plan_read(streams, configured, None)
    selected = singer_catalog_with_selection(plan.streams, plan.configured, plan.selected_fields)
    alone = [exe, "--config", config_path, tap.flag, _write(folder / "selected.json", selected)]
    bridge_config = {
        "tap": [exe],
        "spec_file": _write(folder / "spec.json", {"type": "object", "properties": {}}),
        "catalog_file": _write(folder / "discovered.json", doc),
        "catalog_flag": tap.flag,
    }
    bridged = [
        sys.executable,
        "-c",
        BRIDGE,
        "--bridge-config",
        _write(folder / "bridge.json", bridge_config),
        "read",
        "--config",
        config_path,
        "--catalog",
        _write(folder / "configured.json", configured),
    ]
    return alone, bridged


def check(bridged: list[str], rows: int) -> None:
    """Every row exactly once, and the STATE counts add up."""
    out = subprocess.run(bridged, capture_output=True, check=True, cwd=REPO).stdout
    ids, counted = [], 0
    for line in out.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            ids.append(message["record"]["data"]["id"])
        elif message["type"] == "STATE":
            counted += int(message["state"]["sourceStats"]["recordCount"])
    if sorted(ids) != list(range(1, rows + 1)) or counted != rows:
        raise SystemExit(f"bridged output wrong: {len(ids)} records, {counted} counted")


def _best(runs: list[Run]) -> Run:
    """The least wall time and the least CPU of the runs (each may come from another run)."""
    owns = [r.own for r in runs if r.own is not None]
    return Run(min(r.wall for r in runs), min(r.cpu for r in runs), min(owns) if owns else None)


def _compile(tree: Path) -> None:
    """The bridge's bytecode, as an installed bridge has it (pip compiles what it installs)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(tree / "singer_bridge")], check=True
    )


def _row(name: str, alone: list[Run], bridged: list[Run]) -> str:
    """Best-of figures, and the medians: the taps' own CPU varies more than the bridge adds."""
    a, b = _best(alone), _best(bridged)
    own = f"{b.own:.2f}" if b.own is not None else ""
    a_cpu = statistics.median(r.cpu for r in alone)
    b_cpu = statistics.median(r.cpu for r in bridged)
    owns = [r.own for r in bridged if r.own is not None]
    share = f"{statistics.median(owns) / a_cpu:.1%}" if owns else ""
    return (
        f"| {name} | {a.wall:.2f} | {b.wall:.2f} | {b.wall / a.wall:.2f}x "
        f"| {a.cpu:.2f} | {b.cpu:.2f} | {b.cpu / a.cpu:.2f}x | {b_cpu / a_cpu:.2f}x | {own} "
        f"| {share} |"
    )


def _write(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", help="run only the taps whose name contains this")
    parser.add_argument(
        "--baseline", type=Path, help="also run the bridge from this checkout (an older commit)"
    )
    parser.add_argument(
        "--pipe", action="store_true", help="also run the tap alone into a pipe `cat` drains"
    )
    args = parser.parse_args(argv)
    for tree in (REPO, args.baseline):
        if tree is not None:
            _compile(tree)
    from tests.support.postgres import start_postgres

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on the way out
    pg = start_postgres()
    tmp = Path(tempfile.mkdtemp(prefix="sb-bench-realtap-"))
    rows = [
        f"Real taps reading a PostgreSQL table of {args.rows:,} rows (9 columns), alone and "
        f"behind `singer-bridge read` (spec, catalog and catalog flag in a bridge config), "
        f"runs interleaved alone/bridged; wall and CPU each the best of {args.repeat}, and the "
        "CPU ratio of the medians; CPU is user+system of the tap, or of the bridge and its tap; "
        "the bridge's own CPU (least, and median as a share of the tap's median CPU alone) "
        "from getrusage inside it (`bench/realtap.py`).",
        "",
        "| tap | alone wall s | bridged wall s | wall ratio | alone CPU s | bridged CPU s "
        "| CPU ratio | CPU ratio, medians | bridge's own CPU s | bridge's own share |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    try:
        for tap in TAPS:
            if args.only and args.only not in tap.name:
                continue
            database = "bench_" + tap.venv.replace("-", "_")
            pg.psql(f"CREATE DATABASE {database}", database="postgres")
            pg.psql(FILL_SQL.replace("ROWS", str(args.rows)), database=database)
            alone, bridged = prepare(tap, pg, database, tmp)
            check(bridged, args.rows)
            contenders = [("alone", alone, REPO), ("bridged", bridged, REPO)]
            if args.pipe:
                contenders.append(("alone into cat", alone, REPO))
            if args.baseline:
                contenders.append(("baseline", bridged, args.baseline))
            runs: dict[str, list[Run]] = {kind: [] for kind, _, _ in contenders}
            for _ in range(args.repeat):
                for kind, cmd, cwd in contenders:
                    run = measure(cmd, cwd, into_pipe=kind == "alone into cat")
                    runs[kind].append(run)
                    own = ""
                    if run.own is not None:
                        own = f", bridge's own {run.own:.2f} s, {run.waits} context switches"
                    print(
                        f"{tap.name} {kind}: {run.wall:.2f} s, CPU {run.cpu:.2f} s{own}",
                        file=sys.stderr,
                    )
            a = _best(runs["alone"])
            rows.append(_row(tap.name, runs["alone"], runs["bridged"]))
            if args.pipe:
                p = _best(runs["alone into cat"])
                rows.append(
                    f"| ... alone into a pipe `cat` drains | | {p.wall:.2f} | "
                    f"{p.wall / a.wall:.2f}x | | {p.cpu:.2f} (the tap's) | {p.cpu / a.cpu:.2f}x "
                    "| | | |"
                )
            if args.baseline:
                rows.append(
                    _row(f"... bridged by {args.baseline.name}", runs["alone"], runs["baseline"])
                )
    finally:
        pg.stop()
    text = "\n".join(rows)
    print(text)
    return text


if __name__ == "__main__":
    main()
