"""``oauth``: get a refresh token by the OAuth 2.0 authorization-code grant with PKCE.

    singer-bridge oauth --spec oauth.json --config config.json

``oauth.json`` names the provider (or holds it under ``"oauth2"``, as a connector spec may)::

    {"authorization_url": "https://provider/authorize", "token_url": "https://provider/token",
     "scopes": ["read", "offline_access"]}

The client id (and secret, for a confidential client) come from the config file
(``client_id`` / ``client_secret``, or the keys the spec names). ``token_endpoint_auth_method``
(config or spec) says how the client authenticates: ``client_secret_basic`` (the default with a
secret, RFC 6749 §2.3.1), ``client_secret_post``, or ``none`` (a public client; the default
without a secret). ``extra_params`` add to the authorization URL but may not replace what the
flow's safety rests on (``state``, the PKCE challenge, ``redirect_uri``). A listener on
127.0.0.1 takes the redirect; the code is exchanged with its PKCE verifier, and the refresh
token is written
into the config file (0600, replaced atomically). Nothing secret is printed: the
authorization URL carries only the client id, the PKCE challenge and a one-time state.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import secrets
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse, urlsplit, urlunsplit

from singer_bridge._files import load_json_object, write_config_file
from singer_bridge.errors import BridgeError, ConfigError
from singer_bridge.http._auth import client_authentication
from singer_bridge.http._client import HttpClient

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
# what extra_params may not set: the flow's own protection against a forged or stolen code
_FLOW_PARAMS = frozenset(
    {
        "state",
        "code_challenge",
        "code_challenge_method",
        "redirect_uri",
        "response_type",
        "client_id",
    }
)


def provider_settings(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """The provider block of an oauth spec file: top level, under ``spec``, or ``oauth2``."""
    for key in ("spec", "connectionSpecification", "oauth2"):
        if isinstance(doc.get(key), dict) and "authorization_url" not in doc:
            doc = doc[key]
    for key in ("authorization_url", "token_url"):
        url = doc.get(key)
        if not isinstance(url, str) or not url:
            raise ConfigError(f"{where} names no {key}")
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
            raise ConfigError(f"{where}: {key} must be https (plain http only on 127.0.0.1)")
    return doc


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 challenge (RFC 7636).

    >>> verifier, challenge = pkce_pair()
    >>> 43 <= len(verifier) <= 128 and "=" not in challenge
    True
    """
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class _Redirect:
    """The one redirect the listener waits for: its code, or the error the provider sent."""

    def __init__(self, state: str) -> None:
        self.state = state
        self.code: str | None = None
        self.error: str | None = None
        self.done = threading.Event()

    def take(self, query: dict[str, list[str]]) -> tuple[int, str]:
        if query.get("state", [""])[0] != self.state:
            return 400, "This sign-in link is not the one singer-bridge is waiting for."
        if "error" in query:
            self.error = query["error"][0]
            return 200, f"Authorization refused ({html.escape(self.error)}). You can close this."
        if "code" not in query:
            return 400, "The provider sent no authorization code."
        self.code = query["code"][0]
        return 200, "Authorized: singer-bridge has the token. You can close this window."


def _listener(redirect: _Redirect, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            status, text = (
                redirect.take(parse_qs(url.query))
                if url.path == "/callback"
                else (404, "Not found.")
            )
            data = f"<!doctype html><title>singer-bridge</title><p>{text}</p>".encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
            if redirect.code is not None or redirect.error is not None:
                redirect.done.set()  # after the page went out: the listener may stop now

        def log_message(self, *args: Any) -> None:  # the query holds the code: never logged
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _authorization_url(base: str, params: dict[str, str]) -> str:
    parts = urlsplit(base)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _extra_params(provider: dict[str, Any]) -> dict[str, str]:
    extra = {str(k): str(v) for k, v in (provider.get("extra_params") or {}).items()}
    clash = sorted(_FLOW_PARAMS.intersection(extra))
    if clash:
        raise ConfigError(
            f"extra_params may not set {', '.join(clash)}: singer-bridge sets them to keep the "
            "authorization safe (state, PKCE, the loopback redirect)"
        )
    return extra


def _exchange(
    provider: dict[str, Any], form: dict[str, str], headers: dict[str, str], timeout: float
) -> dict[str, Any]:
    with HttpClient(timeout=timeout) as client:
        try:
            # a POST: sent once after a transport error (the code is single use)
            response = client.send("POST", provider["token_url"], data=form, headers=headers)
        except BridgeError as exc:
            raise ConfigError(f"the code exchange failed: {exc.message}") from exc
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        body = {}
    return body


def authorize(
    provider: dict[str, Any],
    config: dict[str, Any],
    port: int = 0,
    timeout: float = 300.0,
    open_browser: bool = True,
    say: Any = sys.stderr.write,
) -> str:
    """Run the consent flow; the refresh token. ``say`` gets what a person reads."""
    client_id = config.get(provider.get("client_id_key", "client_id"))
    if not client_id:
        raise ConfigError("the config has no client_id for the OAuth flow")
    secret = config.get(provider.get("client_secret_key", "client_secret"))
    method = str(
        config.get("token_endpoint_auth_method")
        or provider.get("token_endpoint_auth_method")
        or ("client_secret_basic" if secret else "none")
    )
    client_form, client_headers = client_authentication(
        method, str(client_id), str(secret) if secret else None
    )
    extra = _extra_params(provider)
    verifier, challenge = pkce_pair()
    redirect = _Redirect(secrets.token_urlsafe(24))
    server = _listener(redirect, port)
    try:
        redirect_uri = f"http://127.0.0.1:{server.server_address[1]}/callback"
        params = {
            **extra,
            "response_type": "code",
            "client_id": str(client_id),
            "redirect_uri": redirect_uri,
            "state": redirect.state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if provider.get("scopes"):
            params["scope"] = " ".join(provider["scopes"])
        url = _authorization_url(provider["authorization_url"], params)
        say(f"Open this URL in a browser and approve access:\n  {url}\n")
        say(f"Waiting for the redirect to {redirect_uri} ...\n")
        if open_browser:
            webbrowser.open(url)
        if not redirect.done.wait(timeout):
            raise ConfigError(f"no redirect came within {timeout:g} s; run the command again")
    finally:
        server.shutdown()
        server.server_close()
    if redirect.error is not None or redirect.code is None:
        raise ConfigError(f"the provider refused the authorization: {redirect.error}")
    form = {
        "grant_type": "authorization_code",
        "code": redirect.code,
        "redirect_uri": redirect_uri,
        "code_verifier": verifier,
        **client_form,
    }
    body = _exchange(provider, form, client_headers, timeout=60.0)
    token = body.get("refresh_token")
    if not token:
        error = ": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
        error = error or "no refresh_token in the answer"
        raise ConfigError(
            f"the token endpoint gave no refresh token ({error}); some providers need a scope "
            "such as offline_access for one"
        )
    return str(token)


class OAuthCommand:
    name = "oauth"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(
            self.name, help="get a refresh token (authorization code + PKCE) into a config file"
        )
        parser.add_argument("--spec", required=True, help="the provider's OAuth URLs (JSON)")
        parser.add_argument("--config", required=True, help="the config file to write it into")
        parser.add_argument("--port", type=int, default=0, help="listener port (0: any free)")
        parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait")
        parser.add_argument("--no-browser", action="store_true", help="only print the URL")

    def run(self, args: argparse.Namespace) -> int:
        try:
            provider = provider_settings(load_json_object(args.spec, "oauth spec"), args.spec)
            config = load_json_object(args.config, "config")
            token = authorize(provider, config, args.port, args.timeout, not args.no_browser)
            key = provider.get("refresh_token_key", "refresh_token")
            mode = write_config_file(Path(args.config), {**config, key: token})
        except BridgeError as exc:
            sys.stderr.write(f"singer-bridge oauth: {exc.message}\n")
            return 1
        except OSError as exc:
            sys.stderr.write(f"singer-bridge oauth: cannot write '{args.config}': {exc}\n")
            return 1
        sys.stderr.write(f"Wrote {key} into '{args.config}' (mode {mode:04o}).\n")
        return 0


__all__ = ["OAuthCommand", "authorize", "pkce_pair", "provider_settings"]
