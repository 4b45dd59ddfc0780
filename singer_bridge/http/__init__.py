"""The HTTP-API layer for native sources: REST, GraphQL and asynchronous-job streams as data,
one client seam, decisions as values."""

from singer_bridge.http._auth import ApiKey, BasicAuth, BearerToken, OAuth2
from singer_bridge.http._client import HttpClient
from singer_bridge.http._graphql import graphql_stream
from singer_bridge.http._jobs import async_job_stream
from singer_bridge.http._paginate import (
    CursorToken,
    LinkHeader,
    NextUrl,
    NoPagination,
    OffsetLimit,
    PageNumber,
)
from singer_bridge.http._ratelimit import RateLimiter
from singer_bridge.http._retry import RetryPolicy
from singer_bridge.http._stream import http_stream

__all__ = [
    "ApiKey",
    "BasicAuth",
    "BearerToken",
    "CursorToken",
    "HttpClient",
    "LinkHeader",
    "NextUrl",
    "NoPagination",
    "OAuth2",
    "OffsetLimit",
    "PageNumber",
    "RateLimiter",
    "RetryPolicy",
    "async_job_stream",
    "graphql_stream",
    "http_stream",
]
