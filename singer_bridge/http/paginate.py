"""Pagination strategies: each says how to ask for the next page, or that there is none.

A paginator's ``next(response, body, records, request)`` returns the changes for the next
request: ``{"params": {...}}`` and/or ``{"url": "..."}``, or ``None`` when done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from singer_bridge.http.records import extract_first


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


@dataclass(frozen=True)
class PageNumber:
    param: str = "page"
    start: int = 1
    size_param: str | None = None
    size: int | None = None

    def first(self) -> dict[str, Any]:
        params: dict[str, Any] = {self.param: self.start}
        if self.size_param and self.size:
            params[self.size_param] = self.size
        return {"params": params}

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        if not records or (self.size and len(records) < self.size):
            return None
        return {"params": {self.param: int(params.get(self.param, self.start)) + 1}}


@dataclass(frozen=True)
class OffsetLimit:
    limit: int = 100
    offset_param: str = "offset"
    limit_param: str = "limit"

    def first(self) -> dict[str, Any]:
        return {"params": {self.offset_param: 0, self.limit_param: self.limit}}

    def next(
        self, response: httpx.Response, body: Any, records: Sequence[Any], params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        if len(records) < self.limit:
            return None
        return {"params": {self.offset_param: int(params.get(self.offset_param, 0)) + self.limit}}


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
