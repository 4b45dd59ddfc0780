"""tap-demo: deterministic customers, orders and events, generated in-process.

Customers and orders are incremental on ``updated_at`` (a second read with the first read's
state returns only rows at or after the bookmark); events are full-table only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th

EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _updated_at(customer: int, minutes: int = 0) -> dt.datetime:
    return EPOCH + dt.timedelta(hours=customer, minutes=minutes)


class _DemoStream(Stream):
    def _since(self, context: dict | None) -> dt.datetime:
        start = self.get_starting_timestamp(context)
        if start is None:
            return EPOCH
        return start if start.tzinfo else start.replace(tzinfo=dt.UTC)

    @property
    def customer_count(self) -> int:
        return int(self.config.get("customer_count", 20))


class CustomersStream(_DemoStream):
    name = "customers"
    primary_keys = ["id"]
    replication_key = "updated_at"
    is_sorted = True
    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True),
        th.Property("name", th.StringType),
        th.Property("email", th.StringType),
        th.Property("vip", th.BooleanType),
        th.Property("balance", th.NumberType),
        th.Property("updated_at", th.DateTimeType, required=True),
    ).to_dict()

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        since = self._since(context)
        for i in range(1, self.customer_count + 1):
            updated = _updated_at(i)
            if updated >= since:
                yield {
                    "id": i,
                    "name": f"Customer {i}",
                    "email": f"customer{i}@example.com",
                    "vip": i % 5 == 0,
                    "balance": round(i * 101.25, 2),
                    "updated_at": updated.isoformat(),
                }


class OrdersStream(_DemoStream):
    name = "orders"
    primary_keys = ["customer_id", "order_id"]
    replication_key = "updated_at"
    is_sorted = True
    schema = th.PropertiesList(
        th.Property("customer_id", th.IntegerType, required=True),
        th.Property("order_id", th.IntegerType, required=True),
        th.Property("amount", th.NumberType),
        th.Property("big_counter", th.IntegerType),
        th.Property("updated_at", th.DateTimeType, required=True),
    ).to_dict()

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        since = self._since(context)
        for i in range(1, self.customer_count + 1):
            for order in (1, 2):
                updated = _updated_at(i, minutes=order)
                if updated >= since:
                    yield {
                        "customer_id": i,
                        "order_id": order,
                        "amount": 1234.5 + order,
                        "big_counter": 9007199254740993 + i,
                        "updated_at": updated.isoformat(),
                    }


class EventsStream(_DemoStream):
    name = "events"
    schema = th.PropertiesList(
        th.Property("kind", th.StringType),
        th.Property("at", th.DateTimeType),
        th.Property("payload", th.ObjectType(th.Property("source", th.StringType))),
        th.Property("tags", th.ArrayType(th.StringType)),
    ).to_dict()

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        for i in range(self.customer_count // 2):
            yield {
                "kind": "login" if i % 2 else "signup",
                "at": _updated_at(i).isoformat(),
                "payload": {"source": "demo"},
                "tags": ["demo", f"n{i}"],
            }


class TapDemo(Tap):
    """An offline demo tap."""

    name = "tap-demo"
    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            description="Any string; never printed (the bridge masks it).",
        ),
        th.Property(
            "customer_count",
            th.IntegerType,
            default=20,
            description="How many customers to generate.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Rows updated before this are skipped on a first read.",
        ),
    ).to_dict()

    def discover_streams(self) -> list[Stream]:
        return [CustomersStream(self), OrdersStream(self), EventsStream(self)]


if __name__ == "__main__":
    TapDemo.cli()
