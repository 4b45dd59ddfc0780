"""HTTP stream benchmark: the example HTTP source's `orders` stream against a local API that
adds 20 ms per page, partitions read one at a time vs by 8 workers (issue #3's target: 4x)."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.shop_api import ShopApi  # noqa: E402

EXAMPLE = REPO / "taps" / "source-example-http" / "source_example_http.py"
REGIONS = tuple(f"r{i:02d}" for i in range(16))
ORDERS_PER_REGION = 40  # 20 pages of 2, plus the empty last page


def run(api: ShopApi, workers: int, tmp: Path) -> tuple[float, int]:
    config = api.config(regions=list(REGIONS), max_workers=workers, requests_per_second=1000)
    (tmp / "config.json").write_text(json.dumps(config))
    base = [sys.executable, str(EXAMPLE)]
    discovered = subprocess.run(
        [*base, "discover", "--config", str(tmp / "config.json")], capture_output=True, check=True
    ).stdout
    streams = json.loads(discovered.splitlines()[-1])["catalog"]["streams"]
    orders = next(s for s in streams if s["name"] == "orders")
    catalog = {
        "streams": [
            {"stream": orders, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
        ]
    }
    (tmp / "catalog.json").write_text(json.dumps(catalog))
    started = time.perf_counter()
    out = subprocess.run(
        [
            *base,
            "read",
            "--config",
            str(tmp / "config.json"),
            "--catalog",
            str(tmp / "catalog.json"),
        ],
        capture_output=True,
        check=True,
    ).stdout
    seconds = time.perf_counter() - started
    return seconds, out.count(b'"type":"RECORD"')


def main() -> str:
    api = ShopApi(orders_per_region=ORDERS_PER_REGION, page_delay=0.02, regions=REGIONS).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {w: run(api, w, Path(tmp)) for w in (1, 8)}
    finally:
        api.stop()
    expected = len(REGIONS) * ORDERS_PER_REGION
    for workers, (_, count) in results.items():
        if count != expected:
            raise SystemExit(f"{workers} workers delivered {count} of {expected} records")
    (seq_s, n), (par_s, _) = results[1], results[8]
    rows = [
        f"HTTP stream, {len(REGIONS)} partitions x {ORDERS_PER_REGION // 2 + 1} pages, 20 ms added "
        f"per page by the server, {n} records (`bench/http_concurrency.py`).",
        "",
        "| partitions read by | records/s | wall s | speed-up |",
        "|---|---:|---:|---:|",
        f"| 1 worker (sequential) | {n / seq_s:,.0f} | {seq_s:.2f} | 1.00x |",
        f"| 8 workers | {n / par_s:,.0f} | {par_s:.2f} | {seq_s / par_s:.2f}x |",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    print(main())
