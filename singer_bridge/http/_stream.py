"""HTTP-API streams described as data: url base, path, params, headers, body, record path,
pagination, and an incremental cursor sent as a request parameter.

>>> import httpx
>>> def api(request):  # two pages, then an empty one
...     page = int(request.url.params["page"])
...     return httpx.Response(200, json={"data": [{"id": page}] if page < 3 else []})
>>> client = HttpClient(transport=httpx.MockTransport(api))
>>> items = http_stream("items", {"properties": {"id": {"type": "integer"}}},
...     url_base="https://api.example.com", path="/items", record_path="data",
...     paginator=PageNumber(), primary_key=[["id"]], client=client)
>>> list(items.read(ReadContext(config={}, state={})))
[{'id': 1}, {'id': 2}]
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from singer_bridge.errors import TapError
from singer_bridge.http._client import ClientChoice, HttpClient, client_for_read
from singer_bridge.http._paginate import NoPagination, PageNumber, Paginator
from singer_bridge.http._records import extract
from singer_bridge.native._stream import PartitionFn, ReadContext, Stream

__all__ = ["PageNumber", "http_stream"]


def http_stream(
    name: str,
    schema: Mapping[str, Any],
    *,
    url_base: str,
    path: str,
    client: ClientChoice = None,
    method: str = "GET",
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    form_body: Mapping[str, Any] | None = None,
    record_path: str | Sequence[str] | None = None,
    paginator: Paginator | None = None,
    primary_key: Sequence[Sequence[str]] = (),
    cursor_field: str | None = None,
    cursor_param: str | None = None,
    partitions: PartitionFn | None = None,
    is_sorted: bool = False,
    max_workers: int = 1,
    namespace: str | None = None,
    max_pages: int = 100_000,
    idempotent: bool | None = None,
) -> Stream:
    """A ``Stream`` reading an HTTP API. ``path`` may name partition keys: ``/repos/{repo}/issues``.

    ``client`` is one ``HttpClient`` shared by every read (closed by its owner), or a function
    making one per read (per partition), which the read closes when it ends.

    With ``cursor_param``, an incremental read sends its bookmark as that query parameter.
    A read stops on an empty page, and fails (naming the stream and URL) when the API sends it
    to a page it already read (a repeated cursor, next URL or page token) or when it would read
    more than ``max_pages`` pages in one partition. ``idempotent=True`` lets a POST stream
    (a search endpoint, say) be retried after a transport error, as a GET is.
    """
    pages = paginator or NoPagination()

    def read(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        with client_for_read(client) as http:
            yield from read_with(http, ctx)

    def read_with(http: HttpClient, ctx: ReadContext) -> Iterator[dict[str, Any]]:
        url = url_base.rstrip("/") + "/" + path.lstrip("/").format(**(ctx.partition or {}))
        query: dict[str, Any] | None = {**(params or {}), **pages.first().get("params", {})}
        if cursor_param and ctx.start_cursor is not None and query is not None:
            query[cursor_param] = ctx.start_cursor
        asked: set[str] = set()
        while True:
            _guard_pagination(name, asked, url, query, max_pages)
            response = http.send(
                method,
                url,
                idempotent=idempotent,
                params=query,
                headers=dict(headers or {}),
                json=json_body,
                data=dict(form_body) if form_body else None,
            )
            body = response.json()
            records = list(extract(body, record_path))
            yield from records
            if not records:
                return
            step = pages.next(response, body, records, query or {})
            if step is None:
                return
            url = step.get("url") or url
            if "params" in step:
                query = None if step["params"] is None else {**(query or {}), **step["params"]}

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


def _guard_pagination(
    name: str, asked: set[str], url: str, query: Mapping[str, Any] | None, max_pages: int
) -> None:
    """Fail instead of looping: the same request twice, or more pages than ``max_pages``."""
    request = json.dumps([url, sorted((query or {}).items())], default=str)
    if request in asked:
        raise TapError(
            f"stream '{name}': the API sent pagination back to a page already read "
            f"({url} {dict(query or {})}); stopping instead of looping forever"
        )
    if len(asked) >= max_pages:
        raise TapError(
            f"stream '{name}': more than {max_pages} pages from {url}; raise max_pages "
            "if the API really has that many"
        )
    asked.add(request)
