"""A GraphQL API on 127.0.0.1 for the GraphQL stream tests and docs (it answers the queries
the tests send, not GraphQL in general).

``POST /graphql`` with ``{"query", "variables"}`` and ``Authorization: Bearer gql-token-7``:
a query naming ``issues`` gets ``data.repository.issues`` as a Relay connection of the
repository ``$repo`` (``first``, ``after``, ``since`` filter by ``updatedAt``); a query naming a
field the schema lacks (``bogus``) gets a GraphQL ``errors`` array.
"""

from __future__ import annotations

import base64
import json
import threading
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.json_handler import JsonHandler

TOKEN = "gql-token-7"


def _cursor(n: int) -> str:
    return base64.b64encode(f"cursor:{n}".encode()).decode()


def _index(cursor: str | None) -> int:
    return int(base64.b64decode(cursor).decode().split(":")[1]) + 1 if cursor else 0


class GraphqlApi:
    def __init__(self, issues_per_repo: int = 5) -> None:
        self.issues = {
            repo: [
                {
                    "id": f"{repo}-{i}",
                    "title": f"issue {i} of {repo}",
                    "updatedAt": f"2024-02-{i + 1:02d}T00:00:00Z",
                }
                for i in range(issues_per_repo)
            ]
            for repo in ("alpha", "beta")
        }
        self.requests: list[dict[str, Any]] = []
        self.repeat_cursor = False  # a broken server: endCursor never moves
        api = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                doc = json.loads(self.rfile.read(length) or b"{}")
                api.requests.append(doc)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"errors": [{"message": "bad credentials"}]})
                    return
                self._send(200, api.answer(doc.get("query", ""), doc.get("variables") or {}))

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        if "bogus" in query:
            return {
                "data": None,
                "errors": [
                    {
                        "message": "Field 'bogus' doesn't exist on type 'Issue'",
                        "path": ["repository", "issues", "nodes", "bogus"],
                    }
                ],
            }
        repo = variables.get("repo", "alpha")
        rows = [
            i for i in self.issues.get(repo, []) if i["updatedAt"] >= variables.get("since", "")
        ]
        start = 0 if self.repeat_cursor else _index(variables.get("after"))
        page = rows[start : start + int(variables.get("first", 2))]
        end = start + len(page) - 1
        return {
            "data": {
                "repository": {
                    "issues": {
                        "nodes": page,
                        "pageInfo": {
                            "hasNextPage": end + 1 < len(rows),
                            "endCursor": _cursor(end) if page else None,
                        },
                    }
                }
            }
        }

    def start(self) -> GraphqlApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    from tests.support.serve import serve

    serve(GraphqlApi())
