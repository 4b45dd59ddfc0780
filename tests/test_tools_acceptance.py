"""`singer-bridge test`: acceptance checks that pass good connectors and name what breaks."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from singer_bridge._cli.tools.acceptance import Acceptance, check_spec
from tests.scripted import SCRIPTED_TAP, singer_entry
from tests.support.shop_api import ShopApi

REPO = Path(__file__).resolve().parent.parent


def accept(
    connector: str, config: dict, tmp: Path, bad: dict | None = None
) -> subprocess.CompletedProcess[str]:
    (tmp / "config.json").write_text(json.dumps(config))
    argv = [
        sys.executable,
        "-m",
        "singer_bridge",
        "test",
        "--connector",
        connector,
        "--config",
        str(tmp / "config.json"),
    ]
    if bad is not None:
        (tmp / "bad.json").write_text(json.dumps(bad))
        argv += ["--bad-config", str(tmp / "bad.json")]
    argv += ["--report", str(tmp / "report.json")]
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


def bridged(tap: list[str]) -> str:
    return shlex.join([sys.executable, "-m", "singer_bridge", "--tap", shlex.join(tap)])


def test_a_bridged_singer_tap_passes(tmp_path: Path) -> None:
    entry = singer_entry(
        "orders",
        {"id": {"type": "integer"}, "at": {"type": "string"}},
        keys=["id"],
        replication_key="at",
    )
    messages = [
        {"type": "RECORD", "stream": "orders", "record": {"id": i, "at": f"2024-0{i}"}}
        for i in (1, 2)
    ]
    messages.append({"type": "STATE", "value": {"bookmarks": {"orders": {"at": "2024-02"}}}})
    good = {"catalog": {"streams": [entry]}, "messages": messages}
    proc = accept(bridged(SCRIPTED_TAP), good, tmp_path, bad={**good, "discover_exit_code": 3})
    assert proc.returncode == 0, proc.stderr
    assert "FAIL" not in proc.stderr and proc.stdout == ""  # the report is for people: stderr
    assert "acceptance: 6 of 6 checks passed" in proc.stderr


def test_the_native_http_example_passes(tmp_path: Path) -> None:
    api = ShopApi().start()
    try:
        example = REPO / "taps" / "source-example-http" / "source_example_http.py"
        proc = accept(
            shlex.join([sys.executable, str(example)]),
            api.config(),
            tmp_path,
            bad={**api.config(), "client_secret": "nope-1"},
        )
    finally:
        api.stop()
    assert proc.returncode == 0, proc.stderr
    assert "acceptance: 6 of 6 checks passed" in proc.stderr


def test_a_broken_connector_fails_with_the_reason(tmp_path: Path) -> None:
    broken = REPO / "fixtures" / "connectors" / "broken_source.py"
    proc = accept(shlex.join([sys.executable, str(broken)]), {}, tmp_path)
    assert proc.returncode == 1
    assert "FAIL  read full refresh" in proc.stderr
    assert "a 's' record breaks its schema: 'one' is not of type 'integer'" in proc.stderr
    results = json.loads((tmp_path / "report.json").read_text())
    assert results["passed"] is False
    failed = [c["check"] for c in results["checks"] if not c["passed"]]
    assert failed == ["read full refresh"]


@pytest.mark.parametrize(
    ("flaw", "finding"),
    [
        ("miscount", "a STATE of 's' counts 5 records (sourceStats.recordCount), but 1 were sent"),
        ("error-exit-0", "exit code 0 after an error trace"),
    ],
)
def test_wrong_state_counts_and_errors_with_exit_0_fail(
    tmp_path: Path, flaw: str, finding: str
) -> None:
    flawed = REPO / "fixtures" / "connectors" / "flawed_source.py"
    proc = accept(shlex.join([sys.executable, str(flawed), flaw]), {}, tmp_path)
    assert proc.returncode == 1
    assert "FAIL  read full refresh" in proc.stderr and finding in proc.stderr


def test_a_timeout_kills_the_connectors_whole_process_group(tmp_path: Path) -> None:
    """A connector that hangs (here a shell whose child holds its stdout open) is killed with
    every process it started, and the check fails at the timeout, not when they end."""
    pidfile = tmp_path / "child.pid"
    hang = f"sleep 60 & echo $! > {shlex.quote(str(pidfile))}; wait"
    (tmp_path / "config.json").write_text("{}")
    t = Acceptance(["sh", "-c", hang], tmp_path / "config.json", tmp_path, timeout=2)
    started = time.monotonic()
    try:
        t.check("spec", check_spec)
        assert time.monotonic() - started < 15
        assert [(name, ok) for name, ok, _ in t.results] == [("spec", False)]
        assert "TimeoutExpired" in t.results[0][2]
        child = int(pidfile.read_text())
        deadline = time.monotonic() + 5
        while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # killed; gone once reaped (or a zombie of init's: see below)
        stat = Path(f"/proc/{child}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    finally:
        if pidfile.exists() and pidfile.read_text().strip():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pidfile.read_text()), signal.SIGKILL)
