"""Authenticators as httpx auth flows: bearer, API key (header or query), basic, OAuth2.

OAuth2 covers client credentials and refresh tokens with expiry; when the server rotates the
refresh token, ``on_rotated`` gets the new one (the native source emits it as an Airbyte
CONTROL ``connectorConfig`` message, so the platform stores it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence

import httpx

from singer_bridge.errors import ConfigError

BasicAuth = httpx.BasicAuth


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


class OAuth2(httpx.Auth):
    """Client-credentials or refresh-token grant; the access token is reused until it expires."""

    requires_response_body = True

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        refresh_token: str | None = None,
        scopes: Sequence[str] = (),
        on_rotated: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token_url, self.client_id, self.client_secret = token_url, client_id, client_secret
        self.refresh_token, self.scopes, self.on_rotated = refresh_token, list(scopes), on_rotated
        self._clock = clock
        self._access: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def _token_request(self) -> httpx.Request:
        form = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.refresh_token:
            form.update(grant_type="refresh_token", refresh_token=self.refresh_token)
        else:
            form["grant_type"] = "client_credentials"
        if self.scopes:
            form["scope"] = " ".join(self.scopes)
        return httpx.Request("POST", self.token_url, data=form)

    def _take_token(self, response: httpx.Response) -> None:
        if response.status_code != 200:
            raise ConfigError(
                f"OAuth2 token request to {self.token_url} failed with HTTP "
                f"{response.status_code}: check client_id, client_secret and refresh_token"
            )
        body = response.json()
        self._access = str(body["access_token"])
        self._expires_at = self._clock() + float(body.get("expires_in", 3600)) - 30
        rotated = body.get("refresh_token")
        if rotated and rotated != self.refresh_token:
            self.refresh_token = str(rotated)
            if self.on_rotated is not None:
                self.on_rotated(self.refresh_token)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        with self._lock:
            if self._access is None or self._clock() >= self._expires_at:
                self._take_token((yield self._token_request()))
            request.headers["Authorization"] = f"Bearer {self._access}"
        response = yield request
        if response.status_code == 401:  # revoked early: one fresh token, one more try
            with self._lock:
                self._take_token((yield self._token_request()))
                request.headers["Authorization"] = f"Bearer {self._access}"
            yield request
