"""An Airbyte source behind ``singer-bridge-tap``: records/s, peak RSS, and the cost over faker.

Two parts:

- **replay**: a tiny Airbyte source (``replay_source.py`` below, written next to the data) whose
  ``read`` writes a file of realistic Airbyte RECORD lines (bench/gen_tap.py's records, a
  STREAM state every 5,000 records, stream statuses around them), made once under
  ``.cache/bench``. ``singer-bridge-tap`` reads it into /dev/null: records/s (best of
  ``--repeat``) and the tap's own peak RSS (its ``VmHWM``, bench/rss.py: not ``wait4``'s
  ``ru_maxrss``, which holds this script's own peak too). ``--scale`` replays the file N
  times (1M, then 10M records) to show that memory stays flat.
- **faker**: airbyte-source-faker (its venv as the tests build it) alone, ``source-faker read``
  into /dev/null, against the same read through ``singer-bridge-tap``; wall and CPU
  (user+system of the process and its children), runs interleaved, medians of ``--repeat``.

A separate pass checks the tap's output: every replayed record once, as a Singer RECORD.

    python bench/airbyte_tap.py                      # both parts, 1,000,000 records replayed
    python bench/airbyte_tap.py --scale 1 10         # replay only: the file once, then 10 times
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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
CACHE = REPO / ".cache" / "bench"
sys.path.insert(0, str(REPO))

from bench.gen_tap import SCHEMA, STREAMS, generate  # noqa: E402
from bench.rss import wait_with_peak  # noqa: E402

TAP = Path(sys.executable).parent / "singer-bridge-tap"

# The replaying source: spec, discover, and a read that copies the file TIMES, between stream
# statuses, as a real source frames its records.
REPLAY_SOURCE = """\
import json, shutil, sys
FILE, TIMES, STREAMS, SCHEMA = {file!r}, {times}, {streams!r}, {schema!r}
out = sys.stdout.buffer
def put(doc):
    out.write(json.dumps(doc).encode() + b"\\n")
def status(stream, name):
    put({{"type": "TRACE", "trace": {{"type": "STREAM_STATUS", "emitted_at": 1717243200000,
        "stream_status": {{"stream_descriptor": {{"name": stream}}, "status": name}}}}}})
command = sys.argv[1]
if command == "spec":
    put({{"type": "SPEC", "spec": {{"connectionSpecification": {{"type": "object"}}}}}})
elif command == "discover":
    put({{"type": "CATALOG", "catalog": {{"streams": [
        {{"name": s, "json_schema": SCHEMA, "supported_sync_modes": ["full_refresh", "incremental"],
         "source_defined_cursor": True, "default_cursor_field": ["updated_at"],
         "source_defined_primary_key": [["id"]]}} for s in STREAMS]}}}})
elif command == "read":
    for s in STREAMS:
        status(s, "STARTED")
        status(s, "RUNNING")
    for _ in range(TIMES):
        with open(FILE, "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
    for s in STREAMS:
        status(s, "COMPLETE")
"""


def airbyte_file(records: int) -> Path:
    """Realistic Airbyte RECORD lines (made once): gen_tap's records, STREAM states."""
    path = CACHE / f"airbyte-records-{records}.jsonl"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    singer = path.with_suffix(".singer.tmp")
    print(f"generating {records:,} Airbyte records into {path} ...", file=sys.stderr)
    generate(singer, records)
    base = dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC)
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    counts = dict.fromkeys(STREAMS, 0)
    with singer.open(encoding="utf-8") as src, path.with_suffix(".tmp").open("w") as out:
        for line in src:
            message = json.loads(line)
            if message["type"] == "RECORD":
                stream = message["stream"]
                counts[stream] += 1
                at = dt.datetime.fromisoformat(message["time_extracted"].replace("Z", "+00:00"))
                emitted = int((at - base).total_seconds() * 1000) + 1717243200000
                record = {"stream": stream, "data": message["record"], "emitted_at": emitted}
                out.write(dumps({"type": "RECORD", "record": record}) + "\n")
            elif message["type"] == "STATE":
                ((stream, bookmark),) = message["value"]["bookmarks"].items()
                state = {
                    "type": "STREAM",
                    "stream": {
                        "stream_descriptor": {"name": stream},
                        "stream_state": {"updated_at": bookmark["replication_key_value"]},
                    },
                    "sourceStats": {"recordCount": float(counts[stream])},
                }
                counts[stream] = 0
                out.write(dumps({"type": "STATE", "state": state}) + "\n")
    singer.unlink()
    path.with_suffix(".tmp").rename(path)
    return path


@dataclass
class Run:
    wall: float
    cpu: float
    peak_rss_mb: float


def measure(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Run to the end, stdout to /dev/null; CPU of it and all it waited for, its own peak RSS."""
    started = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.DEVNULL, env=env)
        status, usage, peak_mib = wait_with_peak(proc.pid)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{argv[0]} failed with exit code {code}")
    return Run(wall, usage.ru_utime + usage.ru_stime, peak_mib)


def _write(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def select_all(catalog: dict[str, Any]) -> dict[str, Any]:
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = True
    return catalog


def tap_argv(tap: Path, config: dict[str, Any], folder: Path) -> list[str]:
    """``singer-bridge-tap`` reading every stream its discovery offers."""
    config_path = _write(folder / "tap-config.json", config)
    found = subprocess.run(
        [str(tap), "--config", config_path, "--discover"], capture_output=True, check=True
    ).stdout
    catalog = _write(folder / "tap-catalog.json", select_all(json.loads(found)))
    return [str(tap), "--config", config_path, "--catalog", catalog]


def replay(records: int, times: list[int], repeat: int, folder: Path) -> list[str]:
    data = airbyte_file(records)
    rows = []
    for n in times:
        source = folder / f"replay-source-{n}.py"
        source.write_text(
            REPLAY_SOURCE.format(file=str(data), times=n, streams=list(STREAMS), schema=SCHEMA)
        )
        executable = folder / f"replay-source-{n}"
        executable.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{source}" "$@"\n')
        executable.chmod(0o755)
        argv = tap_argv(TAP, {"airbyte_source": {"executable": str(executable)}}, folder)
        if n == times[0]:
            check_output(argv, records * n)
        runs = [measure(argv) for _ in range(repeat)]
        best = min(r.wall for r in runs)
        rows.append(
            f"| {records * n:,} | {best:.2f} | {records * n / best:,.0f} "
            f"| {max(r.peak_rss_mb for r in runs):.1f} |"
        )
    head = (
        f"Replayed Airbyte RECORDs (`bench/airbyte_tap.py`, realistic records of bench/gen_tap.py,"
        f" 3 streams, a STREAM state every 5,000) through `singer-bridge-tap` into /dev/null;"
        f" best wall of {repeat}, the tap's own peak RSS (VmHWM).\n\n"
        "| records | wall s | records/s | peak RSS MB |\n| ---: | ---: | ---: | ---: |"
    )
    return [head, *rows]


def check_output(argv: list[str], records: int) -> None:
    """Every replayed record exactly once, as a Singer RECORD; a STATE at the end."""
    # line by line: the bench process stays small, so the runs it forks measure only themselves
    seen, last = 0, ""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            last = json.loads(line)["type"]
            seen += last == "RECORD"
    if proc.returncode != 0 or seen != records or last != "STATE":
        raise SystemExit(f"singer-bridge-tap output wrong: {seen} of {records} records, {last}")


def faker(count: int, repeat: int, folder: Path) -> list[str]:
    from tests.support.realtaps import ALL_VENVS
    from tests.support.tapvenv import tap_bin

    venv = tap_bin("airbyte-source-faker", ALL_VENVS["airbyte-source-faker"])
    config = {"count": count, "seed": 1, "parallelism": 1, "records_per_slice": 1000}
    source = str(venv / "source-faker")
    through = tap_argv(
        venv / "singer-bridge-tap",
        {"airbyte_source": {"executable": source}, "airbyte_config": config},
        folder,
    )
    discovered = subprocess.run(
        [source, "discover", "--config", _write(folder / "faker.json", config)],
        capture_output=True,
        check=True,
    ).stdout
    streams = next(
        json.loads(x)["catalog"]["streams"] for x in discovered.splitlines() if b"CATALOG" in x
    )
    configured = {
        "streams": [
            {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
            for s in streams
        ]
    }
    alone = [source, "read", "--config", str(folder / "faker.json")]
    alone += ["--catalog", _write(folder / "faker-catalog.json", configured)]
    runs: dict[str, list[Run]] = {"alone": [], "through": []}
    for _ in range(repeat):  # interleaved: the machine's drift falls on both alike
        runs["alone"].append(measure(alone))
        runs["through"].append(measure(through))
    a_wall, b_wall = (statistics.median(r.wall for r in runs[k]) for k in ("alone", "through"))
    a_cpu, b_cpu = (statistics.median(r.cpu for r in runs[k]) for k in ("alone", "through"))
    head = (
        f"airbyte-source-faker 7.2.1 (`count` {count:,}, `parallelism` 1: users, purchases and"
        f" products) alone (`source-faker read` into /dev/null) and through `singer-bridge-tap`"
        f" (into /dev/null), runs interleaved, medians of {repeat}; CPU is user+system of the"
        " process and its children.\n\n"
        "| | wall s | CPU s |\n| --- | ---: | ---: |"
    )
    return [
        head,
        f"| source-faker alone | {a_wall:.2f} | {a_cpu:.2f} |",
        f"| through singer-bridge-tap | {b_wall:.2f} | {b_cpu:.2f} |",
        f"| ratio | {b_wall / a_wall:.2f}x | {b_cpu / a_cpu:.2f}x |",
    ]


def machine() -> str:
    return (
        f"Run {dt.date.today()} on {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the start."
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--scale",
        type=int,
        nargs="+",
        metavar="TIMES",
        help="replay only: the file TIMES over for each value (e.g. 1 10: 1M then 10M records)",
    )
    parser.add_argument("--faker-count", type=int, default=100_000)
    parser.add_argument("--skip-faker", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sb-bench-airbyte-") as tmp:
        folder = Path(tmp)
        parts = [machine(), "\n".join(replay(args.records, args.scale or [1], args.repeat, folder))]
        if not args.scale and not args.skip_faker:
            parts.append("\n".join(faker(args.faker_count, args.repeat, folder)))
    text = "\n\n".join(parts)
    print(text)
    return text


if __name__ == "__main__":
    main()
