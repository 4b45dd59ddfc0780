"""HTTP stream benchmark, two parts, both the example HTTP source's `orders` stream against the
local shop API (tests/support/shop_api.py), as a subprocess reading under the Airbyte protocol:

1. speed: 16 partitions x 21 pages of 2 records, 20 ms added per page by the server; the
   partitions read one at a time vs by 8 workers (issue #3's target: 4x);
2. memory: 1,000,000 records over 100 partitions (pages of 1,000) read by 8 workers, against
   100,000 records over the same partitions: the connector's peak RSS must stay flat (records
   stream through a bounded queue; no partition is held whole).

Peak RSS is the connector process's own, as the kernel reports it for a waited-for child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.rss import PeakSampler, wait_with_peak  # noqa: E402
from tests.support.shop_api import ShopApi  # noqa: E402

EXAMPLE = REPO / "taps" / "source-example-http" / "source_example_http.py"
REGIONS = tuple(f"r{i:02d}" for i in range(16))
ORDERS_PER_REGION = 40  # 20 pages of 2, plus the empty last page
MEMORY_PARTITIONS = tuple(f"m{i:03d}" for i in range(100))
FLAT_RSS_GROWTH = 1.5  # 10x the records may cost at most this factor in peak RSS


def _catalog(config_file: Path) -> dict[str, Any]:
    discovered = subprocess.run(
        [sys.executable, str(EXAMPLE), "discover", "--config", str(config_file)],
        capture_output=True,
        check=True,
    ).stdout
    streams = json.loads(discovered.splitlines()[-1])["catalog"]["streams"]
    orders = next(s for s in streams if s["name"] == "orders")
    return {
        "streams": [
            {"stream": orders, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
        ]
    }


def run(api: ShopApi, workers: int, tmp: Path, **extra: Any) -> tuple[float, int, float]:
    """Seconds, records read, and the connector's peak RSS in MB."""
    config = api.config(max_workers=workers, requests_per_second=1000, **extra)
    (tmp / "config.json").write_text(json.dumps(config))
    (tmp / "catalog.json").write_text(json.dumps(_catalog(tmp / "config.json")))
    argv = [
        sys.executable,
        str(EXAMPLE),
        "read",
        "--config",
        str(tmp / "config.json"),
        "--catalog",
        str(tmp / "catalog.json"),
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    with PeakSampler(proc.pid) as sampler:  # sampled while the output is read
        count = sum(1 for line in proc.stdout if line.startswith(b'{"type":"RECORD"'))
    status, _, _ = wait_with_peak(proc.pid)
    peak_mib = sampler.peak_mib
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"the read exited {proc.returncode}")
    return seconds, count, peak_mib


def speed() -> list[str]:
    api = ShopApi(orders_per_region=ORDERS_PER_REGION, page_delay=0.02, regions=REGIONS).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {w: run(api, w, Path(tmp), regions=list(REGIONS)) for w in (1, 8)}
    finally:
        api.stop()
    expected = len(REGIONS) * ORDERS_PER_REGION
    for workers, (_, count, _) in results.items():
        if count != expected:
            raise SystemExit(f"{workers} workers delivered {count} of {expected} records")
    (seq_s, n, _), (par_s, _, _) = results[1], results[8]
    return [
        f"HTTP stream, {len(REGIONS)} partitions x {ORDERS_PER_REGION // 2 + 1} pages, 20 ms "
        f"added per page by the server, {n} records (`bench/http_concurrency.py`).",
        "",
        "| partitions read by | records/s | wall s | speed-up |",
        "|---|---:|---:|---:|",
        f"| 1 worker (sequential) | {n / seq_s:,.0f} | {seq_s:.2f} | 1.00x |",
        f"| 8 workers | {n / par_s:,.0f} | {par_s:.2f} | {seq_s / par_s:.2f}x |",
    ]


def memory(sizes: tuple[int, ...] = (100_000, 1_000_000)) -> list[str]:
    rows = []
    for total in sizes:
        per_partition = total // len(MEMORY_PARTITIONS)
        api = ShopApi(regions=MEMORY_PARTITIONS, synthetic_orders=per_partition).start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                seconds, count, rss = run(
                    api, 8, Path(tmp), regions=list(MEMORY_PARTITIONS), page_size=1000
                )
        finally:
            api.stop()
        if count != total:
            raise SystemExit(f"the memory run delivered {count} of {total} records")
        rows.append((total, seconds, rss))
    (small, _, small_rss), (big, _, big_rss) = rows[0], rows[-1]
    if big_rss > small_rss * FLAT_RSS_GROWTH:
        raise SystemExit(
            f"peak RSS grew from {small_rss:.0f} MB ({small:,} records) to {big_rss:.0f} MB "
            f"({big:,}): a concurrent read holds records it should stream"
        )
    lines = [
        "",
        f"HTTP stream memory: {len(MEMORY_PARTITIONS)} partitions, pages of 1,000 records, "
        "8 workers; the connector's peak RSS (`bench/http_concurrency.py`).",
        "",
        "| records | records/s | wall s | peak RSS MB |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {n:,} | {n / s:,.0f} | {s:.1f} | {rss:.0f} |" for n, s, rss in rows]
    return lines


def main() -> str:
    return "\n".join(speed() + memory())


if __name__ == "__main__":
    print(main())
