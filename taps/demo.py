#!/usr/bin/env python3
"""`make demo`: run the bundled offline singer-sdk tap (taps/tap-demo) through the bridge.

Installs tap-demo into its own venv (cached), then runs spec, check, discover, a first read
and a second read resumed from the first read's state, printing what came out of each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
try:  # an installed singer-bridge (a wheel, say) is used as it is
    import singer_bridge  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO))

from singer_bridge._tap.venvs import ensure_venv  # noqa: E402

CONFIG = {"api_key": "demo-secret-key", "customer_count": 20, "start_date": "2024-01-01T00:00:00Z"}


def bridge(tap: Path, *args: str) -> list[dict]:
    argv = [sys.executable, "-m", "singer_bridge", "--tap", str(tap), *args]
    # not cwd=REPO: `python -m` would import the source tree instead of the installed package
    proc = subprocess.run(
        argv, capture_output=True, text=True, cwd=tempfile.gettempdir(), check=False
    )
    messages = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"singer-bridge {args[0]} failed with exit code {proc.returncode}")
    return messages


def summary(messages: list[dict]) -> str:
    kinds = Counter(
        m["type"] if m["type"] != "TRACE" else f"TRACE {m['trace']['type']}" for m in messages
    )
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))


def main() -> None:
    print("installing taps/tap-demo into its own venv (cached after the first run) ...")
    bin_dir = ensure_venv("tap-demo", [str(REPO / "taps" / "tap-demo")])
    tap = bin_dir / "tap-demo"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = work / "config.json"
        config.write_text(json.dumps(CONFIG))

        spec = bridge(tap, "spec")[-1]["spec"]["connectionSpecification"]
        secrets = [k for k, v in spec.get("properties", {}).items() if v.get("airbyte_secret")]
        print(
            f"\n$ singer-bridge --tap tap-demo spec\n  settings: {sorted(spec['properties'])}"
            f"; secret: {secrets}"
        )

        status = bridge(tap, "check", "--config", str(config))[-1]["connectionStatus"]
        print(f"\n$ singer-bridge --tap tap-demo check --config config.json\n  {status['status']}")

        catalog = bridge(tap, "discover", "--config", str(config))[-1]["catalog"]
        print("\n$ singer-bridge --tap tap-demo discover --config config.json")
        for s in catalog["streams"]:
            print(
                f"  {s['name']:<10} modes={s['supported_sync_modes']} "
                f"pk={s['source_defined_primary_key']} cursor={s['default_cursor_field']}"
            )

        configured = {
            "streams": [
                {
                    "stream": s,
                    "destination_sync_mode": "append",
                    "sync_mode": "incremental"
                    if "incremental" in s["supported_sync_modes"]
                    else "full_refresh",
                    "cursor_field": s["default_cursor_field"],
                }
                for s in catalog["streams"]
            ]
        }
        (work / "catalog.json").write_text(json.dumps(configured))
        first = bridge(
            tap, "read", "--config", str(config), "--catalog", str(work / "catalog.json")
        )
        print("\n$ singer-bridge --tap tap-demo read --config config.json --catalog catalog.json")
        print(f"  {summary(first)}")
        record = next(m for m in first if m["type"] == "RECORD")
        print(f"  first RECORD: {json.dumps(record)[:300]}")
        states = {}
        for m in first:
            if m["type"] == "STATE":
                d = m["state"]["stream"]["stream_descriptor"]
                states[d["name"]] = {"type": "STREAM", "stream": m["state"]["stream"]}
                last_state = m
        print(f"  last STATE: {json.dumps(last_state)[:300]}")

        (work / "state.json").write_text(json.dumps(list(states.values())))
        second = bridge(
            tap,
            "read",
            "--config",
            str(config),
            "--catalog",
            str(work / "catalog.json"),
            "--state",
            str(work / "state.json"),
        )
        print("\n$ singer-bridge --tap tap-demo read ... --state state.json   (resumes)")
        per_stream = lambda ms: Counter(m["record"]["stream"] for m in ms if m["type"] == "RECORD")  # noqa: E731
        for name in per_stream(first):
            print(
                f"  {name:<10} first read: {per_stream(first)[name]:>4} records, "
                f"second read: {per_stream(second).get(name, 0):>4}"
            )
        leaked = any(CONFIG["api_key"] in json.dumps(m) for m in first + second)
        print(f"\nsecret api_key in any output: {leaked}")


if __name__ == "__main__":
    main()
