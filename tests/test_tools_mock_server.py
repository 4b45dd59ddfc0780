"""`singer-bridge mock-server`: serve an expectation file, or record one, until stopped."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.shop_api import ShopApi
from tests.test_mockserver import EXPECTATIONS


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "singer_bridge", "mock-server", *args],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    found = re.search(r"http://127\.0\.0\.1:\d+", proc.stderr.readline())
    assert found is not None, "the server did not say where it listens"
    return proc, found.group(0)


def stop(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as a person's Ctrl-C or a fixture would; what it said after starting."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert proc.stderr is not None
    rest = proc.stderr.read()
    proc.stderr.close()
    return rest


def test_command_serves_a_file_until_stopped(tmp_path: Path) -> None:
    (tmp_path / "e.json").write_text(json.dumps(EXPECTATIONS))
    proc, url = start(str(tmp_path / "e.json"))
    try:
        assert httpx.post(f"{url}/v1/search/7", json={"q": "x"}).text == "created"
        assert httpx.get(f"{url}/nowhere").status_code == 404
    finally:
        rest = stop(proc)
    assert "unmatched requests: 1" in rest


def test_command_records_real_answers_for_replay(tmp_path: Path) -> None:
    api = ShopApi().start()
    try:
        proc, url = start(str(tmp_path / "recorded.json"), "--record-from", api.url)
        try:
            token = httpx.post(
                f"{url}/oauth/token",
                data={"client_secret": "shop-secret-9", "refresh_token": "r1"},
            )
            assert token.status_code == 200
        finally:
            rest = stop(proc)
    finally:
        api.stop()
    assert "recorded 1 expectations" in rest
    (recorded,) = json.loads((tmp_path / "recorded.json").read_text())
    assert recorded["httpRequest"]["path"] == "/oauth/token"
    assert recorded["httpResponse"]["body"] == token.json()
    assert "shop-secret-9" not in (tmp_path / "recorded.json").read_text()  # requests stay out


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "singer_bridge", "mock-server", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "nope.json does not exist" in proc.stderr
