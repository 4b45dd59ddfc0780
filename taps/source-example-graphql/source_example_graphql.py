"""A native GraphQL source (see tests/support/graphql_api.py for a server): the issues of each
repository in the config, one partition per repository, Relay cursor pagination, incremental by
``updatedAt`` sent as the ``$since`` variable.

    source-example-graphql spec | check --config c.json | discover ... | read ...   (Airbyte)
    source-example-graphql --config c.json [--catalog k.json --state s.json]         (Singer)
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from typing import Any

from singer_bridge import ReadContext, Source, Stream, launch
from singer_bridge.http import BearerToken, HttpClient, RetryPolicy, graphql_stream

SPEC = {
    "type": "object",
    "required": ["api_url", "token"],
    "properties": {
        "api_url": {"type": "string"},
        "token": {"type": "string", "airbyte_secret": True},
        "repositories": {"type": "array", "items": {"type": "string"}, "default": ["alpha"]},
        "page_size": {"type": "integer", "default": 2},
    },
}

ISSUES_QUERY = """
query Issues($repo: String!, $first: Int, $after: String, $since: DateTime) {
  repository(name: $repo) {
    issues(first: $first, after: $after, since: $since, orderBy: UPDATED_AT) {
      nodes { id title updatedAt }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


def streams(config: Mapping[str, Any]) -> list[Stream]:
    client = HttpClient(auth=BearerToken(config["token"]), retry=RetryPolicy(base_seconds=0.1))

    def repositories(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        for repo in config.get("repositories", ["alpha"]):
            yield {"repo": repo}

    issues = graphql_stream(
        "issues",
        {
            "properties": {
                "id": {"type": "string"},
                "title": {"type": "string"},
                "updatedAt": {"type": "string", "format": "date-time"},
            }
        },
        url=config["api_url"].rstrip("/") + "/graphql",
        query=ISSUES_QUERY,
        connection_path="repository/issues",
        client=client,
        page_size_variable="first",
        page_size=int(config.get("page_size", 2)),
        primary_key=[["id"]],
        cursor_field="updatedAt",
        since_variable="since",
        partitions=repositories,
        is_sorted=True,
    )
    return [issues]


SOURCE = Source("source-example-graphql", streams=streams, spec=SPEC)


def main() -> None:
    sys.exit(launch(SOURCE))


if __name__ == "__main__":
    main()
