"""``test``: acceptance tests for any Airbyte source executable, ours or not.

    singer-bridge test --connector 'source-x' --config config.json --bad-config bad.json

Checks spec, check (good and bad config), discover, a full-refresh read validated against the
stream schemas, and an incremental read resumed from the first read's state, with stream
statuses and state counts; prints PASS/FAIL per check and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_PAYLOAD = {
    "RECORD": "record",
    "STATE": "state",
    "LOG": "log",
    "SPEC": "spec",
    "TRACE": "trace",
    "CONNECTION_STATUS": "connectionStatus",
    "CATALOG": "catalog",
    "CONTROL": "control",
}


class Failed(Exception):
    """A check's finding, in words a connector author can act on."""


@dataclass
class Run:
    code: int
    messages: list[dict[str, Any]]
    stderr: str

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]


@dataclass
class Acceptance:
    connector: list[str]
    config: Path
    bad_config: Path | None = None
    timeout: float = 900.0
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sb-test-")))
    results: list[tuple[str, bool, str]] = field(default_factory=list)

    def run(self, *args: str) -> Run:
        proc = subprocess.run(
            [*self.connector, *args], capture_output=True, timeout=self.timeout, check=False
        )
        messages = []
        for number, line in enumerate(proc.stdout.splitlines(), 1):
            if not line.strip():
                continue
            try:
                message = json.loads(line)
            except ValueError as exc:
                raise Failed(f"stdout line {number} is not JSON: {line[:120]!r}") from exc
            kind = message.get("type") if isinstance(message, dict) else None
            if kind not in _PAYLOAD or _PAYLOAD[kind] not in message:
                raise Failed(f"stdout line {number} is not an Airbyte message: {line[:120]!r}")
            if kind == "RECORD" and not isinstance(message["record"].get("emitted_at"), int):
                raise Failed(f"stdout line {number}: RECORD emitted_at must be an integer")
            messages.append(message)
        return Run(proc.returncode, messages, proc.stderr.decode("utf-8", "replace"))

    def file(self, name: str, doc: Any) -> str:
        path = self.work / name
        path.write_text(json.dumps(doc))
        return str(path)

    def check(self, name: str, body: Callable[[], None]) -> None:
        try:
            body()
            self.results.append((name, True, ""))
        except Failed as exc:
            self.results.append((name, False, str(exc)))
        except (subprocess.TimeoutExpired, OSError) as exc:
            self.results.append((name, False, f"{type(exc).__name__}: {exc}"))


def _errors(run: Run) -> str:
    traces = [
        m["trace"].get("error", {}).get("message", "")
        for m in run.of("TRACE")
        if m["trace"].get("type") == "ERROR"
    ]
    return "; ".join(t for t in traces if t) or run.stderr[-400:]


def _catalog(streams: list[dict[str, Any]], incremental: bool) -> dict[str, Any]:
    configured = []
    for s in streams:
        inc = incremental and "incremental" in s.get("supported_sync_modes", [])
        cursor = s.get("default_cursor_field") or []
        if inc and not cursor and not s.get("source_defined_cursor"):
            inc = False
        configured.append(
            {
                "stream": s,
                "sync_mode": "incremental" if inc else "full_refresh",
                "destination_sync_mode": "append",
                "cursor_field": cursor if inc else [],
            }
        )
    return {"streams": configured}


def _final_states(run: Run) -> list[dict[str, Any]]:
    last: dict[Any, dict[str, Any]] = {}
    for m in run.of("STATE"):
        state = m["state"]
        if state.get("type") == "STREAM":
            d = state["stream"]["stream_descriptor"]
            last[(d["name"], d.get("namespace"))] = {"type": "STREAM", "stream": state["stream"]}
    return list(last.values())


def _check_read(run: Run, streams: list[dict[str, Any]]) -> dict[str, int]:
    import jsonschema

    if run.code != 0:
        raise Failed(f"exit code {run.code}: {_errors(run)}")
    schemas = {s["name"]: s["json_schema"] for s in streams}
    counts = dict.fromkeys(schemas, 0)
    for m in run.of("RECORD"):
        name = m["record"]["stream"]
        if name not in schemas:
            raise Failed(f"a RECORD for stream '{name}', which is not in the catalog")
        counts[name] += 1
        if counts[name] <= 1000:
            try:
                jsonschema.validate(m["record"]["data"], schemas[name])
            except jsonschema.ValidationError as exc:
                raise Failed(f"a '{name}' record breaks its schema: {exc.message}") from exc
    statuses: dict[str, str] = {}
    for m in run.of("TRACE"):
        if m["trace"].get("type") == "STREAM_STATUS":
            status = m["trace"]["stream_status"]
            statuses[status["stream_descriptor"]["name"]] = status["status"]
    missing = [n for n in schemas if statuses.get(n) != "COMPLETE"]
    if missing:
        raise Failed(f"no STREAM_STATUS COMPLETE for: {', '.join(missing)}")
    counted: dict[str, float] = {}
    for m in run.of("STATE"):
        if m["state"].get("type") == "STREAM":
            name = m["state"]["stream"]["stream_descriptor"]["name"]
            counted[name] = counted.get(name, 0) + m["state"].get("sourceStats", {}).get(
                "recordCount", 0
            )
    wrong = [
        f"{n}: {int(c)} counted, {counts.get(n, 0)} sent"
        for n, c in counted.items()
        if c > counts.get(n, 0)
    ]
    if wrong:
        raise Failed("sourceStats.recordCount exceeds the records sent: " + "; ".join(wrong))
    return counts


def accept(t: Acceptance) -> bool:
    import jsonschema  # imported here: `singer-bridge read` need not pay for it

    found: dict[str, Any] = {}

    def spec() -> None:
        run = t.run("spec")
        specs = run.of("SPEC")
        if run.code != 0 or len(specs) != 1:
            raise Failed(f"exit code {run.code}, {len(specs)} SPEC messages: {_errors(run)}")
        schema = specs[0]["spec"].get("connectionSpecification")
        try:
            jsonschema.Draft7Validator.check_schema(schema)
            jsonschema.validate(json.loads(t.config.read_text()), schema)
        except jsonschema.SchemaError as exc:
            raise Failed(
                f"connectionSpecification is not a valid JSON schema: {exc.message}"
            ) from exc
        except jsonschema.ValidationError as exc:
            raise Failed(f"the config does not match the spec: {exc.message}") from exc

    def check_good() -> None:
        run = t.run("check", "--config", str(t.config))
        status = [m["connectionStatus"] for m in run.of("CONNECTION_STATUS")]
        if not status or status[0].get("status") != "SUCCEEDED":
            raise Failed(f"expected SUCCEEDED, got {status or _errors(run)}")

    def check_bad() -> None:
        assert t.bad_config is not None
        run = t.run("check", "--config", str(t.bad_config))
        status = [m["connectionStatus"] for m in run.of("CONNECTION_STATUS")]
        failed = status and status[0].get("status") == "FAILED" and status[0].get("message")
        if not failed and not (run.code != 0 and _errors(run)):
            raise Failed(f"a bad config should fail with a message; got {status or run.code}")

    def discover() -> None:
        run = t.run("discover", "--config", str(t.config))
        catalogs = run.of("CATALOG")
        if run.code != 0 or not catalogs or not catalogs[0]["catalog"].get("streams"):
            raise Failed(f"no catalog with streams: {_errors(run)}")
        for s in catalogs[0]["catalog"]["streams"]:
            try:
                jsonschema.Draft7Validator.check_schema(s.get("json_schema"))
            except jsonschema.SchemaError as exc:
                raise Failed(
                    f"stream '{s.get('name')}' has an invalid json_schema: {exc.message}"
                ) from exc
        found["streams"] = catalogs[0]["catalog"]["streams"]

    def full_refresh() -> None:
        streams = found["streams"]
        catalog = t.file("full.json", _catalog(streams, incremental=False))
        found["full"] = _check_read(
            t.run("read", "--config", str(t.config), "--catalog", catalog), streams
        )

    def incremental() -> None:
        streams = [
            s for s in found["streams"] if "incremental" in s.get("supported_sync_modes", [])
        ]
        if not streams:
            return
        catalog = t.file("incremental.json", _catalog(streams, incremental=True))
        first = t.run("read", "--config", str(t.config), "--catalog", catalog)
        counts = _check_read(first, streams)
        states = _final_states(first)
        if not states:
            raise Failed("an incremental read emitted no per-stream STATE")
        state = t.file("state.json", states)
        second = t.run("read", "--config", str(t.config), "--catalog", catalog, "--state", state)
        again = _check_read(second, streams)
        grew = [n for n in again if again[n] > counts.get(n, 0)]
        if grew:
            raise Failed(f"resumed from state, these read more than before: {', '.join(grew)}")

    t.check("spec", spec)
    t.check("check (good config)", check_good)
    if t.bad_config is not None:
        t.check("check (bad config)", check_bad)
    t.check("discover", discover)
    if "streams" in found:
        t.check("read full refresh", full_refresh)
        t.check("read incremental, then resume from state", incremental)
    return all(ok for _, ok, _ in t.results)


def report(t: Acceptance) -> str:
    lines = [
        f"{'PASS' if ok else 'FAIL'}  {name}" + (f"\n      {detail}" if detail else "")
        for name, ok, detail in t.results
    ]
    passed = sum(1 for _, ok, _ in t.results if ok)
    lines.append(f"acceptance: {passed} of {len(t.results)} checks passed")
    return "\n".join(lines) + "\n"


class AcceptanceCommand:
    name = "test"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(self.name, help="acceptance tests for any Airbyte source")
        parser.add_argument(
            "--connector", required=True, help="the source's command, e.g. 'source-x'"
        )
        parser.add_argument("--config", required=True, type=Path)
        parser.add_argument("--bad-config", type=Path)
        parser.add_argument("--timeout", type=float, default=900.0, help="seconds per command")

    def run(self, args: argparse.Namespace) -> int:
        t = Acceptance(shlex.split(args.connector), args.config, args.bad_config, args.timeout)
        ok = accept(t)
        sys.stdout.write(report(t))
        return 0 if ok else 1
