"""Parallel tap processes (issue 12, part 3): N processes of tap-scripted, each its streams.

The tap here is a small wrapper around tap-scripted that plays, per process, the script of
the streams its catalog selects (``by_stream``), as a real tap reads only selected streams.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from singer_bridge._read.parallel import StateMerger, assign, families, share_state, split_notes
from singer_bridge._tap.bridge_config import BridgeConfig
from singer_bridge._tap.pump import pump
from singer_bridge._translate.catalog import configure, parse_singer_catalog
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer
from tests.airbyte_check import by_type, errors, records, stream_statuses, validate_message
from tests.scripted import REPO, SCRIPTED_TAP, singer_entry, write_json

WRAPPER = """
import json, os, sys, tempfile
argv = sys.argv[1:]
def arg(flag):
    return argv[argv.index(flag) + 1] if flag in argv else None
scripted = [sys.executable, {scripted!r}]
if arg("--catalog") is None:
    os.execv(sys.executable, [*scripted, *argv])
config = json.load(open(arg("--config")))
catalog = json.load(open(arg("--catalog")))
mine = [s["tap_stream_id"] for s in catalog["streams"] if s.get("selected")]
state = json.load(open(arg("--state"))) if arg("--state") else None
for s in catalog["streams"]:  # like many taps: no child stream without its parent
    root = [m["metadata"] for m in s.get("metadata", []) if not m["breadcrumb"]]
    parent = root[0].get("parent-tap-stream-id") if root else None
    if s.get("selected") and parent and parent not in mine:
        sys.exit("cannot sync %s without its parent stream %s" % (s["tap_stream_id"], parent))
if config.get("record_dir"):
    with open(os.path.join(config["record_dir"], "-".join(mine) + ".json"), "w") as out:
        json.dump({{"streams": mine, "state": state, "pid": os.getpid()}}, out)
messages = [step for name in mine for step in config["by_stream"].get(name, [])]
code = max([config.get("exit_codes", {{}}).get(name, 0) for name in mine] or [0])
script = dict(config, messages=messages, exit_code=code)
fd, path = tempfile.mkstemp(suffix=".json")
os.write(fd, json.dumps(script).encode())
os.close(fd)
os.execv(sys.executable, [*scripted, "--config", path, *argv[2:]])
"""

NAMES = ["a", "b", "c", "d", "e", "f"]


def tap(tmp: Path) -> str:
    path = tmp / "tap_split.py"
    path.write_text(WRAPPER.format(scripted=SCRIPTED_TAP[1]))
    return f"{sys.executable} {path}"


def stream_steps(name: str, count: int, every: int = 50, start: int = 0) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for first in range(start, start + count, every):
        n = min(every, start + count - first)
        steps.append({"records": {"stream": name, "count": n, "start": first}})
        steps.append({"type": "STATE", "value": {"bookmarks": {name: {"id": first + n - 1}}}})
    return steps


def catalog(
    names: list[str], md: dict[str, dict[str, Any]] | None = None, incremental: bool = False
) -> dict[str, Any]:
    key = "id" if incremental else None
    return {
        "streams": [
            singer_entry(
                n,
                {"id": {"type": "integer"}},
                keys=["id"],
                md=(md or {}).get(n),
                replication_key=key,
            )
            for n in names
        ]
    }


def configured(names: list[str], incremental: bool = False) -> dict[str, Any]:
    modes = ["full_refresh", "incremental"] if incremental else ["full_refresh"]
    return {
        "streams": [
            {
                "stream": {
                    "name": n,
                    "json_schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
                    "supported_sync_modes": modes,
                },
                "sync_mode": modes[-1],
                "cursor_field": ["id"] if incremental else [],
                "destination_sync_mode": "append",
            }
            for n in names
        ]
    }


def run(
    tmp: Path,
    by_stream: dict[str, list[dict[str, Any]]],
    *,
    parallel: int = 3,
    names: list[str] = NAMES,
    bridge_config: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    interrupt_after: bytes | None = None,
    timeout: float = 120,
    incremental: bool = False,
    md: dict[str, dict[str, Any]] | None = None,
) -> tuple[int, list[dict[str, Any]]]:
    (tmp / "inputs").mkdir(exist_ok=True)
    script = {
        "catalog": catalog(names, md, incremental=incremental),
        "by_stream": by_stream,
        "record_dir": str(tmp / "inputs"),
        **(extra or {}),
    }
    argv = [sys.executable, "-m", "singer_bridge", "--tap", tap(tmp)]
    config = {"catalog_flag": "--catalog", **(bridge_config or {})}
    argv += ["--bridge-config", str(write_json(tmp / "bridge.json", config))]
    argv += ["read", "--config", str(write_json(tmp / "config.json", script))]
    argv += ["--catalog", str(write_json(tmp / "catalog.json", configured(names, incremental)))]
    if state is not None:
        argv += ["--state", str(write_json(tmp / "state.json", state))]
    if parallel:
        argv += ["--parallel", str(parallel)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO)
    assert proc.stdout is not None
    out = b""
    if interrupt_after is not None:
        while interrupt_after not in out:
            line = proc.stdout.readline()
            assert line, "the bridge ended before the point to interrupt it"
            out += line
        proc.send_signal(signal.SIGTERM)
    out += proc.communicate(timeout=timeout)[0]
    messages = []
    for line in out.splitlines():
        validate_message(line)
        messages.append(json.loads(line))
    return proc.returncode, messages


def states_of(messages: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        m["state"]
        for m in by_type(messages, "STATE")
        if m["state"]["stream"]["stream_descriptor"]["name"] == name
    ]


def inputs(tmp: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((tmp / "inputs").glob("*.json"))]


def test_three_processes_deliver_every_record_once_with_exact_states(tmp_path: Path) -> None:
    by_stream = {n: stream_steps(n, 200 + 10 * i) for i, n in enumerate(NAMES)}
    code, messages = run(tmp_path, by_stream)
    assert code == 0, errors(messages)
    for i, name in enumerate(NAMES):
        count = 200 + 10 * i
        assert sorted(r["id"] for r in records(messages, name)) == list(range(count))
        states = states_of(messages, name)
        assert sum(s["sourceStats"]["recordCount"] for s in states) == count
        assert states[-1]["stream"]["stream_state"] == {"id": count - 1}
        assert stream_statuses(messages, name) == ["STARTED", "RUNNING", "COMPLETE"]
    # Three processes, each with its share of the streams, round-robin.
    assert sorted(tuple(i["streams"]) for i in inputs(tmp_path)) == [
        ("a", "d"),
        ("b", "e"),
        ("c", "f"),
    ]
    assert len({i["pid"] for i in inputs(tmp_path)}) == 3


def test_every_state_follows_the_records_it_covers(tmp_path: Path) -> None:
    by_stream = {n: stream_steps(n, 300, every=7) for n in NAMES}
    code, messages = run(tmp_path, by_stream)
    assert code == 0
    seen: dict[str, set[int]] = {n: set() for n in NAMES}
    for m in messages:
        if m["type"] == "RECORD":
            seen[m["record"]["stream"]].add(m["record"]["data"]["id"])
        elif m["type"] == "STATE":
            name = m["state"]["stream"]["stream_descriptor"]["name"]
            bookmark = m["state"]["stream"]["stream_state"].get("id", -1)
            assert set(range(bookmark + 1)) <= seen[name]


def test_each_process_gets_the_state_of_its_streams_only(tmp_path: Path) -> None:
    state = [
        {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": n}, "stream_state": {"id": 5}},
        }
        for n in NAMES
    ]
    names = NAMES[:4]
    code, messages = run(
        tmp_path,
        {n: stream_steps(n, 10, start=6) for n in names},
        names=names,
        parallel=2,
        state=state,
        incremental=True,
    )
    assert code == 0, errors(messages)
    for name in names:
        assert states_of(messages, name)[-1]["stream"]["stream_state"] == {"id": 15}
    for got in inputs(tmp_path):
        assert sorted(got["state"]["bookmarks"]) == sorted(got["streams"])


def test_stderr_of_each_process_is_labelled(tmp_path: Path) -> None:
    code, messages = run(
        tmp_path, {n: stream_steps(n, 5) for n in NAMES}, extra={"stderr": ["INFO hello there"]}
    )
    assert code == 0
    logs = [m["log"]["message"] for m in by_type(messages, "LOG") if "hello there" in str(m)]
    labelled = [log for log in logs if log.startswith("[tap process")]  # (not discovery's)
    assert sorted(log.split("]")[0] for log in labelled) == [
        "[tap process 1/3",
        "[tap process 2/3",
        "[tap process 3/3",
    ]


def test_secrets_are_masked_in_every_process_output(tmp_path: Path) -> None:
    secret = "hunter2-very-secret"
    code, messages = run(
        tmp_path,
        {n: stream_steps(n, 5) for n in NAMES},
        extra={"echo_config": True, "password": secret},
        bridge_config={"secret_keys": ["password"]},
    )
    assert code == 0
    echoed = [m for m in by_type(messages, "LOG") if "[tap process" in m["log"]["message"]]
    assert len([m for m in echoed if "config is" in m["log"]["message"]]) == 3
    assert secret not in json.dumps(messages)


def test_a_process_crashing_mid_stream_stops_the_sync_keeping_what_was_read(
    tmp_path: Path,
) -> None:
    by_stream = {n: stream_steps(n, 100) for n in NAMES}
    # b dies once the others have surely written their first streams; c then hangs
    by_stream["b"] = [*stream_steps("b", 100), {"sleep": 5}, {"signal": "KILL"}]
    by_stream["c"] = [*stream_steps("c", 100), {"sleep": 60}, *stream_steps("c", 10, start=100)]
    code, messages = run(tmp_path, by_stream)
    assert code == 1
    (error,) = errors(messages)
    assert "tap process 2 of 3 (streams: b, e)" in error["message"]
    assert sorted(r["id"] for r in records(messages, "b")) == list(range(100))
    # the others were stopped, not waited for; what they read and the states earned are kept
    assert set(range(100)) <= {r["id"] for r in records(messages, "c")}
    assert states_of(messages, "b")[-1]["stream"]["stream_state"] == {"id": 99}
    for name in NAMES:
        assert stream_statuses(messages, name)[-1] == "INCOMPLETE"


def test_a_hanging_process_is_stopped_by_the_idle_timeout(tmp_path: Path) -> None:
    by_stream = {n: stream_steps(n, 50) for n in NAMES}
    by_stream["f"] = [*stream_steps("f", 50), {"sleep": 60}]  # process 3 reads c, then f
    code, messages = run(tmp_path, by_stream, bridge_config={"idle_timeout_seconds": 2})
    assert code == 1
    (error,) = errors(messages)
    assert "tap process 3 of 3 (streams: c, f)" in error["message"]
    assert "wrote nothing" in error["message"]
    for name in NAMES:
        assert sorted(r["id"] for r in records(messages, name)) == list(range(50))


def test_sigterm_to_the_bridge_stops_every_process(tmp_path: Path) -> None:
    by_stream = {n: [*stream_steps(n, 20), {"sleep": 60}] for n in NAMES}
    started = time.monotonic()
    code, messages = run(tmp_path, by_stream, interrupt_after=b'"RECORD"')
    assert code == 1 and time.monotonic() - started < 50
    assert "interrupted" in errors(messages)[0]["message"]
    for got in inputs(tmp_path):
        with pytest.raises(ProcessLookupError):
            os.kill(got["pid"], 0)


@pytest.mark.parametrize(
    ("bridge_config", "md", "words"),
    [
        ({"parallel_safe": False}, {}, "parallel_safe: false"),
        ({}, {"a": {"forced-replication-method": "LOG_BASED"}}, "LOG_BASED"),
    ],
)
def test_refused_where_unsafe(
    tmp_path: Path, bridge_config: dict[str, Any], md: dict[str, Any], words: str
) -> None:
    names = ["a", "b"]
    script = {"catalog": catalog(names, md), "by_stream": {}}
    cat = configured(names)
    if md:
        for item in cat["streams"]:
            item["stream"]["supported_sync_modes"] = ["full_refresh", "incremental"]
            item["sync_mode"] = "incremental"
            item["stream"]["source_defined_cursor"] = True
    argv = [sys.executable, "-m", "singer_bridge", "--tap", tap(tmp_path)]
    config = {"catalog_flag": "--catalog", **bridge_config}
    argv += ["--bridge-config", str(write_json(tmp_path / "bridge.json", config))]
    argv += ["read", "--config", str(write_json(tmp_path / "config.json", script))]
    argv += ["--catalog", str(write_json(tmp_path / "catalog.json", cat)), "--parallel", "2"]
    proc = subprocess.run(argv, capture_output=True, timeout=60, check=False, cwd=REPO)
    assert proc.returncode == 1
    messages = [json.loads(line) for line in proc.stdout.splitlines()]
    assert any(words in e["message"] for e in errors(messages)), messages
    assert not by_type(messages, "RECORD")


def _configured(names: list[str], md: dict[str, dict[str, Any]] | None = None) -> list[Any]:
    streams = parse_singer_catalog(catalog(names, md))
    return configure(streams, configured(names), "test")


def test_assignment_is_largest_first_when_the_tap_reports_row_counts() -> None:
    rows = {"a": 10, "b": 500, "c": 20, "d": 400, "e": 30}
    chosen = _configured(list(rows), {n: {"row-count": r} for n, r in rows.items()})
    shares = assign(chosen, 2)
    # b (500) to the first, d (400) to the second, then each to the less loaded one
    assert [[c.singer.name for c in share] for share in shares] == [["b"], ["a", "c", "d", "e"]]
    assert assign(chosen, 2) == shares  # stable
    plain = _configured(list(rows))
    assert [[c.singer.name for c in s] for s in assign(plain, 2)] == [["a", "c", "e"], ["b", "d"]]
    assert len(assign(plain, 9)) == 5  # never more processes than streams


def _parents(**parents: str) -> dict[str, dict[str, Any]]:
    return {child: {"parent-tap-stream-id": parent} for child, parent in parents.items()}


def _names(shares: list[list[Any]]) -> list[list[str]]:
    return [[c.singer.name for c in share] for share in shares]


def test_a_parent_and_its_children_share_one_process() -> None:
    # b is a's child, d is b's (a's grandchild), f is c's: three families, in catalog order.
    chosen = _configured(NAMES, _parents(b="a", d="b", f="c"))
    assert families(chosen) == [[0, 1, 3], [2, 5], [4]]
    assert _names(assign(chosen, 3)) == [["a", "b", "d"], ["c", "f"], ["e"]]
    assert _names(assign(chosen, 2)) == [["a", "b", "d", "e"], ["c", "f"]]
    # a child listed before its parent still joins it
    chosen = _configured(["x", "y", "z"], _parents(x="z"))
    assert _names(assign(chosen, 3)) == [["x", "z"], ["y"]]


def test_a_family_is_linked_through_a_parent_nobody_selected() -> None:
    streams = parse_singer_catalog(catalog(["a", "b", "c", "d"], _parents(b="a", c="b")))
    chosen = configure(streams, configured(["a", "c", "d"]), "test")  # b, the link, unselected
    assert _names(assign(chosen, 3, streams)) == [["a", "c"], ["d"]]
    # without the whole catalog, c's parent b is unknown: c could be split from a
    assert _names(assign(chosen, 3)) == [["a"], ["c"], ["d"]]


def test_a_family_weighs_its_row_counts_together() -> None:
    rows = {"a": 100, "b": 300, "c": 350, "d": 10}
    md = {n: {"row-count": r} for n, r in rows.items()}
    md["b"]["parent-tap-stream-id"] = "a"
    chosen = _configured(list(rows), md)
    # the family a+b (400) first, then c (350) to the other process, then d (10) to c's
    assert _names(assign(chosen, 2)) == [["a", "b"], ["c", "d"]]


def test_the_bridge_config_names_a_parent_the_tap_does_not() -> None:
    # singer-sdk writes no parent-tap-stream-id: its child streams are known to its code only
    config = BridgeConfig.from_dict({"streams": {"comments": {"parent": "posts"}}})
    names = ["posts", "users", "comments"]
    streams = parse_singer_catalog(catalog(names), config.streams)
    chosen = configure(streams, configured(names), "test")
    assert _names(assign(chosen, 3, streams)) == [["posts", "comments"], ["users"]]


def test_a_metadata_cycle_makes_one_family() -> None:
    chosen = _configured(["a", "b", "c"], _parents(a="b", b="a"))
    assert _names(assign(chosen, 3)) == [["a", "b"], ["c"]]


def test_split_notes_say_which_streams_stay_together_and_why_a_tap_runs_whole() -> None:
    chosen = _configured(["a", "b", "c"], _parents(b="a", c="b"))
    assert len(assign(chosen, 3)) == 1
    notes = split_notes(chosen, 3)
    assert "streams a, b, c are a parent and its children" in notes[0]
    assert "the tap runs whole, as one process" in notes[1]
    assert split_notes(_configured(["a", "b"]), 3) == []  # nothing to say


def test_children_are_read_by_their_parents_process(tmp_path: Path) -> None:
    by_stream = {n: stream_steps(n, 120 + 10 * i) for i, n in enumerate(NAMES)}
    code, messages = run(tmp_path, by_stream, md=_parents(b="a", d="b", f="c"))
    assert code == 0, errors(messages)
    for i, name in enumerate(NAMES):
        assert sorted(r["id"] for r in records(messages, name)) == list(range(120 + 10 * i))
        assert stream_statuses(messages, name) == ["STARTED", "RUNNING", "COMPLETE"]
    assert sorted(tuple(i["streams"]) for i in inputs(tmp_path)) == [
        ("a", "b", "d"),
        ("c", "f"),
        ("e",),
    ]
    logs = [m["log"]["message"] for m in by_type(messages, "LOG")]
    assert any("streams a, b, d are a parent and its children" in m for m in logs), logs


def test_a_tap_that_is_one_family_runs_whole_and_says_why(tmp_path: Path) -> None:
    names = ["a", "b", "c"]
    by_stream = {n: stream_steps(n, 60) for n in names}
    code, messages = run(tmp_path, by_stream, names=names, md=_parents(b="a", c="a"))
    assert code == 0, errors(messages)
    assert [tuple(i["streams"]) for i in inputs(tmp_path)] == [("a", "b", "c")]
    for name in names:
        assert sorted(r["id"] for r in records(messages, name)) == list(range(60))
    logs = [m["log"]["message"] for m in by_type(messages, "LOG")]
    assert any("the tap runs whole, as one process" in m for m in logs), logs
    # one plain tap process: its stderr carries no "[tap process i/N]" label
    assert not any(m.startswith("[tap process") for m in logs)


def test_shared_state_keys_never_go_backwards() -> None:
    chosen = _configured(["a", "b"])
    shares = assign(chosen, 2)
    merger = StateMerger({"bookmarks": {"a": 1}, "cursor": "2024-01-02"}, shares)
    merged = merger.merge(1, {"bookmarks": {"b": 7}, "cursor": "2024-01-01"})
    assert merged == {"cursor": "2024-01-02", "bookmarks": {"a": 1, "b": 7}}
    merged = merger.merge(0, {"bookmarks": {"a": 2, "b": 0}, "cursor": "2024-01-03"})
    assert merged == {"cursor": "2024-01-03", "bookmarks": {"a": 2, "b": 7}}
    assert share_state(merged, shares[1]) == {"cursor": "2024-01-03", "bookmarks": {"b": 7}}


def test_a_shared_key_every_process_dropped_is_dropped() -> None:
    # tap-github sets currently_syncing_repo while it syncs and deletes it at the end
    shares = assign(_configured(["a", "b"]), 2)
    merger = StateMerger({"bookmarks": {}}, shares)
    merged = merger.merge(0, {"bookmarks": {"a": 1}, "currently_syncing_repo": "acme/widgets"})
    assert merged["currently_syncing_repo"] == "acme/widgets"
    merged = merger.merge(1, {"bookmarks": {"b": 1}, "currently_syncing_repo": "acme/widgets"})
    merged = merger.merge(0, {"bookmarks": {"a": 2}})
    assert merged["currently_syncing_repo"] == "acme/widgets"  # process 2 still syncs it
    assert merger.merge(1, {"bookmarks": {"b": 2}}) == {"bookmarks": {"a": 2, "b": 2}}
    # a key given to every process stays until every process has dropped it
    merger = StateMerger({"bookmarks": {}, "cursor": "2024-01-02"}, shares)
    assert merger.merge(0, {"bookmarks": {"a": 1}})["cursor"] == "2024-01-02"
    assert "cursor" not in merger.merge(1, {"bookmarks": {"b": 1}})


PROCESS_OUTPUT = st.lists(st.integers(1, 6), min_size=1, max_size=12)  # records before STATEs


@given(
    st.lists(PROCESS_OUTPUT, min_size=2, max_size=4),
    st.lists(st.integers(0, 3), max_size=200),
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_any_interleaving_of_processes_keeps_the_invariants(
    outputs: list[list[int]], schedule: list[int]
) -> None:
    names = [f"s{i}" for i in range(len(outputs))]
    chosen = _configured(names)
    shares = [[c] for c in chosen]
    blocks: list[list[bytes]] = []
    for i, runs in enumerate(outputs):  # process i: its stream's records, a STATE after each run
        lines, next_id = [], 0
        for size in runs:
            for _ in range(size):
                record = {"type": "RECORD", "stream": names[i], "record": {"id": next_id}}
                lines.append(json.dumps(record).encode())
                next_id += 1
            state = {"type": "STATE", "value": {"bookmarks": {names[i]: {"id": next_id - 1}}}}
            lines.append(json.dumps(state).encode())
        blocks.append(lines)
    # Interleave whole lines of the processes in the order the schedule picks them.
    order: list[tuple[int, bytes]] = []
    positions = [0] * len(blocks)
    picks = iter(schedule)
    while any(p < len(b) for p, b in zip(positions, blocks, strict=True)):
        pick = next(picks, 0) % len(blocks)
        while positions[pick] >= len(blocks[pick]):
            pick = (pick + 1) % len(blocks)
        order.append((pick, blocks[pick][positions[pick]]))
        positions[pick] += 1
    merger = StateMerger({}, shares)
    current = [0]

    def chunks() -> Any:
        for process, line in order:
            current[0] = process
            yield [line]

    buffer = io.BytesIO()
    translator = Translator(chosen, now_ms=lambda: 1)
    writer = Writer(buffer)
    writer.write_all(translator.start())
    pump(chunks(), translator, writer, lambda v: merger.event(current[0], v))
    writer.write_all(translator.finish(None))
    writer.flush()
    messages = [json.loads(line) for line in buffer.getvalue().splitlines()]
    for i, name in enumerate(names):
        total = sum(outputs[i])
        assert [r["id"] for r in records(messages, name)] == list(range(total))
        states = states_of(messages, name)
        assert sum(s["sourceStats"]["recordCount"] for s in states) == total
        assert states[-1]["stream"]["stream_state"] == {"id": total - 1}
    seen: dict[str, int] = dict.fromkeys(names, -1)
    for m in messages:
        if m["type"] == "RECORD":
            seen[m["record"]["stream"]] = m["record"]["data"]["id"]
        elif m["type"] == "STATE":
            name = m["state"]["stream"]["stream_descriptor"]["name"]
            # a stream's STATE comes from its own process's STATE, right behind the records
            # it covers: never another process's STATE carrying an older bookmark of it
            assert m["state"]["stream"]["stream_state"].get("id", -1) == seen[name]
