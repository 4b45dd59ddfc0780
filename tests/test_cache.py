"""What a tap said, kept between commands: a read after a discover starts the tap once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

TAP = r"""
import json, sys
from pathlib import Path
Path(sys.argv[0]).with_name("starts.log").open("a").write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
if "--about" in args:
    print(json.dumps({"name": "tap-logged", "capabilities": ["catalog", "discover", "state"],
        "settings": {"type": "object", "properties": {"password": {"type": "string",
        "secret": True}}}}))
    sys.exit(0)
config = json.loads(Path(args[args.index("--config") + 1]).read_text())
schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
names = config.get("streams", ["users"])
if "--discover" in args:
    print(json.dumps({"streams": [{"tap_stream_id": n, "stream": n, "schema": schema,
        "metadata": [{"breadcrumb": [], "metadata": {"table-key-properties": ["id"]}}]}
        for n in names]}))
    sys.exit(0)
catalog = json.loads(Path(args[args.index("--catalog") + 1]).read_text())
for entry in catalog["streams"]:
    n = entry["tap_stream_id"]
    print(json.dumps({"type": "SCHEMA", "stream": n, "schema": schema, "key_properties": ["id"]}))
    for i in range(3):
        print(json.dumps({"type": "RECORD", "stream": n, "record": {"id": i}}))
    print(json.dumps({"type": "STATE", "value": {"bookmarks": {n: {"id": 2}}}}))
"""


class Tap:
    def __init__(self, tmp: Path, cache: Path | str | None) -> None:
        self.dir = tmp / "tap"
        self.dir.mkdir(exist_ok=True)
        self.script = self.dir / "tap_logged.py"
        self.script.write_text(TAP)
        self.log = self.dir / "starts.log"
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SINGER_BRIDGE_")}
        if cache is None:
            self.env["SINGER_BRIDGE_CACHE"] = "off"
        else:
            self.env["SINGER_BRIDGE_CACHE_DIR"] = str(cache)

    def config(self, doc: dict[str, Any]) -> Path:
        path = self.tmp / "config.json"
        path.write_text(json.dumps(doc))
        return path

    def run(self, *args: str) -> list[dict[str, Any]]:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "singer_bridge",
                "--tap",
                f"{sys.executable} {self.script}",
                *args,
            ],
            capture_output=True,
            env=self.env,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode()
        return [json.loads(line) for line in proc.stdout.splitlines()]

    def starts(self) -> list[str]:
        """What each start of the tap was for, in order; the log is emptied."""
        lines = self.log.read_text().splitlines() if self.log.exists() else []
        self.log.unlink(missing_ok=True)
        kinds = []
        for line in lines:
            args = json.loads(line)
            kinds.append(
                "about"
                if "--about" in args
                else "help"
                if "--help" in args
                else "discover"
                if "--discover" in args
                else "read"
            )
        return kinds

    def discover_then_read(self, config: Path) -> list[dict[str, Any]]:
        catalog = next(
            m for m in self.run("discover", "--config", str(config)) if m["type"] == "CATALOG"
        )
        configured = {
            "streams": [
                {"stream": s, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                for s in catalog["catalog"]["streams"]
            ]
        }
        path = self.tmp / "configured.json"
        path.write_text(json.dumps(configured))
        return self.run("read", "--config", str(config), "--catalog", str(path))


def _records(messages: list[dict[str, Any]]) -> int:
    return sum(1 for m in messages if m["type"] == "RECORD")


def test_a_read_after_a_discover_starts_the_tap_once(tmp_path: Path) -> None:
    tap = Tap(tmp_path, tmp_path / "cache")
    config = tap.config({"password": "hunter2-secret"})
    out = tap.discover_then_read(config)
    assert _records(out) == 3
    assert tap.starts() == ["about", "discover", "read"]
    logs = [m["log"]["message"] for m in out if m["type"] == "LOG"]
    assert any("using the catalog the last discovery" in text for text in logs)
    out = tap.discover_then_read(config)  # --about is kept too; discover always asks the tap
    assert _records(out) == 3
    assert tap.starts() == ["discover", "read"]


def test_without_the_cache_every_command_asks_the_tap(tmp_path: Path) -> None:
    tap = Tap(tmp_path, None)
    assert _records(tap.discover_then_read(tap.config({}))) == 3
    assert tap.starts() == ["about", "discover", "about", "discover", "read"]


def test_another_config_or_a_changed_tap_is_asked_again(tmp_path: Path) -> None:
    tap = Tap(tmp_path, tmp_path / "cache")
    tap.discover_then_read(tap.config({"streams": ["users"]}))
    tap.starts()
    out = tap.discover_then_read(tap.config({"streams": ["users", "orders"]}))
    assert _records(out) == 6  # the new config's catalog, not the one kept for the old
    assert tap.starts() == ["discover", "read"]
    configured = tmp_path / "configured.json"
    tap.script.write_text(TAP + "\n# a new version of the tap\n")
    tap.run("read", "--config", str(tmp_path / "config.json"), "--catalog", str(configured))
    assert tap.starts() == ["about", "discover", "read"]


def test_check_always_discovers(tmp_path: Path) -> None:
    tap = Tap(tmp_path, tmp_path / "cache")
    config = tap.config({})
    tap.discover_then_read(config)
    tap.starts()
    status = tap.run("check", "--config", str(config))[-1]
    assert status["connectionStatus"]["status"] == "SUCCEEDED"
    assert tap.starts() == ["discover", "read"]  # discovery, then the first record


def test_the_cache_is_private_and_holds_no_secret(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    tap = Tap(tmp_path, cache)
    tap.discover_then_read(tap.config({"password": "hunter2-secret"}))
    files = list(cache.iterdir())
    assert {f.name.split("-")[0] for f in files} == {"key", "about", "catalog"}
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert b"hunter2" not in path.read_bytes()


@pytest.mark.parametrize("where", ["a-file", "unwritable"])
def test_a_cache_that_cannot_be_used_is_skipped(tmp_path: Path, where: str) -> None:
    if where == "a-file":
        cache = tmp_path / "cache"
        cache.write_text("not a folder")
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes anywhere")
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        cache = locked / "cache"
    tap = Tap(tmp_path, cache)
    assert _records(tap.discover_then_read(tap.config({}))) == 3
    assert tap.starts() == ["about", "discover", "about", "discover", "read"]


def test_a_tap_named_by_its_bare_command_is_known_by_the_file_that_runs(tmp_path: Path) -> None:
    """``--tap tap-x`` runs whatever ``tap-x`` is on PATH: another one there (a reinstall into
    another venv, say) is asked again, never answered from what the old one said."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SINGER_BRIDGE_")}
    env["SINGER_BRIDGE_CACHE_DIR"] = str(tmp_path / "cache")
    settings = []
    for version in ("v1", "v2"):
        folder = tmp_path / version
        folder.mkdir()
        about = {"name": "tap-x", "settings": {"type": "object", "properties": {version: {}}}}
        tap = folder / "tap-x"
        tap.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(about))})\n")
        tap.chmod(0o755)
        proc = subprocess.run(
            [sys.executable, "-m", "singer_bridge", "--tap", "tap-x", "spec"],
            capture_output=True,
            env={**env, "PATH": f"{folder}{os.pathsep}{env.get('PATH', '')}"},
            timeout=120,
            check=True,
        )
        spec = next(json.loads(line) for line in proc.stdout.splitlines() if b'"SPEC"' in line)
        settings.append(list(spec["spec"]["connectionSpecification"]["properties"]))
    assert settings == [["v1"], ["v2"]]
