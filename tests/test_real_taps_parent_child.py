"""A real tap with parent/child streams read by parallel tap processes (issue #18).

tap-github (singer-io, singer-python) syncs ``reviews``, ``review_comments`` and ``pr_commits``
while it reads ``pull_requests``, and marks them with ``parent-tap-stream-id`` in its catalog.
It reads a local imitation of the GitHub API (tests/support/github_api.py) through its
``base_url``. The tap alone (plain Singer: ``--properties`` with every stream selected, then
``--state``) syncs, the API changes, and it syncs again from its own state; the bridge, with
``parallel_processes: 3`` and per-stream state, and again with ``state_mode: global``, does the
same from its own state. Records (as sets per stream) and the resumed bookmarks must equal the
tap's own, and the family must have run in one process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from singer_bridge._translate.state import shared_part, singer_state_from_airbyte
from tests.airbyte_check import by_type, errors, final_states, validate_output
from tests.support.github_api import REPO, TOKEN, GithubApi
from tests.support.realtaps import ALL_VENVS
from tests.support.tapvenv import tap_bin

pytestmark = [pytest.mark.realtap, pytest.mark.slow]
FAMILY = ["pull_requests", "reviews", "review_comments", "pr_commits"]
STREAMS = [*FAMILY, "issues", "issue_labels", "releases"]
Records = dict[str, set[str]]  # stream -> its records, each as canonical JSON


@dataclass
class Sync:
    first: Records
    second: Records
    bookmarks: dict[str, Any]  # the bookmarks after the resumed sync, by stream
    shared: dict[str, Any]  # and the state's other (shared) keys
    messages: list[dict[str, Any]]


def tap() -> Path:
    return tap_bin("tap-github", ALL_VENVS["tap-github"]) / "tap-github"


def write(path: Path, doc: Any) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def config(tmp: Path, api: GithubApi) -> str:
    doc = {"access_token": TOKEN, "repository": REPO, "start_date": "2024-01-01T00:00:00Z"}
    return write(tmp / "config.json", doc | {"base_url": api.url})


def collect(records: list[tuple[str, Any]]) -> Records:
    out: Records = {}
    for stream, data in records:
        out.setdefault(stream, set()).add(json.dumps(data, sort_keys=True))
    return out


def tap_sync(tmp: Path, cfg: str, catalog: str, state: str | None) -> tuple[Records, Any]:
    argv = [str(tap()), "--config", cfg, "--properties", catalog]
    argv += ["--state", state] if state else []
    proc = subprocess.run(argv, capture_output=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    found = collect([(m["stream"], m["record"]) for m in lines if m["type"] == "RECORD"])
    return found, [m["value"] for m in lines if m["type"] == "STATE"][-1]


def tap_alone(tmp: Path) -> Sync:
    api = GithubApi().start()
    try:
        cfg = config(tmp, api)
        found = subprocess.run(
            [str(tap()), "--config", cfg, "--discover"], capture_output=True, check=True
        )
        catalog = json.loads(found.stdout)
        catalog["streams"] = [s for s in catalog["streams"] if s["tap_stream_id"] in STREAMS]
        for stream in catalog["streams"]:
            for item in stream["metadata"]:
                if not item["breadcrumb"]:
                    item["metadata"]["selected"] = True
        catalog_file = write(tmp / "tap-catalog.json", catalog)
        first, state = tap_sync(tmp, cfg, catalog_file, None)
        api.change()
        second, state = tap_sync(tmp, cfg, catalog_file, write(tmp / "tap-state.json", state))
    finally:
        api.stop()
    return Sync(first, second, state["bookmarks"], shared_part(state), [])


def bridge(tmp: Path, *args: str) -> list[dict[str, Any]]:
    argv = [sys.executable, "-m", "singer_bridge", "--tap", str(tap()), *args]
    proc = subprocess.run(argv, capture_output=True, timeout=600, check=False)
    messages = validate_output(proc.stdout)
    assert proc.returncode == 0, errors(messages) or proc.stderr[-3000:]
    return messages


def resume_state(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    states = [m["state"] for m in by_type(messages, "STATE")]
    if states and states[-1]["type"] == "GLOBAL":
        return [states[-1]]
    return final_states(messages)


def bookmarks_and_shared(state: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The Singer state the bridge gives the tap from an Airbyte state: bookmarks, shared keys."""
    singer = singer_state_from_airbyte(state, {(name, None): name for name in STREAMS})
    return singer.get("bookmarks") or {}, shared_part(singer)


def bridge_read(tmp: Path, state_mode: str) -> Sync:
    api = GithubApi().start()
    try:
        cfg = config(tmp, api)
        bridge_config = {
            "catalog_flag": "--properties",
            "parallel_processes": 3,
            "state_mode": state_mode,
        }
        options = ["--bridge-config", write(tmp / "bridge.json", bridge_config)]
        (catalog,) = by_type(bridge(tmp, *options, "discover", "--config", cfg), "CATALOG")
        configured = [
            {
                "stream": stream,
                "sync_mode": "incremental" if stream["source_defined_cursor"] else "full_refresh",
                "cursor_field": stream["default_cursor_field"],
                "destination_sync_mode": "append",
            }
            for stream in catalog["catalog"]["streams"]
            if stream["name"] in STREAMS
        ]
        catalog_file = write(tmp / "catalog.json", {"streams": configured})
        read = [*options, "read", "--config", cfg, "--catalog", catalog_file]
        first = bridge(tmp, *read)
        api.change()
        state = resume_state(first)
        second = bridge(tmp, *read, "--state", write(tmp / "state.json", state))
    finally:
        api.stop()

    def found(messages: list[dict[str, Any]]) -> Records:
        return collect([(m["record"]["stream"], m["record"]["data"]) for m in messages])

    return Sync(
        found(by_type(first, "RECORD")),
        found(by_type(second, "RECORD")),
        *bookmarks_and_shared(resume_state(second)),
        first + second,
    )


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Sync:
    return tap_alone(tmp_path_factory.mktemp("tap-github-alone"))


@pytest.mark.parametrize("state_mode", ["stream", "global"])
def test_parallel_read_of_a_parent_and_its_children_equals_the_taps_own_resumed_sync(
    own: Sync, state_mode: str, tmp_path: Path
) -> None:
    assert set(own.first) == set(STREAMS)  # the tap's own sync covers every stream
    assert own.second["pull_requests"] and own.second["reviews"]  # and the change is seen
    ours = bridge_read(tmp_path, state_mode)
    assert ours.first == own.first
    assert ours.second == own.second
    # the resumed state is the tap's own: each stream's bookmark, and no shared key the tap
    # dropped at its end (currently_syncing_repo) kept alive by the merge of three processes
    assert {s: b for s, b in ours.bookmarks.items() if s in own.bookmarks} == own.bookmarks
    assert ours.shared == own.shared == {}
    assert set(own.bookmarks) == set(STREAMS) - {"issue_labels", "releases"}  # FULL_TABLE
    logs = [m["log"]["message"] for m in by_type(ours.messages, "LOG")]
    family = ", ".join(FAMILY)
    assert sum(f"streams {family} are a parent and its children" in m for m in logs) == 2
    # three processes: the family in one, the other streams in the two others
    labels = {m.split("]")[0] + "]" for m in logs if m.startswith("[tap process")}
    assert labels == {f"[tap process {i}/3]" for i in (1, 2, 3)}
