"""A hostile tap (taps/tap-scripted steps) against the bridge: nothing lost, nothing hangs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bench.rss import wait_with_peak
from tests.airbyte_check import by_type, errors, records, stream_statuses, validate_message
from tests.scripted import SCRIPTED_TAP, configured_catalog, discover, singer_entry, write_json

STREAM = singer_entry("s", {"id": {"type": "integer"}, "pad": {"type": "string"}}, keys=["id"])
CATALOG = {"streams": [STREAM]}


def run_bridge(
    tmp: Path,
    steps: list[dict[str, Any]],
    *,
    bridge_config: dict[str, Any] | None = None,
    exit_code: int = 0,
    timeout: float = 120,
) -> tuple[int, list[dict[str, Any]], int]:
    """Run the bridge as a process; return (exit code, messages, the bridge's peak RSS in MiB)."""
    script = {"catalog": CATALOG, "messages": steps, "exit_code": exit_code}
    config = write_json(tmp / "config.json", script)
    catalog = write_json(tmp / "catalog.json", configured_catalog(discover(tmp, script)))
    argv = [sys.executable, "-m", "singer_bridge", "--tap", " ".join(SCRIPTED_TAP)]
    if bridge_config is not None:
        argv += ["--bridge-config", str(write_json(tmp / "bridge.json", bridge_config))]
    argv += ["read", "--config", str(config), "--catalog", str(catalog)]
    out_path = tmp / "out.jsonl"
    env = {**os.environ, "TMPDIR": str(tmp)}
    with out_path.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, env=env)
        try:
            status, _, peak = wait_with_peak(proc.pid, timeout)
        except TimeoutError:
            proc.kill()
            proc.wait()
            raise AssertionError("the bridge hung") from None
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # reaped by wait4 above; tell Popen
    messages = []
    with out_path.open("rb") as handle:
        for line in handle:
            message = json.loads(line)
            if message["type"] != "LOG":  # LOGs can be 100 MB here: validate the rest
                validate_message(line)
            messages.append(
                message
                if message["type"] != "LOG"
                else {
                    "type": "LOG",
                    "log": {
                        "level": message["log"]["level"],
                        "message": message["log"]["message"][:200],
                    },
                }
            )
    leftovers = [p for p in tmp.iterdir() if p.name.startswith("singer-bridge-")]
    assert not leftovers, f"private temp dirs left behind: {leftovers}"
    return code, messages, int(peak)


def ids(messages: list[dict[str, Any]]) -> list[int]:
    return [r["id"] for r in records(messages, "s")]


def test_tap_killed_by_a_signal_after_n_records(tmp_path: Path) -> None:
    steps = [{"records": {"stream": "s", "count": 500}}, {"signal": "KILL"}]
    code, messages, _ = run_bridge(tmp_path, steps)
    assert code == 1
    assert ids(messages) == list(range(500))
    assert stream_statuses(messages, "s")[-1] == "INCOMPLETE"
    assert "killed by signal 9" in errors(messages)[0]["message"]
    assert not by_type(messages, "STATE")


@pytest.mark.parametrize("before", [0, 3], ids=["no-output", "after-output"])
def test_tap_that_hangs_silently_is_stopped_by_the_idle_timeout(
    tmp_path: Path, before: int
) -> None:
    steps = [{"records": {"stream": "s", "count": before}}, {"flush": True}, {"sleep": 300}]
    started = time.monotonic()
    code, messages, _ = run_bridge(tmp_path, steps, bridge_config={"idle_timeout_seconds": 2})
    assert time.monotonic() - started < 60
    assert code == 1 and ids(messages) == list(range(before))
    (error,) = errors(messages)
    assert error["failure_type"] == "transient_error"
    assert "wrote nothing for 2 seconds" in error["message"]


def test_stderr_flood_while_writing_stdout_neither_blocks_nor_grows(tmp_path: Path) -> None:
    steps = [
        {"records": {"stream": "s", "count": 5000}},
        {"stderr_bytes": 100 * 1024 * 1024},
        {"records": {"stream": "s", "count": 5000, "start": 5000}},
    ]
    code, messages, rss = run_bridge(tmp_path, steps)
    assert code == 0
    assert ids(messages) == list(range(10000))
    assert len(by_type(messages, "LOG")) > 100_000
    assert rss < 150, f"peak RSS {rss} MiB"


_STARTED_BY_A_BIG_PROCESS = """
import os, sys
from pathlib import Path
from bench.rss import high_water_mark_kib
from tests.test_faults import run_bridge

ballast = b"x" * (300 << 20)  # written, so resident: this process's peak is over 300 MiB
del ballast
code, _, rss = run_bridge(Path(sys.argv[1]), [{"records": {"stream": "s", "count": 3}}])
print(code, high_water_mark_kib(os.getpid()) // 1024, rss)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="VmHWM is Linux's")
def test_the_peak_rss_measured_is_the_bridges_own_not_that_of_the_process_starting_it(
    tmp_path: Path,
) -> None:
    # wait4's ru_maxrss read the pytest worker's peak (170 MiB late in the suite) as the bridge's
    run = subprocess.run(
        [sys.executable, "-c", _STARTED_BY_A_BIG_PROCESS, str(tmp_path)],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        check=True,
    )
    code, parent, bridge = map(int, run.stdout.split())
    assert code == 0 and parent >= 300
    assert 0 < bridge < 150, f"the bridge's peak RSS {bridge} MiB (its parent's: {parent} MiB)"


def test_a_50_mb_record_is_delivered_whole(tmp_path: Path) -> None:
    size = 50 * 1024 * 1024
    steps = [
        {"big_record": {"stream": "s", "bytes": size}},
        {"records": {"stream": "s", "count": 2, "start": 1}},
    ]
    code, _, rss = run_bridge(tmp_path, steps)
    assert code == 0
    with (tmp_path / "out.jsonl").open("rb") as handle:
        bodies = [json.loads(line) for line in handle if line.startswith(b'{"type":"RECORD"')]
    assert [b["record"]["data"]["id"] for b in bodies] == [0, 1, 2]
    assert len(bodies[0]["record"]["data"]["blob"]) == size
    assert rss < 600, f"peak RSS {rss} MiB"


def test_a_line_longer_than_max_line_bytes_stops_the_read_naming_its_stream(
    tmp_path: Path,
) -> None:
    """A tap that never ends its line would fill the bridge's memory: past ``max_line_bytes``
    the tap is stopped, what came before is delivered, and the error names the stream."""
    endless = '{"type": "RECORD", "stream": "s", "record": {"id": 9, "blob": "' + "z" * (3 << 20)
    steps = [{"records": {"stream": "s", "count": 2}}, {"raw": endless}, {"sleep": 60}]
    started = time.monotonic()
    code, messages, _ = run_bridge(
        tmp_path, steps, bridge_config={"max_line_bytes": 1 << 20}, timeout=30
    )
    assert time.monotonic() - started < 30
    assert code == 1
    assert ids(messages) == [0, 1]
    error = errors(messages)[0]
    assert error["failure_type"] == "system_error"
    assert "stream 's'" in error["message"] and "max_line_bytes" in error["message"]


def test_junk_lines_are_skipped_and_named_without_losing_records(tmp_path: Path) -> None:
    steps = [
        {"records": {"stream": "s", "count": 2}},
        {"raw": "this is not json\n"},
        {"raw_latin1": '{"type": "RECORD", "stream": "s", "record": {"id": "\xff"}}\n'},
        {"raw": '{"no_type": 1}\n'},
        {"records": {"stream": "s", "count": 2, "start": 2}},
    ]
    code, messages, _ = run_bridge(tmp_path, steps)
    assert code == 0 and ids(messages) == [0, 1, "\ufffd", 2, 3]  # invalid UTF-8: repaired
    warnings = [
        m["log"]["message"] for m in by_type(messages, "LOG") if m["log"]["level"] == "WARN"
    ]
    assert any("not valid JSON" in w for w in warnings)
    assert any("not a Singer message" in w for w in warnings)
    assert any("invalid UTF-8" in w and "'s'" in w for w in warnings)


def test_a_record_with_invalid_utf8_is_delivered_repaired_before_the_state_after_it(
    tmp_path: Path,
) -> None:
    # Issue 12: the STATE after such a RECORD must not advance past a record that was dropped.
    bad = '{"type": "RECORD", "stream": "s", "record": {"id": %d, "name": "Andr\xe9"}}\n'
    steps = [
        {"records": {"stream": "s", "count": 2}},
        {"raw_latin1": bad % 2},
        {"raw_latin1": bad % 3},
        {"type": "STATE", "value": {"bookmarks": {"s": {"id": 3}}}},
        {"records": {"stream": "s", "count": 1, "start": 4}},
    ]
    code, messages, _ = run_bridge(tmp_path, steps)
    assert code == 0 and ids(messages) == [0, 1, 2, 3, 4]
    names = [m["record"]["data"].get("name") for m in by_type(messages, "RECORD")]
    assert names == [None, None, "Andr\ufffd", "Andr\ufffd", None]
    states = by_type(messages, "STATE")
    assert states[0]["state"]["stream"]["stream_state"] == {"id": 3}
    assert states[0]["state"]["sourceStats"]["recordCount"] == 4
    assert sum(s["state"]["sourceStats"]["recordCount"] for s in states) == 5
    warnings = [
        m["log"]["message"] for m in by_type(messages, "LOG") if "UTF-8" in m["log"]["message"]
    ]
    assert len(warnings) == 1 and "2 RECORD line(s) of stream 's'" in warnings[0]


def test_records_for_unknown_streams_and_without_schema(tmp_path: Path) -> None:
    steps = [
        {"type": "RECORD", "stream": "s", "record": {"id": 1}},  # no SCHEMA first: still ours
        {"type": "RECORD", "stream": "stranger", "record": {"id": 2}},
        {"type": "RECORD", "stream": "stranger", "record": {"id": 3}},
    ]
    code, messages, _ = run_bridge(tmp_path, steps)
    assert code == 0 and ids(messages) == [1]
    logs = by_type(messages, "LOG")
    warnings = [
        m for m in logs if m["log"]["level"] == "WARN" and "'stranger'" in m["log"]["message"]
    ]
    assert len(warnings) == 1  # once per stream, not per record


@pytest.mark.parametrize(
    "bad_state",
    [
        {"raw": '{"type": "STATE", "value": 5}\n'},
        {"raw": '{"type": "STATE", "value": {"bookmarks": 7}}\n'},
        {"raw": '{"type": "STATE"}\n'},
    ],
)
def test_malformed_states_are_skipped_not_fatal(tmp_path: Path, bad_state: dict[str, Any]) -> None:
    steps = [
        {"type": "STATE", "value": {"bookmarks": {"s": {"id": 0}}}},  # before any record
        {"records": {"stream": "s", "count": 3}},
        bad_state,
        {"type": "STATE", "value": {"bookmarks": {"s": {"id": 2}}}},
    ]
    code, messages, _ = run_bridge(tmp_path, steps)
    assert code == 0 and ids(messages) == [0, 1, 2]
    states = [m["state"] for m in by_type(messages, "STATE")]
    assert states[-1]["stream"]["stream_state"] == {"id": 2}
    assert sum(s["sourceStats"]["recordCount"] for s in states) == 3


def test_a_10_mb_state_passes_through(tmp_path: Path) -> None:
    steps = [
        {"records": {"stream": "s", "count": 1}},
        {"big_state": 10 * 1024 * 1024, "stream": "s"},
    ]
    code, messages, _ = run_bridge(tmp_path, steps)
    assert code == 0
    (state,) = by_type(messages, "STATE")
    assert len(state["state"]["stream"]["stream_state"]["blob"]) == 10 * 1024 * 1024


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_bridge_stops_the_whole_tap_group(
    tmp_path: Path, sig: signal.Signals
) -> None:
    pidfile = tmp_path / "child.pid"
    steps = [
        {"records": {"stream": "s", "count": 10}},
        {"spawn_child": str(pidfile)},
        {"flush": True},
        {"sleep": 300},
    ]
    script = {"catalog": CATALOG, "messages": steps}
    config = write_json(tmp_path / "config.json", script)
    catalog = write_json(tmp_path / "catalog.json", configured_catalog(discover(tmp_path, script)))
    argv = [
        sys.executable,
        "-m",
        "singer_bridge",
        "--tap",
        " ".join(SCRIPTED_TAP),
        "read",
        "--config",
        str(config),
        "--catalog",
        str(catalog),
    ]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pidfile.read_text())
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=30)
    assert time.monotonic() - started < 15
    assert proc.returncode == 1
    messages = [validate_message(line) for line in out.splitlines()]
    assert ids(messages) == list(range(10))
    assert stream_statuses(messages, "s")[-1] == "INCOMPLETE"
    assert sig.name in errors(messages)[0]["message"]
    assert not _alive(child), "the tap's child outlived the bridge"


def test_the_tap_dies_with_a_bridge_killed_by_sigkill(tmp_path: Path) -> None:
    """SIGKILL leaves the bridge no ``finally`` to stop its tap: the kernel must (Linux)."""
    started = tmp_path / "inputs.json"  # the tap writes it when its sync starts
    steps = [{"records": {"stream": "s", "count": 1}}, {"flush": True}, {"sleep": 300}]
    script = {"catalog": CATALOG, "messages": steps, "record_inputs": str(started)}
    config = write_json(tmp_path / "config.json", script)
    catalog = write_json(tmp_path / "catalog.json", configured_catalog(discover(tmp_path, script)))
    argv = [sys.executable, "-m", "singer_bridge", "--tap", " ".join(SCRIPTED_TAP), "read"]
    argv += ["--config", str(config), "--catalog", str(catalog)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tap = None
    try:
        deadline = time.monotonic() + 30
        while not (started.exists() and _children(proc.pid)):
            assert time.monotonic() < deadline, "the tap did not start"
            time.sleep(0.05)
        [tap] = _children(proc.pid)
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5
        while _alive(tap) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(tap), "the tap outlived the bridge"
    finally:
        if tap is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(tap, signal.SIGKILL)  # the tap leads its own process group


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (dead, waiting for init to reap it) is not alive."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.1)
    return True


def test_discovery_timeout_is_configurable_and_reported(tmp_path: Path) -> None:
    from tests.scripted import launch_to_messages

    write_json(tmp_path / "config.json", {"catalog": CATALOG, "discover_sleep": 300})
    write_json(tmp_path / "bridge.json", {"discover_timeout_seconds": 1})
    argv = ["--tap", " ".join(SCRIPTED_TAP), "--bridge-config", str(tmp_path / "bridge.json")]
    started = time.monotonic()
    code, messages = launch_to_messages(
        [*argv, "discover", "--config", str(tmp_path / "config.json")]
    )
    assert time.monotonic() - started < 30
    (error,) = errors(messages)
    assert code == 1 and error["failure_type"] == "transient_error"
    assert "did not finish within 1 seconds" in error["message"]
    code, messages = launch_to_messages([*argv, "check", "--config", str(tmp_path / "config.json")])
    status = by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert code == 0 and status["status"] == "FAILED" and "timed out" in status["message"]
