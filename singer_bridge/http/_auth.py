"""Authenticators as httpx auth flows: bearer, API key (header or query), basic, OAuth2.

OAuth2 covers client credentials and refresh tokens with expiry; when the server rotates the
refresh token, ``on_rotated`` gets the new one (the native source emits it as an Airbyte
CONTROL ``connectorConfig`` message, so the platform stores it). Without an ``on_rotated``,
inside a native source's run, the config key that held the refresh token is updated by the
source itself (CONTROL message, or the config file in Singer mode), and new access tokens are
masked: an author writes no code for either. The client authenticates at
the token endpoint as ``client_auth`` says (RFC 6749 §2.3.1, RFC 7591 names):
``client_secret_basic`` (the default), ``client_secret_post`` or ``none`` (a public client).
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Literal, Protocol, runtime_checkable
from urllib.parse import quote_plus

import httpx

from singer_bridge.errors import ConfigError, TransientError
from singer_bridge.http._client import refusal
from singer_bridge.http._retry import RetryPolicy
from singer_bridge.native._source import running_config_updater, running_source

BasicAuth = httpx.BasicAuth
ClientAuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]
CLIENT_AUTH_METHODS: tuple[ClientAuthMethod, ...] = (
    "client_secret_basic",
    "client_secret_post",
    "none",
)


def client_authentication(
    method: str, client_id: str, client_secret: str | None
) -> tuple[dict[str, str], dict[str, str]]:
    """The form fields and headers that authenticate a client at a token endpoint.

    >>> client_authentication("client_secret_basic", "app 1", "s:cr")
    ({}, {'Authorization': 'Basic YXBwKzE6cyUzQWNy'})
    >>> client_authentication("client_secret_post", "app", "s")
    ({'client_id': 'app', 'client_secret': 's'}, {})
    >>> client_authentication("none", "app", None)
    ({'client_id': 'app'}, {})
    """
    if method not in CLIENT_AUTH_METHODS:
        raise ConfigError(
            f"unknown OAuth client authentication '{method}': use one of "
            + ", ".join(CLIENT_AUTH_METHODS)
        )
    if method == "none":
        return {"client_id": client_id}, {}
    if not client_secret:
        raise ConfigError(f"OAuth client authentication '{method}' needs a client_secret")
    if method == "client_secret_post":
        return {"client_id": client_id, "client_secret": client_secret}, {}
    # RFC 6749 §2.3.1: each part form-encoded, then joined and base64-encoded
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
    return {}, {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}


def refresh_margin(expires_in: float) -> float:
    """How long before its expiry a token is renewed: 30 s, or a tenth of a short life (a
    fixed 30 s would renew a 3 s token before every request).

    >>> refresh_margin(3600), refresh_margin(3), refresh_margin(0)
    (30.0, 0.3, 0.0)
    """
    return min(30.0, max(0.0, expires_in) / 10)


class BearerToken(httpx.Auth):
    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


class ApiKey(httpx.Auth):
    """An API key in a header (``X-Api-Key: KEY``) or in the query (``?api_key=KEY``)."""

    def __init__(self, key: str, name: str = "X-Api-Key", location: str = "header") -> None:
        if location not in ("header", "query"):
            raise ValueError("location must be 'header' or 'query'")
        self.key, self.name, self.location = key, name, location

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.location == "header":
            request.headers[self.name] = self.key
        else:
            request.url = request.url.copy_merge_params({self.name: self.key})
        yield request


@runtime_checkable
class SharedRefreshToken(Protocol):
    """An ``on_rotated`` whose refresh token other processes share (a native source's
    ``config_updater`` in Singer mode): while ``hold()`` is held no other process refreshes,
    and it gives the newest refresh token any of them stored, or ``None``."""

    def __call__(self, value: str) -> None: ...

    def hold(self) -> AbstractContextManager[str | None]: ...


class OAuth2(httpx.Auth):
    """Client-credentials or refresh-token grant; the access token is reused until it expires.

    The token endpoint is retried like any request (5xx, 429 with its ``Retry-After``; network
    errors by ``HttpClient``); a 401 from the API refreshes the token once, however many threads
    got it; ``on_rotated`` gets a refresh token the server rotated, ``on_token`` every new
    access token (to mask it in logs).
    """

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | None,
        refresh_token: str | None = None,
        scopes: Sequence[str] = (),
        on_rotated: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
        on_token: Callable[[str], None] | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        client_auth: ClientAuthMethod = "client_secret_basic",
    ) -> None:
        client_authentication(client_auth, client_id, client_secret)  # refuse a bad one now
        self.client_auth = client_auth
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.refresh_token, self.scopes, self.on_rotated = refresh_token, list(scopes), on_rotated
        self.on_token, self.retry = on_token, retry or RetryPolicy()
        self._clock, self._sleep, self._rand = clock, sleep, rand
        self._access: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self.token_requests = 0

    def is_token_request(self, request: httpx.Request) -> bool:
        return request.url.copy_with(query=None) == httpx.URL(self.token_url).copy_with(query=None)

    def _token_request(self) -> httpx.Request:
        form, headers = client_authentication(self.client_auth, self.client_id, self.client_secret)
        if self.refresh_token:
            form.update(grant_type="refresh_token", refresh_token=self.refresh_token)
        else:
            form["grant_type"] = "client_credentials"
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        return httpx.Request("POST", self.token_url, data=form, headers=headers)

    def _defaults_from_the_running_source(self) -> None:
        """Store rotations and mask tokens through the running native source, unless the
        author said otherwise; looked up at the first refresh, while ``refresh_token`` is
        still the config's value."""
        if self.on_rotated is None and self.refresh_token:
            self.on_rotated = running_config_updater(self.refresh_token)
        if self.on_token is None and (source := running_source()) is not None:
            self.on_token = source.mask_secret

    def _fetch(self) -> Generator[httpx.Request, httpx.Response, None]:
        """Ask for a token, retrying what may pass (5xx, 429) by the retry policy. A refresh
        token shared with other processes is held for the whole exchange, starting from the
        newest one any of them stored."""
        if self.token_requests == 0:
            self._defaults_from_the_running_source()
        shared = self.on_rotated if isinstance(self.on_rotated, SharedRefreshToken) else None
        hold = shared.hold() if shared is not None and self.refresh_token else nullcontext(None)
        with hold as newest:
            if newest:
                self.refresh_token = newest
            attempt = 0
            while True:
                self.token_requests += 1
                response = yield self._token_request()
                status = response.status_code
                if status not in self.retry.retry_statuses:
                    break
                if attempt >= self.retry.max_retries:
                    raise TransientError(
                        f"OAuth2 token endpoint {self.token_url} still failing after "
                        f"{attempt} retries (HTTP {status}); try again later"
                    )
                retry_after = response.headers.get("Retry-After")
                self._sleep(self.retry.backoff(attempt, retry_after, self._rand(), time.time()))
                attempt += 1
            self._take_token(response)

    def _take_token(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            said = refusal(response)
            raise ConfigError(
                f"OAuth2 token request to {self.token_url} failed with HTTP "
                f"{response.status_code}"
                + (f" ({said})" if said else "")
                + f": check client_id, client_secret ({self.client_auth}) and refresh_token"
            )
        body = response.json()
        self._access = str(body["access_token"])
        if self.on_token is not None:
            self.on_token(self._access)
        life = float(body.get("expires_in", 3600))
        self._expires_at = self._clock() + life - refresh_margin(life)
        rotated = body.get("refresh_token")
        if rotated and rotated != self.refresh_token:
            self.refresh_token = str(rotated)
            if self.on_rotated is not None:
                self.on_rotated(self.refresh_token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:
            if self._access is None or self._clock() >= self._expires_at:
                yield from self._fetch()
            sent_with = self._access
            request.headers["Authorization"] = f"Bearer {sent_with}"
        response = yield request
        if response.status_code == 401:  # revoked early: one fresh token, one more try
            with self._lock:
                if self._access == sent_with:  # no other thread refreshed it meanwhile
                    yield from self._fetch()
                request.headers["Authorization"] = f"Bearer {self._access}"
            yield request
