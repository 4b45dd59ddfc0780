"""A help-desk API on 127.0.0.1 for the declarative-manifest source (Flask, served by werkzeug).

fixtures/airbyte-manifest/tickets.yaml reads it through the Airbyte CDK:

- ``GET /api/tickets?updated_since=ISO&page=N&per_page=K``: tickets with ``updated_at >=
  updated_since`` (inclusive, as a cursor's start is), sorted by ``(updated_at, id)``, a page at
  a time: ``{"data": [...], "next_page": N+1 | null}``.
- ``GET /api/agents?page=N&per_page=K``: the same pages, every agent (a full-refresh stream).
- Every request needs ``Authorization: Bearer TOKEN`` (or an access token issued below), else
  401.
- ``POST /oauth/token`` (form: ``grant_type=refresh_token``, ``refresh_token``, ``client_id``,
  ``client_secret``): single-use refresh tokens, ``r1`` -> ``r2`` -> ...; each use retires the
  token and issues a new access token that expires in ``access_ttl`` seconds.

- ``POST /api/tickets?updated_at=ISO`` (the same bearer token): a new ticket, as
  ``add_ticket()`` (for a shell between two syncs, as docs/airbyte-in-meltano.md does).

``add_ticket()`` and ``touch_ticket()`` change the data between reads; ``requests`` records the
query string of every request served, to prove what a resumed read asked for.

    python -m tests.support.tickets_api --url-file api.url &
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import WSGIRequestHandler, make_server

TOKEN = "tickets-token-7f3a"  # a test double's secret
CLIENT_ID, CLIENT_SECRET = "desk-client", "desk-secret-3"
PER_PAGE = 2


def _ticket(n: int, updated_at: str) -> dict[str, Any]:
    return {
        "id": n,
        "subject": f"ticket {n}",
        "status": "open" if n % 2 else "closed",
        "priority": n % 3 + 1,
        "amount": round(n * 10.25, 2),
        "tags": [f"t{n}", "desk"],
        "updated_at": updated_at,
    }


class _Quiet(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class TicketsApi:
    def __init__(self, tickets: int = 5) -> None:
        self.tickets = [_ticket(n, f"2024-03-{n:02d}T10:00:00Z") for n in range(1, tickets + 1)]
        self.agents = [
            {"id": 1, "name": "Ada", "email": "ada@example.com", "active": True},
            {"id": 2, "name": "Bo", "email": "bo@example.com", "active": False},
            {"id": 3, "name": "Cy", "email": None, "active": True},
        ]
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.refresh_tokens = {"r1"}  # live refresh tokens; each works once
        self.issued: list[str] = []  # refresh tokens handed out, in order
        self.access_tokens: set[str] = set()
        self.access_ttl = 1
        self._lock = threading.Lock()
        self.app = app = Flask(__name__)
        app.add_url_rule("/api/tickets", view_func=self._tickets)
        app.add_url_rule("/api/tickets", view_func=self._new_ticket, methods=["POST"])
        app.add_url_rule("/api/agents", view_func=self._agents)
        app.add_url_rule("/oauth/token", view_func=self._token, methods=["POST"])
        self._http = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._http.port}"
        self._thread = threading.Thread(target=self._http.serve_forever, args=(0.05,), daemon=True)

    def add_ticket(self, updated_at: str) -> dict[str, Any]:
        with self._lock:
            ticket = _ticket(len(self.tickets) + 1, updated_at)
            self.tickets.append(ticket)
            return ticket

    def touch_ticket(self, ticket_id: int, updated_at: str, status: str) -> dict[str, Any]:
        with self._lock:
            ticket = next(t for t in self.tickets if t["id"] == ticket_id)
            ticket.update(updated_at=updated_at, status=status)
            return dict(ticket)

    def sorted_tickets(self) -> list[dict[str, Any]]:
        with self._lock:
            return sorted(self.tickets, key=lambda t: (t["updated_at"], t["id"]))

    def _page(self, path: str, rows: list[dict[str, Any]]) -> Response | tuple[Response, int]:
        self.requests.append((path, dict(request.args)))
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if bearer != TOKEN and bearer not in self.access_tokens:
            return jsonify({"error": "unauthorized"}), 401
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", str(PER_PAGE)))
        chunk = rows[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(rows)
        return jsonify({"data": chunk, "next_page": page + 1 if more else None})

    def _new_ticket(self) -> Response | tuple[Response, int]:
        if request.headers.get("Authorization", "").removeprefix("Bearer ") != TOKEN:
            return jsonify({"error": "unauthorized"}), 401
        updated_at = request.args.get("updated_at")
        if not updated_at:
            return jsonify({"error": "updated_at is required"}), 400
        return jsonify(self.add_ticket(updated_at)), 201

    def _token(self) -> Response | tuple[Response, int]:
        form = request.form
        if (form.get("client_id"), form.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
            return jsonify({"error": "invalid_client"}), 401
        with self._lock:
            token = form.get("refresh_token", "")
            if form.get("grant_type") != "refresh_token" or token not in self.refresh_tokens:
                return jsonify({"error": "invalid_grant"}), 400
            self.refresh_tokens.discard(token)
            n = len(self.issued) + 2
            new, access = f"r{n}", f"a{n - 1}"
            self.refresh_tokens.add(new)
            self.issued.append(new)
            self.access_tokens.add(access)
        return jsonify(
            {"access_token": access, "refresh_token": new, "expires_in": self.access_ttl}
        )

    def _tickets(self) -> Response | tuple[Response, int]:
        since = request.args.get("updated_since", "")
        rows = [t for t in self.sorted_tickets() if t["updated_at"] >= since]
        return self._page("/api/tickets", rows)

    def _agents(self) -> Response | tuple[Response, int]:
        with self._lock:
            rows = list(self.agents)
        return self._page("/api/agents", rows)

    def start(self) -> TicketsApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)


if __name__ == "__main__":
    from tests.support.serve import serve

    serve(TicketsApi())
