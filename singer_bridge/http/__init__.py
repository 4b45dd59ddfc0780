"""The HTTP-API layer for native sources: REST, GraphQL and asynchronous-job streams as data,
one client seam, decisions as values."""

from singer_bridge.http.auth import ApiKey, BasicAuth, BearerToken, OAuth2
from singer_bridge.http.client import HttpClient
from singer_bridge.http.graphql import graphql_stream
from singer_bridge.http.jobs import async_job_stream
from singer_bridge.http.paginate import (
    CursorToken,
    LinkHeader,
    NextUrl,
    NoPagination,
    OffsetLimit,
    PageNumber,
)
from singer_bridge.http.ratelimit import RateLimiter
from singer_bridge.http.retry import RetryPolicy
from singer_bridge.http.stream import http_stream

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
