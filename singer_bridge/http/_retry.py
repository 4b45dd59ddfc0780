"""Retry decisions as values: pure functions of the attempt, the status or error, and headers.

>>> decide(RetryPolicy(), 0, 429, None, {"Retry-After": "3"}, "https://x/items", 0.5).wait
3.0
>>> decide(RetryPolicy(), 0, 401, None, {}, "https://x/items", 0.5).error.failure_type
'config_error'
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import httpx

from singer_bridge._translate.masking import redact_url_secrets
from singer_bridge.errors import BridgeError, ConfigError, TapError, TransientError

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
# Methods that may be sent twice (RFC 9110 9.2.2): a transport error after the request left
# may mean it was applied, so only these are retried then, unless a stream says its POST is safe.
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


def _never_sent(exc: Exception) -> bool:
    """Connect failures: the request never reached the server, so any method may be retried."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_seconds`` caps our own exponential backoff; ``max_retry_after`` caps how long a
    server's ``Retry-After`` is waited for (a longer one fails the request instead)."""

    max_retries: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 60.0
    retry_statuses: frozenset[int] = field(default=RETRY_STATUSES)
    max_retry_after: float = 900.0

    def backoff(self, attempt: int, retry_after: str | None, rand: float, now: float) -> float:
        """Seconds to wait: the server's Retry-After if given, else exponential with jitter."""
        told = _retry_after_seconds(retry_after, now)
        if told is not None:
            return min(self.max_retry_after, told)
        exponential = min(self.max_seconds, self.base_seconds * 2.0**attempt)
        return exponential * (0.5 + rand / 2)  # "equal jitter": never less than half


@dataclass(frozen=True, slots=True)
class Decision:
    action: Literal["ok", "retry", "fail"]
    wait: float = 0.0
    error: BridgeError | None = None


def _retry_after_seconds(value: str | None, now: float) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def decide(
    policy: RetryPolicy,
    attempt: int,
    status: int | None,
    exc: Exception | None,
    headers: Mapping[str, str],
    url: str,
    rand: float,
    now: float | None = None,
    *,
    idempotent: bool = True,
) -> Decision:
    """What to do after attempt number ``attempt`` (0-based) of a request to ``url``;
    ``idempotent`` says whether the request may be sent again after a transport error."""
    now = time.time() if now is None else now
    url = redact_url_secrets(url)  # a presigned URL's signature is a credential
    if exc is not None and not idempotent and not _never_sent(exc):
        return Decision(
            "fail",
            error=TransientError(
                f"{url} failed ({type(exc).__name__}: {exc}) and was not retried: the request "
                "may have been applied; mark the stream idempotent if it is safe to repeat"
            ),
        )
    if exc is not None or (status is not None and status in policy.retry_statuses):
        what = f"{type(exc).__name__}: {exc}" if exc is not None else f"HTTP {status}"
        told = _retry_after_seconds(headers.get("Retry-After"), now)
        if told is not None and told > policy.max_retry_after:
            return Decision(
                "fail",
                error=TransientError(
                    f"{url} answered {what} and asked to retry after {told:.0f} s, more than "
                    f"max_retry_after ({policy.max_retry_after:g} s); try again later"
                ),
            )
        if attempt < policy.max_retries:
            wait = policy.backoff(attempt, headers.get("Retry-After"), rand, now)
            return Decision("retry", wait)
        return Decision(
            "fail",
            error=TransientError(
                f"{url} still failing after {policy.max_retries} retries ({what}); try again later"
            ),
        )
    assert status is not None
    if status in (401, 403):
        return Decision(
            "fail",
            error=ConfigError(
                f"HTTP {status} from {url}: the credentials in the config were refused "
                f"({'unauthorized' if status == 401 else 'forbidden'})"
            ),
        )
    if status >= 400:
        return Decision("fail", error=TapError(f"HTTP {status} from {url}"))
    return Decision("ok")
