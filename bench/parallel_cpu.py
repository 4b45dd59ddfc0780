"""Where the time of ``bench/parallel_taps.py``'s API case goes: CPU by who spends it.

The same tap, API and bridge config as ``parallel_taps.py``, read with each ``--processes``
count in turn (interleaved, ``--repeat`` times). For every run: wall time; CPU of the bridge
itself (``getrusage`` inside it, all its threads), of the tap processes (the bridge's children)
and of this process, which serves the API; the API requests served; when each tap process
started, relative to the bridge's own start. Every run is checked like the benchmark's.

    python bench/parallel_cpu.py [--processes 1,8] [--repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import parallel_taps  # noqa: E402

# Runs the bridge and, at its exit, writes its own CPU and its children's to stderr.
_MEASURED_BRIDGE = """
import atexit, resource, sys
def report():
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys.stderr.write(
        f"CPU bridge={me.ru_utime + me.ru_stime:.2f} taps={kids.ru_utime + kids.ru_stime:.2f}\\n"
    )
atexit.register(report)
sys.argv = ["singer-bridge", *sys.argv[1:]]
from singer_bridge._cli.main import main
main()
"""

# Notes when each tap process starts, then runs the tap.
_STARTS = '#!/bin/sh\necho "$(date +%s.%N)" >> {log}\nexec {tap} "$@"\n'


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processes", default="1,8")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args(argv)
    api = parallel_taps.PagedApi(args.pages, 10, 0.02)
    served = [0]
    handler = api.server.RequestHandlerClass
    answer = handler.do_GET

    def counted(self: object) -> None:
        served[0] += 1
        answer(self)

    handler.do_GET = counted
    tmp = Path(tempfile.mkdtemp(prefix="sb-bench-parallel-cpu-"))
    base = parallel_taps.prepare(api, tmp)
    bridge_config = Path(base[base.index("--bridge-config") + 1])
    doc = json.loads(bridge_config.read_text())
    starts = tmp / "starts.log"
    wrapper = tmp / "tap.sh"
    wrapper.write_text(_STARTS.format(log=starts, tap=doc["tap"][0]))
    wrapper.chmod(0o755)
    bridge_config.write_text(json.dumps({**doc, "tap": [str(wrapper)]}))
    measured = tmp / "bridge.py"
    measured.write_text(_MEASURED_BRIDGE)
    assert base[1:3] == ["-m", "singer_bridge"]
    for _ in range(args.repeat):
        for processes in [int(n) for n in args.processes.split(",")]:
            starts.write_text("")
            served[0] = 0
            argv_ = [base[0], str(measured), *base[3:], "--parallel", str(processes)]
            cpu, began = _cpu(), time.time()
            proc = subprocess.run(argv_, capture_output=True, check=False, cwd=HERE.parent)
            wall, server = time.time() - began, _cpu() - cpu
            if proc.returncode != 0:
                raise SystemExit(f"the read failed: {proc.stdout[-2000:]!r}")
            parallel_taps.check_output(proc.stdout, args.pages * 10)
            report = [x for x in proc.stderr.decode().splitlines() if x.startswith("CPU ")][-1]
            offsets = sorted(float(t) - began for t in starts.read_text().split())
            print(
                f"{processes} process(es): wall {wall:.2f} s, {report[4:]}, api={server:.2f} "
                f"(s of CPU); {served[0]} requests; taps started at "
                f"{offsets[0]:.2f}-{offsets[-1]:.2f} s; load {os.getloadavg()[0]:.2f}",
                flush=True,
            )
    api.server.shutdown()


if __name__ == "__main__":
    main()
