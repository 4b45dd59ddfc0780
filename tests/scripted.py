"""Run the bridge over ``taps/tap-scripted`` (a tap that plays a script from its config)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from singer_bridge._cli.main import launch
from tests.airbyte_check import validate_output

REPO = Path(__file__).resolve().parent.parent
SCRIPTED_TAP = [sys.executable, str(REPO / "taps" / "tap-scripted" / "tap_scripted.py")]


@dataclass
class Run:
    code: int
    messages: list[dict[str, Any]]
    stdout: bytes


def singer_entry(
    tap_stream_id: str,
    properties: dict[str, Any],
    *,
    stream: str | None = None,
    keys: list[str] | None = None,
    replication_key: str | None = None,
    md: dict[str, Any] | None = None,
) -> dict[str, Any]:
    root: dict[str, Any] = {"table-key-properties": keys or [], **(md or {})}
    if replication_key:
        root.setdefault("valid-replication-keys", [replication_key])
        root.setdefault("forced-replication-method", "INCREMENTAL")
    return {
        "tap_stream_id": tap_stream_id,
        "stream": stream or tap_stream_id,
        "schema": {"type": "object", "properties": properties},
        "metadata": [{"breadcrumb": [], "metadata": root}],
    }


def configured_catalog(
    discovered: dict[str, Any], incremental: bool = True, only: list[str] | None = None
) -> dict[str, Any]:
    streams = []
    for stream in discovered["streams"]:
        if only is not None and stream["name"] not in only:
            continue
        inc = incremental and "incremental" in stream["supported_sync_modes"]
        streams.append(
            {
                "stream": stream,
                "sync_mode": "incremental" if inc else "full_refresh",
                "destination_sync_mode": "append",
                "cursor_field": stream.get("default_cursor_field") or [],
            }
        )
    return {"streams": streams}


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


def bridge(
    tmp: Path, script: dict[str, Any], *args: str, subprocess_run: bool = False, **files: Any
) -> Run:
    """Run ``singer-bridge --tap tap-scripted ARGS``; ``files`` become --NAME FILE options."""
    options: list[str] = []
    config = write_json(tmp / "config.json", script)
    if args and args[0] != "spec":
        options += ["--config", str(config)]
    for name, doc in files.items():
        path = doc if isinstance(doc, Path) else write_json(tmp / f"{name}.json", doc)
        options += [f"--{name}", str(path)]
    argv = ["--tap", " ".join(SCRIPTED_TAP), *args, *options]
    if subprocess_run:
        proc = subprocess.run(
            [sys.executable, "-m", "singer_bridge", *argv], capture_output=True, timeout=120
        )
        return Run(proc.returncode, validate_output(proc.stdout), proc.stdout)
    buffer = io.BytesIO()
    code = launch(None, argv, buffer)
    return Run(code, validate_output(buffer.getvalue()), buffer.getvalue())


def discover(tmp: Path, script: dict[str, Any]) -> dict[str, Any]:
    run = bridge(tmp, script, "discover")
    assert run.code == 0, run.stdout
    catalogs = [m for m in run.messages if m["type"] == "CATALOG"]
    assert len(catalogs) == 1
    return catalogs[0]["catalog"]


def launch_to_messages(argv: list[str]) -> tuple[int, list[dict[str, Any]]]:
    buffer = io.BytesIO()
    code = launch(None, argv, buffer)
    return code, validate_output(buffer.getvalue())
