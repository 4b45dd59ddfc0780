"""``check`` proves the config reaches the data: discovery, then the first record of a stream;
a FAILED message leads with the cause, secrets masked everywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from singer_bridge._tap.discovery import failure_cause
from tests.scripted import bridge, singer_entry

PROPS = {"id": {"type": "integer"}}
CATALOG = {"streams": [singer_entry("items", PROPS), singer_entry("other", PROPS)]}
WRONG_URL = [
    "Traceback (most recent call last):",
    '  File "/venv/lib/python3.11/site-packages/requests/adapters.py", line 519, in send',
    "requests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): "
    "Max retries exceeded with url: /v1/items",
]


def _check(tmp: Path, script: dict[str, Any], bridge_config: dict[str, Any] | None = None) -> Any:
    files: dict[str, Any] = {}
    if bridge_config is not None:
        path = tmp / "bridge.json"
        path.write_text(json.dumps(bridge_config))
        files["bridge-config"] = path
    run = bridge(tmp, {"catalog": CATALOG, **script}, "check", **files)
    assert run.code == 0
    statuses = [m["connectionStatus"] for m in run.messages if m["type"] == "CONNECTION_STATUS"]
    assert len(statuses) == 1
    return statuses[0], run


def test_a_tap_that_discovers_without_connecting_fails_check_on_its_first_read(
    tmp_path: Path,
) -> None:
    status, _ = _check(tmp_path, {"read_stderr": WRONG_URL, "exit_code": 1})
    assert status["status"] == "FAILED"
    assert status["message"].startswith("requests.exceptions.ConnectionError: ")
    assert "during a check read of 'items'" in status["message"]
    assert "Traceback" not in status["message"]


def test_check_discover_keeps_the_cheaper_check(tmp_path: Path) -> None:
    status, _ = _check(tmp_path, {"read_stderr": WRONG_URL, "exit_code": 1}, {"check": "discover"})
    assert status["status"] == "SUCCEEDED"


def test_check_stops_the_tap_at_its_first_record(tmp_path: Path) -> None:
    messages = [
        {"type": "RECORD", "stream": "items", "record": {"id": 1}},
        {"flush": True},
        {"sleep": 60},  # a big table: check must not read it all
    ]
    status, _ = _check(tmp_path, {"messages": messages}, {"check_timeout_seconds": 50})
    assert status["status"] == "SUCCEEDED"


def test_check_reads_the_stream_the_bridge_config_names(tmp_path: Path) -> None:
    script = {"messages": [], "record_inputs": str(tmp_path / "inputs.json")}
    status, _ = _check(tmp_path, script, {"check_stream": "other"})
    assert status["status"] == "SUCCEEDED"
    sent = json.loads((tmp_path / "inputs.json").read_text())["catalog"]["streams"]
    assert [s["tap_stream_id"] for s in sent if s["selected"]] == ["other"]


def test_an_empty_source_passes_check_with_a_warning(tmp_path: Path) -> None:
    status, run = _check(tmp_path, {"messages": []})
    assert status["status"] == "SUCCEEDED"
    assert any("has no records" in m["log"]["message"] for m in run.messages if m["type"] == "LOG")


def test_a_check_read_that_finds_nothing_in_time_fails_naming_the_timeout(tmp_path: Path) -> None:
    status, _ = _check(tmp_path, {"messages": [{"sleep": 60}]}, {"check_timeout_seconds": 1})
    assert status["status"] == "FAILED"
    assert "within 1 seconds" in status["message"]


@pytest.mark.parametrize(
    ("lines", "cause"),
    [
        (
            [
                "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection refused",
                "(Background on this error at: https://sqlalche.me/e/20/e3q8)",
            ],
            "sqlalchemy.exc.OperationalError: (psycopg2.OperationalError) connection refused",
        ),
        (WRONG_URL, WRONG_URL[-1]),
        (["INFO starting", "CRITICAL password authentication failed"], "CRITICAL password"),
        (["INFO only chatter"], "INFO only chatter"),
    ],
)
def test_the_failure_cause_is_the_exception_line(lines: list[str], cause: str) -> None:
    assert failure_cause(lines).startswith(cause)


def test_secrets_never_reach_the_airbyte_log_in_any_form(tmp_path: Path) -> None:
    secret = "p@ss/w0rd+1"
    config_echo = json.dumps({"password": secret, "batch_size": 1000})
    messages = [
        {"raw": f"config: {config_echo}\n"},  # a tap printing its config to stdout
        {"type": "RECORD", "stream": "items", "record": {"id": 1000}},
    ]
    script = {
        "password": secret,
        "batch_size": 1000,
        "read_stderr": ["INFO GET https://api:p%40ss%2Fw0rd%2B1@example.test/items?batch=1000"],
        "messages": messages,
    }
    catalog = {"streams": [{"stream": {"name": "items"}, "sync_mode": "full_refresh"}]}
    run = bridge(tmp_path, {"catalog": CATALOG, **script}, "read", catalog=catalog)
    assert run.code == 0
    logs = "\n".join(m["log"]["message"] for m in run.messages if m["type"] == "LOG")
    assert "p@ss" not in logs and "p%40ss" not in logs
    assert "1000" in logs  # a numeric setting is not a secret
    assert "****" in logs
