"""The one seam to the network: send a request, retry by the policy, respect the rate limit.

Tests pass ``transport=httpx.MockTransport(handler)`` or point it at a server on 127.0.0.1.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from singer_bridge.errors import BridgeError
from singer_bridge.http.ratelimit import RateLimiter
from singer_bridge.http.retry import RetryPolicy, decide


class HttpClient:
    def __init__(
        self,
        auth: httpx.Auth | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: RateLimiter | None = None,
        timeout: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.rate_limit = rate_limit
        self._sleep, self._rand = sleep, rand
        self.auth = auth
        self._client = httpx.Client(
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers=dict(headers or {}),
            follow_redirects=True,
        )
        self.requests = 0
        self.retries = 0

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """The response of a request that succeeded, or a ``BridgeError`` saying why not."""
        attempt = 0
        while True:
            if self.rate_limit is not None:
                self.rate_limit.acquire()
            response: httpx.Response | None = None
            error: Exception | None = None
            try:
                self.requests += 1
                response = self._client.request(method, url, **kwargs)
            except BridgeError:
                raise
            except httpx.TransportError as exc:  # connect, read, timeouts: all retryable
                error = exc
            decision = decide(
                self.retry,
                attempt,
                response.status_code if response is not None else None,
                error,
                response.headers if response is not None else {},
                url,
                self._rand(),
            )
            if decision.action == "ok":
                assert response is not None
                return response
            if decision.action == "fail":
                assert decision.error is not None
                raise decision.error
            self.retries += 1
            self._sleep(decision.wait)
            attempt += 1

    def close(self) -> None:
        self._client.close()
