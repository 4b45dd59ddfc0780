"""GraphQL streams: a query and its variables POSTed to one endpoint, records at a path in
``data``, Relay cursor pagination (``pageInfo { hasNextPage endCursor }``), an incremental
bookmark sent as a variable, and a response's ``errors`` array failing the read by name.

>>> issues = graphql_stream("issues", {"properties": {"id": {"type": "string"}}},
...     url="https://api.example.com/graphql",
...     query="query($after: String) { issues(after: $after) { nodes { id } "
...           "pageInfo { hasNextPage endCursor } } }",
...     connection_path="issues")
>>> issues.name
'issues'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from singer_bridge.errors import TapError
from singer_bridge.http._client import ClientChoice, HttpClient, client_for_read
from singer_bridge.http._records import extract_first
from singer_bridge.native._stream import PartitionFn, ReadContext, Stream


def graphql_errors(body: Any) -> str | None:
    """The ``errors`` of a GraphQL response as one line, or ``None`` when there are none.

    >>> graphql_errors({"errors": [{"message": "Field 'x' doesn't exist", "path": ["q", "x"]}]})
    "Field 'x' doesn't exist (at q.x)"
    """
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return None
    parts = []
    for error in errors if isinstance(errors, list) else [errors]:
        if not isinstance(error, dict):
            parts.append(str(error))
            continue
        where = ".".join(str(p) for p in error.get("path") or [])
        parts.append(str(error.get("message", error)) + (f" (at {where})" if where else ""))
    return "; ".join(parts)


def graphql_stream(
    name: str,
    schema: Mapping[str, Any],
    *,
    url: str,
    query: str,
    connection_path: str,
    variables: Mapping[str, Any] | Callable[[ReadContext], Mapping[str, Any]] | None = None,
    client: ClientChoice = None,
    nodes_field: str = "nodes",
    cursor_variable: str = "after",
    page_size_variable: str | None = None,
    page_size: int | None = None,
    primary_key: Sequence[Sequence[str]] = (),
    cursor_field: str | None = None,
    since_variable: str | None = None,
    partitions: PartitionFn | None = None,
    is_sorted: bool = False,
    max_workers: int = 1,
    max_pages: int = 100_000,
    namespace: str | None = None,
) -> Stream:
    """A ``Stream`` reading a GraphQL connection at ``connection_path`` under ``data``
    (slash-separated or JSONPath), its records in ``nodes_field`` (``edges/*/node`` works too).

    Pages follow ``pageInfo.endCursor`` in ``cursor_variable`` while ``hasNextPage``; an
    incremental read sends its bookmark in ``since_variable``. Partition keys are variables.
    """

    def read(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        with client_for_read(client) as http:
            yield from read_with(http, ctx)

    def read_with(http: HttpClient, ctx: ReadContext) -> Iterator[dict[str, Any]]:
        given = variables(ctx) if callable(variables) else variables or {}
        values: dict[str, Any] = {**dict(ctx.partition or {}), **given}
        if page_size_variable and page_size:
            values[page_size_variable] = page_size
        if since_variable and ctx.start_cursor is not None:
            values[since_variable] = ctx.start_cursor
        seen: set[str] = set()
        for _ in range(max_pages):
            body = _post(http, url, name, query, values)
            connection = extract_first(body.get("data"), connection_path)
            if not isinstance(connection, dict):
                raise TapError(f"stream '{name}': no connection at '{connection_path}' in data")
            nodes = _nodes(connection, nodes_field)
            yield from nodes
            info = connection.get("pageInfo") or {}
            after = info.get("endCursor")
            if not nodes or not info.get("hasNextPage") or after is None:
                return
            if after in seen:
                raise TapError(
                    f"stream '{name}': {url} sent endCursor {after!r} twice; stopping instead "
                    "of looping forever"
                )
            seen.add(after)
            values[cursor_variable] = after
        raise TapError(f"stream '{name}': more than {max_pages} pages from {url}")

    return Stream(
        name,
        schema,
        read,
        primary_key=primary_key,
        cursor_field=cursor_field,
        namespace=namespace,
        partitions=partitions,
        is_sorted=is_sorted,
        max_workers=max_workers,
    )


def _post(
    http: HttpClient, url: str, name: str, query: str, values: Mapping[str, Any]
) -> dict[str, Any]:
    # a query changes nothing: safe to send again after a transport error
    response = http.send("POST", url, idempotent=True, json={"query": query, "variables": values})
    try:
        body = response.json()
    except json.JSONDecodeError as exc:
        raise TapError(f"stream '{name}': {url} answered with no JSON body") from exc
    problem = graphql_errors(body)
    if problem is not None:
        raise TapError(f"stream '{name}': GraphQL error from {url}: {problem}")
    if not isinstance(body, dict):
        raise TapError(f"stream '{name}': {url} answered with no GraphQL data")
    return body


def _nodes(connection: Mapping[str, Any], field: str) -> list[dict[str, Any]]:
    if "/" in field:  # edges/*/node
        head, *rest = field.split("/")
        found: list[Any] = list(connection.get(head) or [])
        for step in rest:
            if step == "*":
                continue
            found = [item.get(step) for item in found if isinstance(item, dict)]
        return [n for n in found if isinstance(n, dict)]
    return [n for n in connection.get(field) or [] if isinstance(n, dict)]
