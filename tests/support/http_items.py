"""A tiny paginated JSON API on 127.0.0.1 for the REST-tap tests.

``GET /items?since=ISO&offset=N`` returns ``{"items": [...], "next_page": N2 | null}``, two items
a page, only items with ``updated_at >= since``; ``Authorization: Bearer TOKEN`` is required.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.json_handler import JsonHandler, ServedApi

TOKEN = "rest-token-0042"
PAGE = 2


class ItemsApi(ServedApi):
    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = [
            {
                "id": i,
                "name": f"item {i}",
                "price": 10.5 * i,
                "updated_at": f"2024-01-0{i}T00:00:00Z",
            }
            for i in range(1, 6)
        ]
        self.requests: list[str] = []
        api = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                api.requests.append(self.path)
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, {"error": "unauthorized"})
                    return
                url = urlparse(self.path)
                if url.path != "/items":
                    self._send(404, {"error": "not found"})
                    return
                query = parse_qs(url.query)
                since = query.get("since", [""])[0]
                offset = int(query.get("offset", ["0"])[0] or 0)
                rows = [i for i in api.items if i["updated_at"] >= since]
                page = rows[offset : offset + PAGE]
                nxt = offset + PAGE if offset + PAGE < len(rows) else None
                self._send(200, {"items": page, "next_page": nxt})

        self.serve(Handler)
