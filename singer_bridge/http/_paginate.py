"""Pagination strategies: each says how to ask for the next page, or that there is none.

A paginator's ``next(response, body, records, request)`` returns the changes for the next
request: ``{"params": {...}}`` and/or ``{"url": "..."}``, or ``None`` when done. The stream
stops on an empty page whatever the paginator says, fails on a page asked for twice (a cursor
or next URL the API repeats) and bounds the number of pages.

A short page is not the last page: servers cap the page size below the one asked for (50 of
100), so ``OffsetLimit`` and ``PageNumber`` read on until an empty page, or until the total the
API reports (``total_path``); ``short_page_is_last=True`` saves that last request for an API
known to honour the size asked for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from singer_bridge.http._records import extract_first


class Paginator(Protocol):
    def first(self) -> dict[str, Any]: ...

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class NoPagination:
    def first(self) -> dict[str, Any]:
        return {}

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return None


def _total(body: Any, path: str | None) -> int | None:
    if path is None:
        return None
    value = extract_first(body, path)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class PageNumber:
    """``?page=N``; ``total_path`` names the number of pages in the body, if the API says."""

    param: str = "page"
    start: int = 1
    size_param: str | None = None
    size: int | None = None
    total_path: str | None = None
    short_page_is_last: bool = False

    def first(self) -> dict[str, Any]:
        params: dict[str, Any] = {self.param: self.start}
        if self.size_param and self.size:
            params[self.size_param] = self.size
        return {"params": params}

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        page = int(params.get(self.param, self.start))
        if not records or (self.short_page_is_last and self.size and len(records) < self.size):
            return None
        total = _total(body, self.total_path)
        if total is not None and page - self.start + 1 >= total:
            return None
        return {"params": {self.param: page + 1}}


@dataclass(frozen=True)
class OffsetLimit:
    """``?offset=N&limit=M``; the next offset counts the records received, not the limit asked
    for. ``total_path`` names the total number of records in the body, if the API says."""

    limit: int = 100
    offset_param: str = "offset"
    limit_param: str = "limit"
    total_path: str | None = None
    short_page_is_last: bool = False

    def first(self) -> dict[str, Any]:
        return {"params": {self.offset_param: 0, self.limit_param: self.limit}}

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        if not records or (self.short_page_is_last and len(records) < self.limit):
            return None
        offset = int(params.get(self.offset_param, 0)) + len(records)
        total = _total(body, self.total_path)
        if total is not None and offset >= total:
            return None
        return {"params": {self.offset_param: offset}}


@dataclass(frozen=True)
class CursorToken:
    """A token from the body (``path``) sent back as ``param``."""

    path: str = "next_cursor"
    param: str = "cursor"

    def first(self) -> dict[str, Any]:
        return {}

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        token = extract_first(body, self.path)
        return {"params": {self.param: token}} if token not in (None, "") else None


@dataclass(frozen=True)
class LinkHeader:
    """RFC 8288 ``Link: <url>; rel="next"`` (GitHub style)."""

    def first(self) -> dict[str, Any]:
        return {}

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        link = response.links.get("next", {}).get("url")
        return {"url": link, "params": None} if link else None


@dataclass(frozen=True)
class NextUrl:
    """A full next-page URL in the body (``path``)."""

    path: str = "next"

    def first(self) -> dict[str, Any]:
        return {}

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        link = extract_first(body, self.path)
        return {"url": str(response.url.join(str(link))), "params": None} if link else None
