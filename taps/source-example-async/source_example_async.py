"""A native source over an asynchronous report API (see tests/support/jobs_api.py for a server):
each read asks for an orders report, polls it until it is ready, downloads it (JSON Lines or
CSV, gzipped or not) and resumes an unfinished job instead of asking for another.

    source-example-async spec | check --config c.json | discover ... | read ...   (Airbyte)
    source-example-async --config c.json [--catalog k.json --state s.json]         (Singer)
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from singer_bridge import Source, Stream, launch
from singer_bridge.http import ApiKey, HttpClient, RetryPolicy, async_job_stream

SPEC = {
    "type": "object",
    "required": ["api_url", "api_key"],
    "properties": {
        "api_url": {"type": "string"},
        "api_key": {"type": "string", "airbyte_secret": True},
        "file_format": {"type": "string", "enum": ["jsonl", "csv"], "default": "jsonl"},
        "poll_seconds": {"type": "number", "default": 1.0},
        "job_timeout": {"type": "number", "default": 3600},
        "retry_base_seconds": {"type": "number", "default": 1.0},
    },
}


def streams(config: Mapping[str, Any]) -> list[Stream]:
    client = HttpClient(
        auth=ApiKey(config["api_key"]),
        retry=RetryPolicy(base_seconds=float(config.get("retry_base_seconds", 1.0))),
    )
    orders = async_job_stream(
        "orders_report",
        {
            "properties": {
                "id": {"type": ["integer", "string"]},
                "amount": {"type": "string"},
                "updated_at": {"type": "string", "format": "date-time"},
            }
        },
        url_base=config["api_url"],
        create_path="/reports",
        status_path="/reports/{job_id}",
        client=client,
        file_format=config.get("file_format", "jsonl"),
        poll_seconds=float(config.get("poll_seconds", 1.0)),
        job_timeout=float(config.get("job_timeout", 3600)),
        since_field="since",
        primary_key=[["id"]],
        cursor_field="updated_at",
    )
    return [orders]


SOURCE = Source("source-example-async", streams=streams, spec=SPEC)


def main() -> None:
    sys.exit(launch(SOURCE))


if __name__ == "__main__":
    main()
