"""PyAirbyte (a real Airbyte client) runs a Singer tap wrapped by the bridge, twice.

PyAirbyte lives in its own venv (tests/support/pyairbyte_driver.py runs there) and starts the
connector as ``[executable, *args]``: the executable is a two-line script that sets
SINGER_BRIDGE_TAP and execs the bridge, as a user would write it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin

pytestmark = [pytest.mark.realtap, pytest.mark.xdist_group("pyairbyte")]
DRIVER = Path(__file__).parent / "support" / "pyairbyte_driver.py"


def connector_script(tmp: Path, tap: Path) -> Path:
    script = tmp / "source-bridged"
    script.write_text(
        f"#!/bin/sh\nSINGER_BRIDGE_TAP='{tap}' exec '{sys.executable}' -m singer_bridge \"$@\"\n"
    )
    script.chmod(0o755)
    return script


def run_pyairbyte(
    tmp: Path, config: dict[str, Any], reads: int = 2, executable: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """PyAirbyte (its own venv) reads ``executable`` (default: tap-demo, bridged) N times."""
    python = tap_bin("pyairbyte", ALL_VENVS["pyairbyte"]) / "python"
    if executable is None:
        executable = connector_script(tmp, tap_bin("tap-demo", ALL_VENVS["tap-demo"]) / "tap-demo")
    args = {
        "executable": str(executable),
        "config": config,
        "cache_dir": str(tmp / "cache"),
        "reads": reads,
    }
    env = {**os.environ, "AIRBYTE_OFFLINE_MODE": "1", "DO_NOT_TRACK": "1", "HOME": str(tmp)}
    return subprocess.run(
        [str(python), str(DRIVER), json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=env,
        timeout=600,
        check=False,
    )


def test_pyairbyte_reads_into_duckdb_and_resumes_from_its_stored_state(tmp_path: Path) -> None:
    proc = run_pyairbyte(tmp_path, {"api_key": "pyairbyte-key-77", "customer_count": 8})
    assert proc.returncode == 0, proc.stderr[-4000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    first, second = out["reads"]
    assert first["records"] == {"customers": 8, "orders": 16, "events": 4}
    assert first["processed"] == 28
    # Incremental streams resume at their bookmark (the boundary row is re-read, as the tap
    # compares >=); the full-refresh stream is read again in full.
    assert second["records"] == {"customers": 1, "orders": 1, "events": 4}
    assert out["states"]["customers"]["replication_key_value"].startswith("2024-01-01T08:00:00")
    assert set(out["states"]) == {"customers", "orders", "events"}
    assert "pyairbyte-key-77" not in proc.stdout + proc.stderr


def test_pyairbyte_raises_when_the_wrapped_tap_fails(tmp_path: Path) -> None:
    proc = run_pyairbyte(tmp_path, {"customer_count": "lots"}, reads=1)
    assert proc.returncode != 0
    assert "api_key" in proc.stderr or "customer_count" in proc.stderr


def test_pyairbyte_reads_the_native_http_example_and_resumes(tmp_path: Path) -> None:
    from tests.support.shop_api import ShopApi

    example = Path(__file__).resolve().parent.parent / "taps" / "source-example-http"
    script = tmp_path / "source-example-http"
    script.write_text(
        f"#!/bin/sh\nexec '{sys.executable}' '{example / 'source_example_http.py'}' \"$@\"\n"
    )
    script.chmod(0o755)
    api = ShopApi().start()
    try:
        proc = run_pyairbyte(tmp_path, api.config(), executable=script)
    finally:
        api.stop()
    assert proc.returncode == 0, proc.stderr[-4000:]
    first, second = json.loads(proc.stdout.strip().splitlines()[-1])["reads"]
    assert first["records"] == {"customers": 5, "orders": 9}
    assert second["records"] == {"customers": 1, "orders": 9}  # customers resume at the bookmark
