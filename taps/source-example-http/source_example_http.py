"""A native HTTP-API source for a small shop API (see tests/support/shop_api.py for a server).

customers: page-number pagination, incremental by ``updated_at`` sent as ``since``;
orders: one partition per region (``/regions/{region}/orders``), offset/limit pagination, read
by up to ``max_workers`` threads. OAuth2 refresh-token auth (a rotated refresh token is
emitted as a CONTROL message), retries with backoff, a rate limit.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from singer_bridge import ReadContext, Source, Stream, launch
from singer_bridge.http import (
    HttpClient,
    OAuth2,
    OffsetLimit,
    PageNumber,
    RateLimiter,
    RetryPolicy,
    http_stream,
)

SPEC = {
    "type": "object",
    "required": ["api_url", "client_id", "client_secret", "refresh_token"],
    "properties": {
        "api_url": {"type": "string"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string", "airbyte_secret": True},
        "refresh_token": {"type": "string", "airbyte_secret": True},
        "regions": {"type": "array", "items": {"type": "string"}, "default": ["eu", "us", "ap"]},
        "requests_per_second": {"type": "integer", "default": 20},
        "max_workers": {"type": "integer", "default": 4},
        "page_size": {"type": "integer", "default": 2},
        "retry_base_seconds": {"type": "number", "default": 1.0},
    },
}


def _client(config: Mapping[str, Any]) -> HttpClient:
    auth = OAuth2(
        token_url=config["api_url"].rstrip("/") + "/oauth/token",
        client_id=config["client_id"],
        client_secret=config["client_secret"],
        refresh_token=config["refresh_token"],
        on_rotated=SOURCE.config_updater(config, "refresh_token"),
        on_token=SOURCE.mask_secret,
    )
    return HttpClient(
        auth=auth,
        retry=RetryPolicy(base_seconds=float(config.get("retry_base_seconds", 1.0))),
        rate_limit=RateLimiter(int(config.get("requests_per_second", 20)), 1.0),
        timeout=30,
    )


def streams(config: Mapping[str, Any]) -> list[Stream]:
    client = _client(config)  # one client, one token, one rate limit for all streams

    def regions(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        for region in config.get("regions", ["eu", "us", "ap"]):
            yield {"region": region}

    customers = http_stream(
        "customers",
        {
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "updated_at": {"type": "string", "format": "date-time"},
            }
        },
        url_base=config["api_url"],
        path="/v1/customers",
        client=client,
        record_path="data",
        paginator=PageNumber(param="page", start=1),
        primary_key=[["id"]],
        cursor_field="updated_at",
        cursor_param="since",
        is_sorted=True,
    )
    orders = http_stream(
        "orders",
        {
            "properties": {
                "id": {"type": "integer"},
                "region": {"type": "string"},
                "amount": {"type": "number"},
            }
        },
        url_base=config["api_url"],
        path="/v1/regions/{region}/orders",
        client=client,
        record_path="orders",
        paginator=OffsetLimit(limit=int(config.get("page_size", 2))),
        primary_key=[["id"]],
        partitions=regions,
        max_workers=int(config.get("max_workers", 4)),
    )
    return [customers, orders]


def check(config: Mapping[str, Any]) -> None:
    _client(config).send("GET", config["api_url"].rstrip("/") + "/v1/customers", params={"page": 1})


SOURCE = Source("source-example-http", streams=streams, spec=SPEC, check=check)


def main() -> None:
    sys.exit(launch(SOURCE))


if __name__ == "__main__":
    main()
