"""`make bench`: the RECORD hot path of the bridge against a naive translator and `cat`.

Every contender reads the same synthetic tap output (the translators through a pipe from the
same replaying "tap" process) and writes to /dev/null, so none pays for a consumer. A separate
pass in the same run reads the bridge's whole output and checks it (every record once, state
counts exact, decimals unchanged). Records/s is the best of --repeat runs; peak RSS is the
measured process's own (for the bridge, the maximum over it and its tap, as the kernel reports
for a waited-for process tree).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(REPO))

from bench.gen_tap import STREAMS, generate, singer_catalog  # noqa: E402
from bench.rss import wait_with_peak  # noqa: E402

BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
HTTP_MARKERS = ("<!-- bench:http:begin -->", "<!-- bench:http:end -->")
REALTAP_MARKERS = ("<!-- bench:realtap:begin -->", "<!-- bench:realtap:end -->")
PARALLEL_MARKERS = ("<!-- bench:parallel:begin -->", "<!-- bench:parallel:end -->")
AIRBYTE_TAP_MARKERS = ("<!-- bench:airbyte-tap:begin -->", "<!-- bench:airbyte-tap:end -->")


@dataclass
class Result:
    name: str
    seconds: float
    records: int
    peak_rss_mb: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds


def prepare(records: int, kind: str = "realistic") -> dict[str, Path]:
    OUT.mkdir(exist_ok=True)
    tap_file = OUT / f"tap-{kind}-{records}.jsonl"
    if not tap_file.exists():
        print(f"generating {records:,} {kind} records into {tap_file} ...", file=sys.stderr)
        generate(tap_file.with_suffix(".tmp"), records, kind=kind)
        tap_file.with_suffix(".tmp").rename(tap_file)
    files = {"tap": tap_file}
    for name, doc in {
        "catalog": singer_catalog(),
        "config": {},
        "spec": {"type": "object", "properties": {}},
        "configured": {
            "streams": [
                {
                    "stream": {
                        "name": s,
                        "json_schema": {},
                        "supported_sync_modes": ["full_refresh"],
                    },
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "append",
                }
                for s in STREAMS
            ]
        },
    }.items():
        files[name] = OUT / f"{name}.json"
        files[name].write_text(json.dumps(doc))
    # The replayed file cannot answer --discover or --about: name the catalog, spec and flag.
    files["bridge"] = OUT / "bridge.json"
    files["bridge"].write_text(
        json.dumps(
            {
                "catalog_file": str(files["catalog"]),
                "spec_file": str(files["spec"]),
                "catalog_flag": "--catalog",
            }
        )
    )
    return files


def commands(files: dict[str, Path]) -> dict[str, list[list[str]]]:
    """Each contender as a pipeline of argv lists (the last one is measured)."""
    replay = [sys.executable, str(HERE / "replay_tap.py"), str(files["tap"])]
    bridge = [
        sys.executable,
        "-m",
        "singer_bridge",
        "--tap",
        " ".join(replay),
        "--bridge-config",
        str(files["bridge"]),
        "read",
        "--config",
        str(files["config"]),
        "--catalog",
        str(files["configured"]),
    ]
    return {
        "cat": [["cat", str(files["tap"])]],
        "naive (orjson per line)": [replay, [sys.executable, str(HERE / "naive_translator.py")]],
        "singer-bridge": [bridge],
    }


def run_once(name: str, pipeline: list[list[str]]) -> Result:
    """Time one run of a pipeline whose last stage writes to /dev/null."""
    started = time.perf_counter()
    procs: list[subprocess.Popen[bytes]] = []
    stdin = None
    with open(os.devnull, "wb") as sink:
        for index, argv in enumerate(pipeline):
            last = index == len(pipeline) - 1
            proc = subprocess.Popen(
                argv, stdin=stdin, stdout=sink if last else subprocess.PIPE, cwd=REPO
            )
            if stdin is not None:
                stdin.close()
            stdin = proc.stdout
            procs.append(proc)
        measured = procs[-1]
        status, _, peak_mib = wait_with_peak(measured.pid)
        measured.returncode = os.waitstatus_to_exitcode(status)
        for proc in procs[:-1]:
            proc.wait()
    seconds = time.perf_counter() - started
    if any(p.returncode != 0 for p in procs):
        raise SystemExit(f"{name} failed: exit codes {[p.returncode for p in procs]}")
    return Result(name, seconds, 0, peak_mib)


def check_bridge_output(files: dict[str, Path], records: int) -> None:
    """Correctness in the same run: every record once, a STATE per tap STATE, counts exact."""
    pipeline = commands(files)["singer-bridge"][0]
    proc = subprocess.Popen(pipeline, stdout=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None
    seen, states, counted, exact = 0, 0, 0, True
    for line in proc.stdout:
        if line.startswith(b'{"type":"RECORD"'):
            seen += 1
            if seen == 1:
                exact = re.search(rb'"amount":\d+\.\d\d[,}]', line) is not None
        elif line.startswith(b'{"type":"STATE"'):
            states += 1
            counted += int(json.loads(line)["state"]["sourceStats"]["recordCount"])
    if proc.wait() != 0 or seen != records or states < records // 10_000 or counted != records:
        raise SystemExit(f"bridge output wrong: {seen} records, {states} states, {counted} counted")
    if not exact:
        raise SystemExit("bridge changed the text of a decimal number")


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


KINDS = {
    "realistic": "realistic (1/3 non-ASCII UTF-8, nested, time_extracted per record, "
    "a STATE every 5,000)",
    "ascii": "ASCII (one time_extracted, a STATE every 10,000)",
}


def table(results: dict[str, list[Result]], records: int, repeat: int) -> str:
    rows = [
        f"Run {dt.date.today().isoformat()} on {machine()}: {records:,} RECORDs, 3 streams, "
        f"contenders interleaved, best of {repeat}. Command: `make bench` (`bench/run.py`). "
        "singer-bridge's hot path is pure Python (msgspec).",
        "",
        "| data | contender | records/s | vs naive | vs cat | wall s | peak RSS MB |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for kind, kind_results in results.items():
        naive = next(r for r in kind_results if r.name.startswith("naive"))
        cat = next(r for r in kind_results if r.name == "cat")
        for r in kind_results:
            rows.append(
                f"| {KINDS[kind]} | {r.name} | {r.per_second:,.0f} | "
                f"{r.per_second / naive.per_second:.2f}x | {r.per_second / cat.per_second:.2f}x "
                f"| {r.seconds:.2f} | {r.peak_rss_mb:.0f} |"
            )
    return "\n".join(rows)


def measure(files: dict[str, Path], records: int, repeat: int) -> list[Result]:
    """Each contender ``repeat`` times, interleaved (a, b, c, a, b, c, ...): best of each."""
    pipelines = commands(files)
    runs: dict[str, list[Result]] = {name: [] for name in pipelines}
    for _ in range(repeat):
        for name, pipeline in pipelines.items():
            run = run_once(name, pipeline)
            run.records = records
            runs[name].append(run)
    results = []
    for name, named_runs in runs.items():
        best = min(named_runs, key=lambda r: r.seconds)
        best.peak_rss_mb = max(r.peak_rss_mb for r in named_runs)
        results.append(best)
        print(
            f"{name}: {best.per_second:,.0f} records/s, peak RSS {best.peak_rss_mb:.0f} MB",
            file=sys.stderr,
        )
    return results


def rss_scale(counts: list[int]) -> str:
    """The bridge's peak RSS for growing inputs (realistic data): it must stay flat."""
    rows = [
        "Peak RSS of the bridge and its replaying tap by input size (realistic data, one run "
        "each; `bench/run.py --scale ...`).",
        "",
        "| RECORDs | records/s | peak RSS MB |",
        "|---:|---:|---:|",
    ]
    for count in counts:
        files = prepare(count)
        run = run_once("singer-bridge", commands(files)["singer-bridge"])
        run.records = count
        rows.append(f"| {count:,} | {run.per_second:,.0f} | {run.peak_rss_mb:.0f} |")
        print(rows[-1], file=sys.stderr)
    return "\n".join(rows)


def big_record(megabytes: int = 50) -> str:
    """The bridge's peak RSS for one record of ``megabytes`` MB (the tap is ``cat``)."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"big-{megabytes}.jsonl"
    if not path.exists():
        blob = "x" * (megabytes * 1024 * 1024)
        with path.open("w") as out:
            for body in ({"id": 0, "blob": blob}, {"id": 1}, {"id": 2}):
                record = {"type": "RECORD", "stream": STREAMS[0], "record": body}
                out.write(json.dumps(record) + "\n")
            out.write(json.dumps({"type": "STATE", "value": {"bookmarks": {}}}) + "\n")
    files = prepare(1000)
    bridge = commands(files)["singer-bridge"][0]
    replay = f"{sys.executable} {HERE / 'replay_tap.py'} {path}"
    argv = [*bridge[:3], "--tap", replay, *bridge[5:]]
    run = run_once("singer-bridge", [argv])
    return (
        f"One RECORD of {megabytes} MB (and two small ones) through the bridge, replayed by "
        f"`bench/replay_tap.py`: peak RSS {run.peak_rss_mb:.0f} MB (`bench/run.py --big-record`)."
    )


def write_results(path: Path, text: str, markers: tuple[str, str] = (BEGIN, END)) -> None:
    begin, end = markers
    doc = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin not in doc:
        doc += f"\n{begin}\n{end}\n"
    head, _, rest = doc.partition(begin)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="50,000 records, one run")
    parser.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    parser.add_argument("--skip-http", action="store_true", help="skip the HTTP concurrency run")
    parser.add_argument(
        "--scale",
        type=int,
        nargs="+",
        metavar="RECORDS",
        help="only: the bridge's peak RSS for each of these input sizes (e.g. 1000000 10000000)",
    )
    parser.add_argument(
        "--big-record", action="store_true", help="only: the bridge's peak RSS for a 50 MB record"
    )
    parser.add_argument(
        "--skip-real-taps",
        action="store_true",
        help="skip real taps alone vs behind the bridge on PostgreSQL (bench/realtap.py)",
    )
    parser.add_argument(
        "--skip-airbyte-tap",
        action="store_true",
        help="skip Airbyte sources behind singer-bridge-tap (bench/airbyte_tap.py)",
    )
    parser.add_argument(
        "--skip-parallel",
        action="store_true",
        help="skip the parallel tap processes run (bench/parallel_taps.py)",
    )
    args = parser.parse_args()
    records, repeat = (50_000, 1) if args.quick else (args.records, args.repeat)
    if args.scale:
        print(rss_scale(args.scale))
        return
    if args.big_record:
        print(big_record())
        return
    results = {}
    for kind in KINDS:
        files = prepare(records, kind)
        check_bridge_output(files, records)
        results[kind] = measure(files, records, repeat)
    text = table(results, records, repeat)
    print(text)
    if not args.no_write:
        write_results(REPO / "BENCHMARKS.md", text)
    if not args.skip_http and not args.quick:
        from bench.http_concurrency import main as http_bench

        http_text = http_bench()
        print(http_text)
        if not args.no_write:
            write_results(REPO / "BENCHMARKS.md", http_text, HTTP_MARKERS)
    if not args.skip_real_taps and not args.quick:
        from bench.realtap import main as realtap_bench

        real_text = realtap_bench(["--repeat", "5"])  # the taps' own CPU varies by a third
        if not args.no_write:
            write_results(REPO / "BENCHMARKS.md", real_text, REALTAP_MARKERS)
    if not args.skip_airbyte_tap and not args.quick:
        from bench.airbyte_tap import main as airbyte_tap_bench

        airbyte_text = airbyte_tap_bench(["--records", str(records), "--repeat", str(repeat)])
        if not args.no_write:
            write_results(REPO / "BENCHMARKS.md", airbyte_text, AIRBYTE_TAP_MARKERS)
    if not args.skip_parallel and not args.quick:
        from bench.parallel_taps import main as parallel_bench

        parallel_text = parallel_bench([]) + "\n\n" + parallel_bench(["--db"])
        if not args.no_write:
            write_results(REPO / "BENCHMARKS.md", parallel_text, PARALLEL_MARKERS)


if __name__ == "__main__":
    main()
