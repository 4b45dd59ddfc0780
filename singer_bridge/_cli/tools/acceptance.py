"""``test``: acceptance tests for any Airbyte source executable, ours or not.

    singer-bridge test --connector 'source-x' --config config.json --bad-config bad.json

Checks spec, check (good and bad config), discover, a full-refresh read validated against the
stream schemas, and an incremental read resumed from the first read's state, with stream
statuses and ``sourceStats`` record counts; prints PASS/FAIL per check on stderr (``--report F``
writes them as JSON too) and exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
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
_VALIDATED_PER_STREAM = 1000  # records checked against the schema; the rest are counted
Descriptor = tuple[str, str | None]


class Failed(Exception):
    """A check's finding, in words a connector author can act on."""


@dataclass
class Run:
    """One command's outcome; its stdout stays in a file, read a message at a time (a read's
    records need not fit in memory)."""

    code: int
    stdout: Path
    stderr: str

    @property
    def messages(self) -> Iterator[dict[str, Any]]:
        with self.stdout.open("rb") as lines:
            yield from parse_output(lines)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def each(self, kind: str) -> Iterator[dict[str, Any]]:
        return (m for m in self.messages if m.get("type") == kind)


def parse_output(stdout: Iterable[bytes]) -> Iterator[dict[str, Any]]:
    """Every stdout line must be an Airbyte message; RECORDs need an integer emitted_at."""
    for number, line in enumerate(stdout, 1):
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
        yield message


@dataclass
class Acceptance:
    """One connector under test: how to run it, its configs, and the results so far."""

    connector: list[str]
    config: Path
    work: Path
    bad_config: Path | None = None
    timeout: float = 900.0
    results: list[tuple[str, bool, str]] = field(default_factory=list)
    streams: list[dict[str, Any]] = field(default_factory=list)
    runs: int = 0

    def run(self, *args: str) -> Run:
        """Run the connector with its output in files; on timeout its whole process group
        (a bridge and its tap, say) is killed."""
        self.runs += 1
        out, err = self.work / f"stdout-{self.runs}.jsonl", self.work / f"stderr-{self.runs}.txt"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [*self.connector, *args],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # a group of its own, to kill whole
            )
            try:
                code = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                raise
        run = Run(code, out, _tail(err))
        for _ in run.messages:  # every line checked once, before any check reads them
            pass
        return run

    def file(self, name: str, doc: Any) -> str:
        path = self.work / name
        path.write_text(json.dumps(doc))
        return str(path)

    def check(self, name: str, body: Callable[[Acceptance], None]) -> None:
        try:
            body(self)
            self.results.append((name, True, ""))
        except Failed as exc:
            self.results.append((name, False, str(exc)))
        except (subprocess.TimeoutExpired, OSError) as exc:
            self.results.append((name, False, f"{type(exc).__name__}: {exc}"))


def _tail(path: Path, size: int = 64 * 1024) -> str:
    with path.open("rb") as handle:
        handle.seek(max(0, path.stat().st_size - size))
        return handle.read().decode("utf-8", "replace")


def _errors(run: Run) -> str:
    traces = [
        m["trace"].get("error", {}).get("message", "")
        for m in run.of("TRACE")
        if m["trace"].get("type") == "ERROR"
    ]
    return "; ".join(t for t in traces if t) or run.stderr[-400:]


def _descriptor(item: dict[str, Any]) -> Descriptor:
    return (item.get("name") or item.get("stream") or "", item.get("namespace"))


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
        state = {k: v for k, v in m["state"].items() if k != "sourceStats"}
        if state.get("type") == "STREAM":
            last[_descriptor(state["stream"]["stream_descriptor"])] = state
        elif state.get("type") == "GLOBAL":
            last = {"global": state}
    return list(last.values())


def _check_records(run: Run, streams: list[dict[str, Any]]) -> dict[Descriptor, int]:
    import jsonschema  # imported here: `singer-bridge read` need not pay for it

    schemas = {_descriptor(s): s["json_schema"] for s in streams}
    counts = dict.fromkeys(schemas, 0)
    for m in run.each("RECORD"):
        key = _descriptor(m["record"])
        if key not in schemas:
            raise Failed(f"a RECORD for stream '{key[0]}', which is not in the catalog")
        counts[key] += 1
        if counts[key] <= _VALIDATED_PER_STREAM:
            try:
                jsonschema.validate(m["record"]["data"], schemas[key])
            except jsonschema.ValidationError as exc:
                raise Failed(f"a '{key[0]}' record breaks its schema: {exc.message}") from exc
    return counts


def _check_statuses(run: Run, streams: list[dict[str, Any]]) -> None:
    statuses: dict[Descriptor, str] = {}
    for m in run.of("TRACE"):
        if m["trace"].get("type") == "STREAM_STATUS":
            status = m["trace"]["stream_status"]
            statuses[_descriptor(status["stream_descriptor"])] = status["status"]
    missing = [s["name"] for s in streams if statuses.get(_descriptor(s)) != "COMPLETE"]
    if missing:
        raise Failed(f"no STREAM_STATUS COMPLETE for: {', '.join(missing)}")


def _check_state_counts(run: Run) -> None:
    """Each STATE's sourceStats.recordCount: the records of its stream since its last STATE."""
    since: dict[Descriptor, int] = {}
    for m in run.messages:
        if m["type"] == "RECORD":
            key = _descriptor(m["record"])
            since[key] = since.get(key, 0) + 1
        elif m["type"] == "STATE":
            state = m["state"]
            counted = (state.get("sourceStats") or {}).get("recordCount")
            if state.get("type") == "STREAM":
                key = _descriptor(state["stream"]["stream_descriptor"])
                sent = since.pop(key, 0)
            elif state.get("type") == "GLOBAL":
                key, sent = ("(global)", None), sum(since.values())
                since = {}
            else:
                continue
            if counted is not None and int(counted) != sent:
                raise Failed(
                    f"a STATE of '{key[0]}' counts {int(counted)} records "
                    f"(sourceStats.recordCount), but {sent} were sent since its previous STATE"
                )


def _check_read(run: Run, streams: list[dict[str, Any]]) -> dict[Descriptor, int]:
    if run.code != 0:
        raise Failed(f"exit code {run.code}: {_errors(run)}")
    if any(m["trace"].get("type") == "ERROR" for m in run.of("TRACE")):
        raise Failed(
            f"exit code 0 after an error trace (clients take it as success): {_errors(run)}"
        )
    counts = _check_records(run, streams)
    _check_statuses(run, streams)
    _check_state_counts(run)
    return counts


# -- the checks, in the order they run -------------------------------------------------------
def check_spec(t: Acceptance) -> None:
    import jsonschema

    run = t.run("spec")
    specs = run.of("SPEC")
    if run.code != 0 or len(specs) != 1:
        raise Failed(f"exit code {run.code}, {len(specs)} SPEC messages: {_errors(run)}")
    schema = specs[0]["spec"].get("connectionSpecification")
    try:
        jsonschema.Draft7Validator.check_schema(schema)
        jsonschema.validate(json.loads(t.config.read_text()), schema)
    except jsonschema.SchemaError as exc:
        raise Failed(f"connectionSpecification is not a valid JSON schema: {exc.message}") from exc
    except jsonschema.ValidationError as exc:
        raise Failed(f"the config does not match the spec: {exc.message}") from exc


def check_good_config(t: Acceptance) -> None:
    run = t.run("check", "--config", str(t.config))
    status = [m["connectionStatus"] for m in run.of("CONNECTION_STATUS")]
    if not status or status[0].get("status") != "SUCCEEDED":
        raise Failed(f"expected SUCCEEDED, got {status or _errors(run)}")


def check_bad_config(t: Acceptance) -> None:
    assert t.bad_config is not None
    run = t.run("check", "--config", str(t.bad_config))
    status = [m["connectionStatus"] for m in run.of("CONNECTION_STATUS")]
    failed = status and status[0].get("status") == "FAILED" and status[0].get("message")
    if not failed and not (run.code != 0 and _errors(run)):
        raise Failed(f"a bad config should fail with a message; got {status or run.code}")


def check_discover(t: Acceptance) -> None:
    import jsonschema

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
    t.streams = catalogs[0]["catalog"]["streams"]


def check_full_refresh(t: Acceptance) -> None:
    catalog = t.file("full.json", _catalog(t.streams, incremental=False))
    _check_read(t.run("read", "--config", str(t.config), "--catalog", catalog), t.streams)


def check_incremental(t: Acceptance) -> None:
    streams = [s for s in t.streams if "incremental" in s.get("supported_sync_modes", [])]
    if not streams:
        return
    catalog = t.file("incremental.json", _catalog(streams, incremental=True))
    first = t.run("read", "--config", str(t.config), "--catalog", catalog)
    counts = _check_read(first, streams)
    states = _final_states(first)
    if not states:
        raise Failed("an incremental read emitted no STATE")
    state = t.file("state.json", states)
    second = t.run("read", "--config", str(t.config), "--catalog", catalog, "--state", state)
    again = _check_read(second, streams)
    grew = [key[0] for key in again if again[key] > counts.get(key, 0)]
    if grew:
        raise Failed(f"resumed from state, these read more than before: {', '.join(grew)}")


def accept(t: Acceptance) -> bool:
    """Run every check that applies; True when all passed."""
    t.check("spec", check_spec)
    t.check("check (good config)", check_good_config)
    if t.bad_config is not None:
        t.check("check (bad config)", check_bad_config)
    t.check("discover", check_discover)
    if t.streams:
        t.check("read full refresh", check_full_refresh)
        t.check("read incremental, then resume from state", check_incremental)
    return all(ok for _, ok, _ in t.results)


def report(t: Acceptance) -> str:
    lines = [f"acceptance tests of: {shlex.join(t.connector)}"]
    lines += [
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
        parser.add_argument("--report", type=Path, help="also write the results here as JSON")

    def run(self, args: argparse.Namespace) -> int:
        with tempfile.TemporaryDirectory(prefix="sb-test-") as work:
            t = Acceptance(
                shlex.split(args.connector), args.config, Path(work), args.bad_config, args.timeout
            )
            ok = accept(t)
        sys.stderr.write(report(t))
        if args.report:
            results = [{"check": n, "passed": p, "detail": d} for n, p, d in t.results]
            args.report.write_text(json.dumps({"passed": ok, "checks": results}, indent=2) + "\n")
        return 0 if ok else 1
