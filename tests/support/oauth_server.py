"""OAuth 2.0 authorization server test double on 127.0.0.1, built on Authlib + Flask.

Library does: auth-code grant, PKCE S256 check (rfc7636.CodeChallenge), client auth
methods client_secret_basic / client_secret_post / none (per-client via
check_endpoint_auth_method), refresh grant incl. issuing a new refresh token,
bearer-token validation + RFC 6750 error bodies, error JSON (error, error_description).
We add: in-memory storage, auto-approve (or refuse, with ``deny``), refresh-token family +
reuse detection, loopback redirect URIs on any port (RFC 8252 §7.3).

    with OAuthTestServer(access_ttl=3) as srv:
        srv.url  # http://127.0.0.1:PORT ; endpoints /authorize /token /api/items

Clients: ``basic-client``/``basic-secret`` (client_secret_basic only), ``post-client``/
``post-secret`` (client_secret_post only), ``public-client`` (none: PKCE alone).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, jsonify
from werkzeug.serving import make_server

AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


@dataclass
class Client:  # duck-types authlib.oauth2.rfc6749.ClientMixin
    client_id: str
    client_secret: str | None
    auth_method: str  # exactly one of AUTH_METHODS is accepted at /token
    redirect_uris: list[str]
    scope: str = "items:read"

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope):
        return " ".join(s for s in (scope or "").split() if s in self.scope.split())

    def check_redirect_uri(self, uri):
        if uri in self.redirect_uris:
            return True
        # RFC 8252 §7.3: a loopback redirect URI may use any port
        got = urlsplit(uri)
        return got.hostname == "127.0.0.1" and any(
            urlsplit(r).hostname == "127.0.0.1" and urlsplit(r).path == got.path
            for r in self.redirect_uris
        )

    def check_client_secret(self, s):
        return self.client_secret is not None and hmac.compare_digest(s, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return endpoint != "token" or method == self.auth_method

    def check_response_type(self, rt):
        return rt == "code"

    def check_grant_type(self, gt):
        return gt in ("authorization_code", "refresh_token")


@dataclass
class AuthCode:  # AuthorizationCodeMixin; CodeChallenge reads code_challenge(_method)
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


@dataclass
class Family:  # all tokens descending from one authorization code
    revoked: bool = False


@dataclass
class Token:  # TokenMixin
    client_id: str
    access_token: str
    refresh_token: str | None
    scope: str
    expires_in: int
    family: Family
    issued_at: float = field(default_factory=time.time)
    refresh_used: bool = False  # refresh token already rotated away

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() >= self.issued_at + self.expires_in

    def is_revoked(self):
        return self.family.revoked

    def get_user(self):
        return "user-1"


class OAuthTestServer:
    def __init__(self, access_ttl: int = 3, clients: list[Client] | None = None, port: int = 0):
        self.clients = {c.client_id: c for c in (clients or default_clients())}
        self.codes: dict[str, AuthCode] = {}
        self.by_access: dict[str, Token] = {}
        self.by_refresh: dict[str, Token] = {}
        self.lock = threading.Lock()
        self.deny = False  # True: the person refuses (a redirect with error=access_denied)
        self.issued: list[str] = []  # refresh tokens given out, in order
        self.app = app = Flask(__name__)
        app.config.update(
            OAUTH2_REFRESH_TOKEN_GENERATOR=True,
            OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": access_ttl, "refresh_token": access_ttl},
        )
        srv = self
        self.authz = authz = AuthorizationServer(
            app, query_client=self.clients.get, save_token=self._save_token
        )

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS

            def save_authorization_code(self, code, request):
                d = request.payload.data
                srv.codes[code] = AuthCode(
                    code,
                    request.client.client_id,
                    d.get("redirect_uri"),
                    request.scope or "",
                    d.get("code_challenge"),
                    d.get("code_challenge_method"),
                )

            def query_authorization_code(self, code, client):
                c = srv.codes.get(code)
                return c if c and c.client_id == client.client_id else None

            def delete_authorization_code(self, c):
                srv.codes.pop(c.code, None)

            def authenticate_user(self, c):
                return "user-1"

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = AUTH_METHODS
            INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

            def authenticate_refresh_token(self, rt):
                with srv.lock:
                    tok = srv.by_refresh.get(rt)
                    if tok is None:  # returning None gives a bare {"error":"invalid_grant"}
                        raise InvalidGrantError("Unknown 'refresh_token'.")
                    if not tok.check_client(
                        self.request.client
                    ):  # don't burn another client's token
                        raise InvalidGrantError("'refresh_token' was issued to another client.")
                    if tok.refresh_used or tok.family.revoked:  # reuse: revoke whole family
                        tok.family.revoked = True
                        raise InvalidGrantError(
                            "Refresh token reuse detected; token family revoked."
                        )
                    tok.refresh_used = (
                        True  # claim under the lock: a concurrent replay counts as reuse
                    )
                    return tok

            def authenticate_user(self, tok):
                return tok.get_user()

            def revoke_old_credential(self, tok):
                pass  # already marked used above

        class S256Only(CodeChallenge):  # refuse code_challenge_method=plain
            SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

        authz.register_grant(CodeGrant, [S256Only(required=True)])
        authz.register_grant(RefreshGrant)

        class Validator(BearerTokenValidator):
            def authenticate_token(self, s):
                return srv.by_access.get(s)

        require_oauth = ResourceProtector()
        require_oauth.register_token_validator(Validator())

        @app.get("/authorize")
        def authorize():  # auto-approve as "user-1"
            try:
                grant = authz.get_consent_grant(end_user="user-1")
            except (
                OAuth2Error
            ) as e:  # bad client/redirect_uri -> JSON; others -> redirect with error
                return authz.handle_error_response(None, e)
            user = None if srv.deny else "user-1"  # no user: Authlib answers access_denied
            return authz.create_authorization_response(grant_user=user, grant=grant)

        @app.post("/token")
        def token():
            return authz.create_token_response()

        @app.get("/api/items")
        @require_oauth()
        def items():
            return jsonify(items=[{"id": 1}, {"id": 2}])

        self._http = make_server("127.0.0.1", port, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._http.port}"
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)

    def _save_token(self, token: dict, request):
        old = request.refresh_token  # Token object when grant_type=refresh_token
        t = Token(
            request.client.client_id,
            token["access_token"],
            token.get("refresh_token"),
            token.get("scope", ""),
            token["expires_in"],
            old.family if old else Family(),
        )
        with self.lock:
            self.by_access[t.access_token] = t
            if t.refresh_token:
                self.by_refresh[t.refresh_token] = t
                self.issued.append(t.refresh_token)

    def tokens_for(self, client_id: str, secret: str | None = None) -> dict[str, Any]:
        """A token response for a consent given at once (code + PKCE; the client authenticated
        by its own method), as an app's first login would leave it."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        client = self.clients[client_id]
        redirect = client.redirect_uris[0]
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect,
            "state": "s",
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        location = httpx.get(self.url + "/authorize", params=query).headers["location"]
        code = httpx.URL(location).params["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
        form["code_verifier"] = verifier
        auth = None
        if client.auth_method == "client_secret_basic":
            auth = httpx.BasicAuth(client_id, secret or "")
        elif client.auth_method == "client_secret_post":
            form.update(client_id=client_id, client_secret=secret or "")
        else:
            form["client_id"] = client_id
        response = httpx.post(self.url + "/token", data=form, auth=auth)
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def spec(self, scopes: tuple[str, ...] = ("items:read",)) -> dict[str, Any]:
        """The provider block ``singer-bridge oauth`` reads."""
        return {
            "authorization_url": self.url + "/authorize",
            "token_url": self.url + "/token",
            "scopes": list(scopes),
        }

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


def default_clients(redirect="http://127.0.0.1:8765/callback"):
    return [
        Client("basic-client", "basic-secret", "client_secret_basic", [redirect]),
        Client("post-client", "post-secret", "client_secret_post", [redirect]),
        Client("public-client", None, "none", [redirect]),
    ]


if __name__ == "__main__":
    from tests.support.serve import serve

    serve(OAuthTestServer(access_ttl=3600))
