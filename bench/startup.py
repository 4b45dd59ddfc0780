"""Start-up cost of ``singer-bridge spec`` (issue 10): the bridge alone, no tap started.

The bridge config names a spec file, so ``spec`` runs no tap: what is measured is Python
starting, importing the bridge and answering. CPU time (user + sys) of each run, median and
minimum of --runs; CPU rather than wall time, so a busy machine skews it less.

    python bench/startup.py [--root DIR]   # DIR: a checkout to measure (default: this one)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def spec_startup_ms(root: Path, runs: int) -> tuple[float, float]:
    """(median, minimum) CPU milliseconds of ``singer-bridge spec`` from ``root``."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"type": "object", "properties": {}}))
        bridge = Path(tmp) / "bridge.json"
        bridge.write_text(json.dumps({"tap": ["tap-x"], "spec_file": str(spec)}))
        env = {**os.environ, "PYTHONPATH": str(root)}
        argv = [sys.executable, "-m", "singer_bridge", "--bridge-config", str(bridge), "spec"]
        cpu = []
        for _ in range(runs):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(argv, env=env, cwd=root, check=True, stdout=subprocess.DEVNULL)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
            cpu.append(used * 1000)
    return statistics.median(cpu), min(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", type=Path, default=REPO)
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    median, low = spec_startup_ms(args.root, args.runs)
    print(f"spec start-up: median {median:.0f} ms CPU, min {low:.0f} ms ({args.runs} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
