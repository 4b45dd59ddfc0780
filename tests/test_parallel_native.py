"""Parallel tap processes (issue 12, part 3) over native sources run in Singer mode.

The bridge wraps a native source's Singer mode (``--discover``, ``--catalog``, ``--state``)
like any tap and splits the read among ``--parallel N`` processes of it. The sources are the
examples under ``taps/``: the SQLite one (customers, incremental and sorted; orders, one
partition per region; order_lines, a sub-stream of orders) and the HTTP one against the local
shop API. A thin wrapper records what each process was given (its catalog's selected streams
and its state) before it runs the example unchanged.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airbyte_check import (
    by_type,
    errors,
    final_states,
    records,
    stream_statuses,
    validate_output,
)
from tests.support.shop_api import ShopApi

REPO = Path(__file__).resolve().parent.parent
SQLITE_EXAMPLE = REPO / "taps" / "source-example-python" / "source_example_python.py"
HTTP_EXAMPLE = REPO / "taps" / "source-example-http" / "source_example_http.py"
SQLITE_STREAMS = ["customers", "orders", "order_lines"]

# Runs the example named by argv[1] as it is, after noting what this process was given.
WRAPPER = """
import json, os, runpy, sys
example, argv = sys.argv[1], sys.argv[2:]
def arg(flag):
    return argv[argv.index(flag) + 1] if flag in argv else None
catalog_file = arg("--catalog") or arg("--properties")
if catalog_file and "--discover" not in argv:
    catalog = json.load(open(catalog_file))
    selected = [
        s["tap_stream_id"]
        for s in catalog["streams"]
        for m in s.get("metadata", [])
        if m.get("breadcrumb") == [] and m.get("metadata", dict()).get("selected")
    ]
    state = json.load(open(arg("--state"))) if arg("--state") else None
    with open(os.path.join({record_dir!r}, f"{{os.getpid()}}.json"), "w") as out:
        json.dump({{"streams": selected, "state": state}}, out)
sys.argv = [example, *argv]
runpy.run_path(example, run_name="__main__")
"""


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """40 customers, 30 orders in three regions, one to three lines per order."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT);
            CREATE TABLE orders (id INTEGER PRIMARY KEY, region TEXT, amount REAL, updated_at TEXT);
            CREATE TABLE order_lines (order_id INTEGER, line INTEGER, sku TEXT);
            """
        )
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [(i, f"c{i}", f"2024-01-01T00:{i:02d}:00") for i in range(1, 41)],
        )
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (i, ("eu", "us", "ap")[i % 3], i * 1.25, f"2024-02-01T00:{i:02d}:00")
                for i in range(100, 130)
            ],
        )
        db.executemany(
            "INSERT INTO order_lines VALUES (?, ?, ?)",
            [(o, n, f"sku-{o}-{n}") for o in range(100, 130) for n in range(1, 2 + o % 3)],
        )
    return path


def query(database: Path, sql: str, *params: Any) -> list[Any]:
    with sqlite3.connect(database) as db:
        return [row[0] if len(row) == 1 else row for row in db.execute(sql, params)]


class Bridge:
    """``singer-bridge --tap '<wrapper> <example>'`` with the wrapper's records in ``inputs``."""

    def __init__(self, tmp: Path, example: Path, config: dict[str, Any]) -> None:
        self.tmp = tmp
        self.inputs = tmp / "inputs"
        self.inputs.mkdir(exist_ok=True)
        wrapper = tmp / "record_inputs.py"
        wrapper.write_text(WRAPPER.format(record_dir=str(self.inputs)))
        self.tap = f"{sys.executable} {wrapper} {example}"
        self.config = tmp / "config.json"
        self.config.write_text(json.dumps(config))

    def run(self, *args: str) -> tuple[int, list[dict[str, Any]], bytes]:
        argv = [sys.executable, "-m", "singer_bridge", "--tap", self.tap, *args]
        argv += ["--config", str(self.config)]
        proc = subprocess.run(argv, capture_output=True, timeout=180, check=False, cwd=REPO)
        return proc.returncode, validate_output(proc.stdout), proc.stdout

    def configured(self) -> dict[str, Any]:
        """Every discovered stream, incremental where it can be."""
        code, messages, _ = self.run("discover")
        assert code == 0, errors(messages)
        streams = by_type(messages, "CATALOG")[0]["catalog"]["streams"]
        return {
            "streams": [
                {
                    "stream": s,
                    "destination_sync_mode": "append",
                    "cursor_field": s.get("default_cursor_field", []),
                    "sync_mode": "incremental"
                    if "incremental" in s["supported_sync_modes"]
                    else "full_refresh",
                }
                for s in streams
            ]
        }

    def read(
        self,
        catalog: dict[str, Any],
        parallel: int,
        state: list[dict[str, Any]] | None = None,
        in_bridge_config: bool = False,
    ) -> tuple[int, list[dict[str, Any]], bytes]:
        """Read with ``--parallel N``, or with ``parallel_processes: N`` in a bridge config."""
        for old in self.inputs.glob("*.json"):
            old.unlink()
        (self.tmp / "catalog.json").write_text(json.dumps(catalog))
        args = ["read", "--catalog", str(self.tmp / "catalog.json"), "--parallel", str(parallel)]
        if in_bridge_config:
            bridge_config = self.tmp / "bridge.json"
            bridge_config.write_text(json.dumps({"parallel_processes": parallel}))
            args = ["--bridge-config", str(bridge_config), *args[:-2]]
        if state is not None:
            (self.tmp / "state.json").write_text(json.dumps(state))
            args += ["--state", str(self.tmp / "state.json")]
        return self.run(*args)

    def processes(self) -> list[dict[str, Any]]:
        """What each read process was given: its selected streams and its state."""
        return [json.loads(p.read_text()) for p in self.inputs.glob("*.json")]


def states_of(messages: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [
        m["state"]
        for m in by_type(messages, "STATE")
        if m["state"]["stream"]["stream_descriptor"]["name"] == name
    ]


def assert_exact_counts(messages: list[dict[str, Any]], names: list[str]) -> None:
    """Every stream's STATE recordCounts add up to its records, and a STATE follows its last
    record (no record is left uncounted at the end)."""
    for name in names:
        counted = [s["sourceStats"]["recordCount"] for s in states_of(messages, name)]
        assert sum(counted) == len(records(messages, name)), name
        at = [
            i
            for i, m in enumerate(messages)
            if m["type"] == "RECORD" and m["record"]["stream"] == name
        ]
        states = [
            i
            for i, m in enumerate(messages)
            if m["type"] == "STATE" and m["state"]["stream"]["stream_descriptor"]["name"] == name
        ]
        assert not at or (states and at[-1] < states[-1]), f"records of {name} after its last STATE"


def assert_shares(processes: list[dict[str, Any]], names: list[str], count: int) -> None:
    """``count`` processes, each selecting a share of the streams; together all, none twice."""
    assert len(processes) == count
    shares = [p["streams"] for p in processes]
    assert sorted(n for share in shares for n in share) == sorted(names)
    assert all(shares)


@pytest.mark.parametrize(("parallel", "in_bridge_config"), [(2, False), (3, False), (3, True)])
def test_sqlite_source_in_singer_mode_read_by_n_processes(
    tmp_path: Path, database: Path, parallel: int, in_bridge_config: bool
) -> None:
    bridge = Bridge(tmp_path, SQLITE_EXAMPLE, {"database": str(database), "password": "pw-7781"})
    catalog = bridge.configured()
    code, messages, raw = bridge.read(catalog, parallel, in_bridge_config=in_bridge_config)
    assert code == 0, errors(messages)
    assert b"pw-7781" not in raw
    # every record exactly once
    assert sorted(r["id"] for r in records(messages, "customers")) == query(
        database, "SELECT id FROM customers ORDER BY id"
    )
    assert sorted(r["id"] for r in records(messages, "orders")) == query(
        database, "SELECT id FROM orders ORDER BY id"
    )
    assert sorted((r["order"]["id"], r["line"]) for r in records(messages, "order_lines")) == [
        tuple(row)
        for row in query(database, "SELECT order_id, line FROM order_lines ORDER BY 1, 2")
    ]
    assert_exact_counts(messages, SQLITE_STREAMS)
    for name in SQLITE_STREAMS:
        assert stream_statuses(messages, name) == ["STARTED", "RUNNING", "COMPLETE"]
    # customers is sorted: a STATE never names a cursor beyond the records already delivered
    newest = ""
    for m in messages:
        if m["type"] == "RECORD" and m["record"]["stream"] == "customers":
            newest = max(newest, m["record"]["data"]["updated_at"])
        elif m["type"] == "STATE" and m["state"]["stream"]["stream_descriptor"]["name"] == (
            "customers"
        ):
            assert m["state"]["stream"]["stream_state"].get("replication_key_value", "") <= newest
    assert states_of(messages, "customers")[-1]["stream"]["stream_state"][
        "replication_key_value"
    ] == max(query(database, "SELECT updated_at FROM customers"))
    processes = bridge.processes()
    assert_shares(processes, SQLITE_STREAMS, parallel)
    assert all(p["state"] is None for p in processes)  # a first read: no state at all


@pytest.mark.parametrize("parallel", [2, 3])
def test_a_resumed_read_gives_each_process_its_streams_state_and_each_stream_resumes(
    tmp_path: Path, database: Path, parallel: int
) -> None:
    bridge = Bridge(tmp_path, SQLITE_EXAMPLE, {"database": str(database)})
    catalog = bridge.configured()
    code, first, _ = bridge.read(catalog, parallel)
    assert code == 0, errors(first)
    state = final_states(first)
    with sqlite3.connect(database) as db:
        db.execute("INSERT INTO customers VALUES (41, 'new', '2024-01-01T01:00:00')")
        db.execute("INSERT INTO orders VALUES (130, 'us', 1.0, '2024-03-01T00:00:00')")
        db.execute("INSERT INTO order_lines VALUES (130, 1, 'sku-new')")
    code, second, _ = bridge.read(catalog, parallel, state)
    assert code == 0, errors(second)
    # customers from its bookmark on (the bookmarked record again: the cursor is inclusive)
    bookmark = {
        s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in state
    }
    since = bookmark["customers"]["replication_key_value"]
    assert sorted(r["id"] for r in records(second, "customers")) == query(
        database, "SELECT id FROM customers WHERE updated_at >= ? ORDER BY id", since
    )
    # orders from each region's own bookmark on
    expected_orders = []
    for part in bookmark["orders"]["partitions"]:
        expected_orders += query(
            database,
            "SELECT id FROM orders WHERE region = ? AND updated_at >= ?",
            part["context"]["region"],
            part["replication_key_value"],
        )
    assert sorted(r["id"] for r in records(second, "orders")) == sorted(expected_orders)
    assert 130 in expected_orders and len(expected_orders) == 4  # one old order per region
    # order_lines is full refresh: all of them again
    assert len(records(second, "order_lines")) == len(query(database, "SELECT 1 FROM order_lines"))
    assert_exact_counts(second, SQLITE_STREAMS)
    assert (
        states_of(second, "customers")[-1]["stream"]["stream_state"]["replication_key_value"]
        == "2024-01-01T01:00:00"
    )
    for name in SQLITE_STREAMS:
        assert stream_statuses(second, name) == ["STARTED", "RUNNING", "COMPLETE"]
    # each process was given the bookmarks of its own streams, exactly as stored, and no others
    processes = bridge.processes()
    assert_shares(processes, SQLITE_STREAMS, parallel)
    for given in processes:
        bookmarks = given["state"]["bookmarks"]
        assert set(bookmarks) <= set(given["streams"])
        for name in given["streams"]:
            if bookmark[name]:
                assert bookmarks[name] == bookmark[name]


def test_a_failing_stream_stops_the_parallel_read_and_names_its_process(
    tmp_path: Path, database: Path
) -> None:
    bridge = Bridge(tmp_path, SQLITE_EXAMPLE, {"database": str(database)})
    catalog = bridge.configured()
    with sqlite3.connect(database) as db:
        db.execute("DROP TABLE order_lines")
    code, messages, _ = bridge.read(catalog, 3)
    assert code == 1
    (error,) = errors(messages)
    assert "(streams: order_lines)" in error["message"]
    assert "no such table: order_lines" in error["message"]
    for name in SQLITE_STREAMS:
        ids = [r.get("id") for r in records(messages, name)]
        assert len(ids) == len(set(ids))  # nothing twice, whatever was read before the stop
        assert stream_statuses(messages, name)[-1] == "INCOMPLETE"


@pytest.fixture
def shop() -> Iterator[ShopApi]:
    api = ShopApi(customers=9, orders_per_region=7, page_delay=0.01).start()
    yield api
    api.stop()


@pytest.mark.parametrize("parallel", [2, 3])
def test_http_source_in_singer_mode_read_by_n_processes(
    tmp_path: Path, shop: ShopApi, parallel: int
) -> None:
    bridge = Bridge(tmp_path, HTTP_EXAMPLE, shop.config(requests_per_second=100))
    catalog = bridge.configured()
    code, messages, raw = bridge.read(catalog, parallel)
    assert code == 0, errors(messages)
    # the CONTROL message carries the whole new config (that is its job); nothing else may
    assert b"shop-secret-9" not in b"".join(
        line for line in raw.splitlines() if b'"CONTROL"' not in line
    )
    assert sorted(r["id"] for r in records(messages, "customers")) == [
        c["id"] for c in shop.customers
    ]
    assert sorted(r["id"] for r in records(messages, "orders")) == sorted(
        o["id"] for orders in shop.orders.values() for o in orders
    )
    assert_exact_counts(messages, ["customers", "orders"])
    for name in ("customers", "orders"):
        assert stream_statuses(messages, name) == ["STARTED", "RUNNING", "COMPLETE"]
    # two streams: never more processes than streams
    assert_shares(bridge.processes(), ["customers", "orders"], 2)
    # The refresh token was rotated (r1 -> r2) into the bridge's private copy of the config:
    # passed on as a CONTROL message, Airbyte's way to store it, or it would be lost.
    (control,) = by_type(messages, "CONTROL")
    new_config = control["control"]["connectorConfig"]["config"]
    assert new_config == {**json.loads(bridge.config.read_text()), "refresh_token": "r2"}
    # Resumed with the stored config once the server retired r1: customers from its bookmark
    # on, each process given its own stream's state, nothing rotated again.
    bridge.config.write_text(json.dumps(new_config))
    del shop.refresh_tokens["r1"]
    shop.customers.append({"id": 10, "name": "c10", "updated_at": "2024-01-10T00:00:00Z"})
    code, second, _ = bridge.read(catalog, parallel, final_states(messages))
    assert code == 0, errors(second)
    assert [r["id"] for r in records(second, "customers")] == [9, 10]
    assert not by_type(second, "CONTROL")
    for given in bridge.processes():
        assert set(given["state"]["bookmarks"]) <= set(given["streams"])


def test_the_rate_limit_of_an_http_source_holds_for_the_whole_parallel_read(
    tmp_path: Path, shop: ShopApi
) -> None:
    """``requests_per_second`` is the API's budget, not each process's: two processes of the
    source share it, so the API never sees more than 4 requests in any second."""
    bridge = Bridge(tmp_path, HTTP_EXAMPLE, shop.config(requests_per_second=4))
    catalog = bridge.configured()
    shop.log.clear()
    code, messages, _ = bridge.read(catalog, 2)
    assert code == 0, errors(messages)
    assert len(records(messages, "orders")) == 21
    sent = sorted(at for at, _ in shop.log)
    assert len(sent) > 12
    tightest = min(later - first for first, later in zip(sent, sent[4:], strict=False))
    assert tightest >= 1.0 - 0.05, f"5 requests within {tightest:.2f} s"


def test_each_process_limiter_takes_its_share_of_the_budget() -> None:
    from singer_bridge._read.parallel import PROCESS_VARIABLE
    from singer_bridge.http._ratelimit import RateLimiter

    assert PROCESS_VARIABLE == "SINGER_BRIDGE_TAP_PROCESS"  # the name both sides use
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    shares = [RateLimiter(5, 2.0, lambda: now[0], sleep, process=(i, 2)) for i in (1, 2)]
    assert [(r.calls, r.period) for r in shares] == [(3, 2.0), (2, 2.0)]
    # fewer calls than processes: one call each per period * N, the second one started later
    first, second = (RateLimiter(1, 1.0, lambda: now[0], sleep, process=(i, 2)) for i in (1, 2))
    start = now[0]
    assert first.acquire() == 0.0 and second.acquire() == 1.0
    assert first.acquire() == 1.0 and now[0] - start == 2.0  # its next call, 2 s after its first
    alone = RateLimiter(5, 2.0, lambda: now[0], sleep, process=(1, 1))
    assert (alone.calls, alone.period) == (5, 2.0)


def test_a_token_rotated_during_check_is_passed_on_as_a_control_message(
    tmp_path: Path, shop: ShopApi
) -> None:
    bridge = Bridge(tmp_path, HTTP_EXAMPLE, shop.config())
    code, messages, _ = bridge.run("check")
    assert code == 0
    status = by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "SUCCEEDED", status
    (control,) = by_type(messages, "CONTROL")
    assert control["control"]["connectorConfig"]["config"]["refresh_token"] == "r2"


def test_processes_of_a_source_with_single_use_refresh_tokens_take_turns_refreshing(
    tmp_path: Path, shop: ShopApi
) -> None:
    """Each process refreshes its own token; the server retires a refresh token at its first
    use. A process refreshes only holding the lock on the config file's folder, with the
    newest token in the file, which it then replaces: no process uses a retired token."""
    shop.single_use = True
    shop.refresh_tokens = {f"r{n}": f"r{n + 1}" for n in range(1, 5)}
    bridge = Bridge(tmp_path, HTTP_EXAMPLE, shop.config(requests_per_second=100))
    catalog = bridge.configured()
    code, messages, _ = bridge.read(catalog, 2)
    assert code == 0, errors(messages)
    assert len(records(messages, "orders")) == 21 and len(records(messages, "customers")) == 9
    (control,) = by_type(messages, "CONTROL")
    config = control["control"]["connectorConfig"]["config"]
    assert config["refresh_token"] == "r3"  # r1 -> r2 by one process, r2 -> r3 by the other
    assert sorted(shop.refresh_tokens) == ["r3", "r4"]
    bridge.config.write_text(json.dumps(config))  # stored as Airbyte would: the next run works
    code, second, _ = bridge.read(catalog, 2)
    assert code == 0, errors(second)
    (control,) = by_type(second, "CONTROL")
    assert control["control"]["connectorConfig"]["config"]["refresh_token"] == "r5"
