"""The one seam to the network: send a request, retry by the policy, respect the rate limit.

Tests pass ``transport=httpx.MockTransport(handler)`` or point it at a server on 127.0.0.1.

Credentials stay on their origin (scheme, host and port): a request or a redirect to another
origin, such as a job's result on presigned storage, goes without the client's auth, cookies
or custom headers; only the headers of ``NEUTRAL_HEADERS`` travel there.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from singer_bridge._translate.masking import redact_url_secrets
from singer_bridge.errors import BridgeError, TapError
from singer_bridge.http._ratelimit import RateLimiter
from singer_bridge.http._retry import IDEMPOTENT_METHODS, RetryPolicy, decide

# the headers a request may carry to an origin other than the one it was meant for
NEUTRAL_HEADERS = frozenset(
    {
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "accept-language",
        "connection",
        "content-type",
        "content-length",
        "transfer-encoding",
        "range",
    }
)
MAX_REDIRECTS = 20


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """Whether two URLs share scheme, host and port (default ports filled in).

    >>> same_origin(httpx.URL("https://api.example.com/x"), httpx.URL("https://api.example.com:443/y"))
    True
    >>> same_origin(httpx.URL("https://api.example.com"), httpx.URL("https://bucket.s3.amazonaws.com"))
    False
    """
    return (a.scheme, a.host, _port(a)) == (b.scheme, b.host, _port(b))


def _port(url: httpx.URL) -> int | None:
    return url.port or {"http": 80, "https": 443}.get(url.scheme)


def _strip_credentials(request: httpx.Request) -> None:
    for name in [n for n in request.headers if n.lower() not in NEUTRAL_HEADERS]:
        del request.headers[name]


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
        # one budget for every thread using this client, fed by the server's headers too
        self.rate_limit = rate_limit or RateLimiter(None, sleep=sleep)
        self._sleep, self._rand = sleep, rand
        self.auth = auth
        self._client = httpx.Client(
            auth=auth,
            timeout=timeout,
            transport=transport,
            headers=dict(headers or {}),
            follow_redirects=False,  # followed by _exchange, which keeps credentials on origin
        )
        self.requests = 0
        self.retries = 0

    def send(
        self, method: str, url: str, *, idempotent: bool | None = None, **kwargs: Any
    ) -> httpx.Response:
        """The response of a request that succeeded, or a ``BridgeError`` saying why not.

        After a transport error only idempotent methods are sent again (``idempotent=True``
        says a POST is safe to repeat); a failed token request is always retried.
        """
        safe = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent

        def perform() -> httpx.Response:
            request = self._client.build_request(method, url, **kwargs)
            return self._exchange(request, request.url, stream=False)

        return self._retrying(url, safe, perform)

    def download(self, url: str, dest: Path, *, origin: str | None = None, **kwargs: Any) -> Path:
        """GET ``url`` into the file ``dest`` chunk by chunk (never whole in memory), retried
        like ``send``; a ``Content-Encoding: gzip`` body is stored decoded. ``origin`` is the
        API's: a ``url`` elsewhere (presigned storage, say) is fetched without credentials."""

        def fetch() -> httpx.Response:
            request = self._client.build_request("GET", url, **kwargs)
            trusted = httpx.URL(origin) if origin is not None else request.url
            response = self._exchange(request, trusted, stream=True)
            try:
                if response.status_code == 200:
                    with dest.open("wb") as out:
                        for chunk in response.iter_bytes():
                            out.write(chunk)
                else:
                    response.read()
            finally:
                response.close()
            return response

        self._retrying(url, True, fetch)
        return dest

    def _exchange(
        self, request: httpx.Request, trusted: httpx.URL, *, stream: bool
    ) -> httpx.Response:
        """Send ``request`` and follow its redirects; the client's auth goes only to the
        ``trusted`` origin, and a hop anywhere else loses every non-neutral header."""
        for _ in range(MAX_REDIRECTS + 1):
            home = same_origin(request.url, trusted)
            if not home:
                _strip_credentials(request)
            auth: Any = httpx.USE_CLIENT_DEFAULT if home else None
            response = self._client.send(request, auth=auth, stream=stream)
            following = response.next_request
            if following is None:
                return response
            response.close()
            request = following
        raise TapError(f"more than {MAX_REDIRECTS} redirects from {trusted}")

    @staticmethod
    def base_url_join(base: str, url: str) -> httpx.URL:
        """``url`` (absolute, or relative to ``base``) as an absolute URL."""
        return httpx.URL(base).join(url)

    def _retrying(
        self, url: str, safe: bool, perform: Callable[[], httpx.Response]
    ) -> httpx.Response:
        attempt = 0
        while True:
            self.rate_limit.acquire()
            response: httpx.Response | None = None
            error: Exception | None = None
            repeatable = safe
            try:
                self.requests += 1
                response = perform()
            except BridgeError:
                raise
            except httpx.TransportError as exc:
                error = exc
                repeatable = safe or self._is_token_request(exc)
            if response is not None:
                self.rate_limit.observe(response.headers)
            decision = decide(
                self.retry,
                attempt,
                response.status_code if response is not None else None,
                error,
                response.headers if response is not None else {},
                url,
                self._rand(),
                idempotent=repeatable,
            )
            if decision.action == "ok":
                assert response is not None
                return response
            if decision.action == "fail":
                assert decision.error is not None
                raise _with_refusal(decision.error, response)
            self.retries += 1
            if response is not None and "Retry-After" in response.headers:
                self.rate_limit.pause(decision.wait)  # the server's word: every thread waits
            else:
                self._sleep(decision.wait)
            attempt += 1

    def _is_token_request(self, exc: httpx.TransportError) -> bool:
        check = getattr(self.auth, "is_token_request", None)
        try:
            return check is not None and bool(check(exc.request))
        except RuntimeError:  # no request attached to the error
            return False

    def close(self) -> None:
        self._client.close()

    @property
    def closed(self) -> bool:
        return self._client.is_closed

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


_XML_FIELD = re.compile(r"<(Code|Message)>([^<]{0,300})</\1>")
_REFUSAL_CHARS = 300


def refusal(response: httpx.Response) -> str:
    """What the server said when it refused a request, in short: S3-style XML ``Code`` and
    ``Message``, a JSON ``error``/``error_description``/``message``, or the start of the body;
    signing parameters masked before anything is cut.

    >>> refusal(httpx.Response(403, text="<Error><Code>AccessDenied</Code>"
    ...     "<Message>Request has expired</Message></Error>"))
    'AccessDenied: Request has expired'
    >>> refusal(httpx.Response(400, json={"error": "invalid_grant", "error_description": "used"}))
    'invalid_grant: used'
    """
    try:
        text = response.text
    except (httpx.ResponseNotRead, httpx.StreamError, UnicodeDecodeError):
        return ""
    found = dict(_XML_FIELD.findall(text))
    if not found:
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        if isinstance(body, dict):
            found = {
                "Code": str(body.get("error") or ""),
                "Message": str(body.get("error_description") or body.get("message") or ""),
            }
            if isinstance(body.get("error"), dict):  # {"error": {"message": ...}}
                found = {"Code": "", "Message": str(body["error"].get("message") or "")}
    if found:
        said = ": ".join(v for v in (found.get("Code"), found.get("Message")) if v)
    else:
        said = " ".join(text.split())
    said = redact_url_secrets(said)  # masked first: a cut never leaves half a secret
    return said if len(said) <= _REFUSAL_CHARS else said[:_REFUSAL_CHARS] + "..."


def _with_refusal(error: BridgeError, response: httpx.Response | None) -> BridgeError:
    said = refusal(response) if response is not None and response.status_code >= 400 else ""
    if not said:
        return error
    return type(error)(
        f"{error.message}; the server said: {said}",
        internal_message=error.internal_message,
        stream=error.stream,
    )


ClientChoice = HttpClient | Callable[[], HttpClient] | None


@contextmanager
def client_for_read(client: ClientChoice) -> Iterator[HttpClient]:
    """The client one read uses: a shared ``HttpClient`` as it is; one made for this read (by
    a factory, or the default) is closed when the read ends."""
    if isinstance(client, HttpClient):
        yield client
        return
    with client() if client is not None else HttpClient() as http:
        yield http
