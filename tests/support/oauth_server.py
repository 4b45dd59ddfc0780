"""An OAuth 2.0 authorization server on 127.0.0.1 for the consent-flow tests and docs.

- ``GET /authorize``: checks the client, the loopback redirect URI and the S256 PKCE challenge,
  then approves at once (a 302 to the redirect URI with ``code`` and ``state``), or refuses
  (``error=access_denied``) when ``deny`` is set;
- ``POST /token``: ``authorization_code`` grant: the code once, the same redirect URI, the
  verifier that hashes to the challenge, the client secret; answers a refresh token.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from tests.support.json_handler import JsonHandler

CLIENT_ID, CLIENT_SECRET = "cli-client", "cli-secret-3"


class OAuthServer:
    def __init__(self) -> None:
        self.codes: dict[str, dict[str, str]] = {}
        self.issued: list[str] = []  # refresh tokens given out
        self.deny = False
        api = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                if url.path != "/authorize":
                    self._send(404, {"error": "not found"})
                    return
                problem = api.bad_authorize(query)
                if problem:
                    self._send(400, {"error": "invalid_request", "error_description": problem})
                    return
                if api.deny:
                    back = {"error": "access_denied", "state": query["state"]}
                else:
                    code = secrets.token_urlsafe(16)
                    api.codes[code] = query
                    back = {"code": code, "state": query["state"]}
                self.send_response(302)
                self.send_header("Location", query["redirect_uri"] + "?" + urlencode(back))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                status, body = api.token(form)
                self._send(status, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def bad_authorize(query: dict[str, str]) -> str | None:
        if query.get("client_id") != CLIENT_ID:
            return "unknown client"
        if query.get("response_type") != "code":
            return "response_type must be code"
        if not query.get("redirect_uri", "").startswith("http://127.0.0.1:"):
            return "the redirect URI must be on 127.0.0.1"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "PKCE with S256 is required"
        if not query.get("state"):
            return "state is required"
        return None

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return 401, {"error": "invalid_client"}
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if (
            challenge != grant["code_challenge"]
            or form.get("redirect_uri") != grant["redirect_uri"]
        ):
            return 400, {"error": "invalid_grant"}
        refresh = "rt-" + secrets.token_urlsafe(16)
        self.issued.append(refresh)
        return 200, {"access_token": "at-" + secrets.token_urlsafe(8), "refresh_token": refresh}

    def spec(self) -> dict[str, Any]:
        return {
            "authorization_url": self.url + "/authorize",
            "token_url": self.url + "/token",
            "scopes": ["read", "offline_access"],
        }

    def start(self) -> OAuthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    from tests.support.serve import serve

    serve(OAuthServer())
