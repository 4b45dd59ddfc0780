"""A native source over a SQLite database: customers (incremental, sorted), orders
(incremental, one partition per region) and order_lines (a sub-stream of orders).

    source-example-python spec | check --config c.json | discover ... | read ...   (Airbyte)
    source-example-python --config c.json [--discover | --catalog k.json --state s.json] (Singer)
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator, Mapping
from typing import Any

from singer_bridge import ReadContext, Source, Stream, launch

SPEC = {
    "type": "object",
    "required": ["database"],
    "properties": {
        "database": {"type": "string", "description": "Path of the SQLite file."},
        "password": {"type": "string", "secret": True, "description": "Unused; shows masking."},
    },
}


def _rows(config: Mapping[str, Any], sql: str, *params: Any) -> Iterator[dict[str, Any]]:
    with sqlite3.connect(f"file:{config['database']}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        for row in db.execute(sql, params):
            yield dict(row)


def read_customers(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    since = ctx.start_cursor or ""
    yield from _rows(
        ctx.config, "SELECT * FROM customers WHERE updated_at >= ? ORDER BY updated_at", since
    )


def regions(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    for row in _rows(ctx.config, "SELECT DISTINCT region FROM orders ORDER BY region"):
        yield {"region": row["region"]}


def read_orders(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    assert ctx.partition is not None
    since = ctx.start_cursor or ""
    sql = "SELECT * FROM orders WHERE region = ? AND updated_at >= ? ORDER BY updated_at"
    yield from _rows(ctx.config, sql, ctx.partition["region"], since)


def read_order_lines(ctx: ReadContext) -> Iterator[dict[str, Any]]:
    assert ctx.partition is not None
    order = ctx.partition["parent"]
    for row in _rows(ctx.config, "SELECT * FROM order_lines WHERE order_id = ?", order["id"]):
        yield {**row, "order": {"id": order["id"], "region": order["region"]}}


def _schema(**types: str) -> dict[str, Any]:
    return {"properties": {name: {"type": [kind, "null"]} for name, kind in types.items()}}


CUSTOMERS = Stream(
    "customers",
    _schema(id="integer", name="string", updated_at="string"),
    read_customers,
    primary_key=[["id"]],
    cursor_field="updated_at",
    is_sorted=True,
    checkpoint_every=2,
)
ORDERS = Stream(
    "orders",
    _schema(id="integer", region="string", amount="number", updated_at="string"),
    read_orders,
    primary_key=[["id"]],
    cursor_field="updated_at",
    partitions=regions,
)
ORDER_LINES = Stream(
    "order_lines",
    {
        "properties": {
            "line": {"type": "integer"},
            "sku": {"type": "string"},
            "order_id": {"type": "integer"},
            "order": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "region": {"type": "string"}},
            },
        }
    },
    read_order_lines,
    primary_key=[["order", "id"], ["line"]],
    parent=ORDERS,
)


def check(config: Mapping[str, Any]) -> None:
    next(_rows(config, "SELECT count(*) FROM customers"))


SOURCE = Source(
    "source-example-python", streams=[CUSTOMERS, ORDERS, ORDER_LINES], spec=SPEC, check=check
)


def main() -> None:
    sys.exit(launch(SOURCE))


if __name__ == "__main__":
    main()
