"""A shop API on 127.0.0.1 for the HTTP-layer tests and benchmark (stdlib http.server).

- ``POST /oauth/token`` refresh-token grant; rotates the refresh token once (r1 -> r2);
  ``single_use`` retires each refresh token at its first use.
- ``GET /v1/customers?page=N[&since=ISO]``: 2 per page, sorted by updated_at; bearer token.
- ``GET /v1/regions/{region}/orders?offset=&limit=``: per region; ``page_delay`` seconds each.
- Faults to inject: ``fail_once`` maps a request path+query to a status sent the first time.
- ``synthetic_orders=N``: each region has N orders made on the fly (for the memory benchmark).
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.json_handler import JsonHandler, ServedApi

CLIENT_ID, CLIENT_SECRET = "shop-client", "shop-secret-9"


class ShopApi(ServedApi):
    def __init__(
        self,
        customers: int = 5,
        orders_per_region: int = 3,
        page_delay: float = 0.0,
        regions: tuple[str, ...] = ("eu", "us", "ap"),
        synthetic_orders: int | None = None,
    ) -> None:
        self.customers = [
            {"id": i, "name": f"c{i}", "updated_at": f"2024-01-{i:02d}T00:00:00Z"}
            for i in range(1, customers + 1)
        ]
        self.synthetic_orders = synthetic_orders
        self.regions = regions
        self.orders = {
            region: [
                {"id": n * 100 + i, "region": region, "amount": 1.5 * i}
                for i in range(orders_per_region if synthetic_orders is None else 0)
            ]
            for n, region in enumerate(regions, start=1)
        }
        self.page_delay = page_delay
        self.refresh_tokens = {"r1": "r2", "r2": "r2"}  # the first use rotates the token
        self.single_use = False  # True: a refresh token is retired once used
        self.access_tokens: set[str] = set()
        self.fail_once: dict[str, int] = {}
        self.log: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        api = self

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = parse_qs(self.rfile.read(length).decode())
                token = form.get("refresh_token", [""])[0]
                basic = (
                    "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                )
                secret_ok = (  # RFC 6749 §2.3.1: Basic, or the secret in the form
                    form.get("client_secret", [""])[0] == CLIENT_SECRET
                    or self.headers.get("Authorization") == basic
                )
                with api._lock:
                    rotated = api.refresh_tokens.get(token) if secret_ok else None
                    if rotated is not None and api.single_use:
                        del api.refresh_tokens[token]
                if rotated is None:
                    self._send(401, {"error": "invalid_grant"})
                    return
                access = f"a-{len(api.access_tokens)}"
                api.access_tokens.add(access)
                self._send(
                    200,
                    {
                        "access_token": access,
                        "expires_in": 3600,
                        "refresh_token": rotated,
                    },
                )

            def do_GET(self) -> None:
                with api._lock:
                    api.log.append((time.monotonic(), self.path))
                    status = api.fail_once.pop(self.path, None)
                if status is not None:
                    self.send_response(status)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                auth = self.headers.get("Authorization", "")
                if auth.removeprefix("Bearer ") not in api.access_tokens:
                    self._send(401, {"error": "unauthorized"})
                    return
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                parts = url.path.strip("/").split("/")
                if url.path == "/v1/customers":
                    rows = [c for c in api.customers if c["updated_at"] >= query.get("since", "")]
                    page = int(query.get("page", 1))
                    self._send(200, {"data": rows[(page - 1) * 2 : page * 2]})
                elif len(parts) == 4 and parts[:2] == ["v1", "regions"] and parts[3] == "orders":
                    time.sleep(api.page_delay)
                    offset, limit = int(query.get("offset", 0)), int(query.get("limit", 2))
                    self._send(200, {"orders": api.order_page(parts[2], offset, limit)})
                else:
                    self._send(404, {"error": "not found"})

        self.serve(Handler)

    def order_page(self, region: str, offset: int, limit: int) -> list[dict[str, Any]]:
        if self.synthetic_orders is None:
            return self.orders.get(region, [])[offset : offset + limit]
        n = self.regions.index(region) + 1 if region in self.regions else 0
        end = min(offset + limit, self.synthetic_orders if n else 0)
        return [
            {"id": n * 10_000_000 + i, "region": region, "amount": 1.5 * i}
            for i in range(offset, end)
        ]

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "api_url": self.url,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": "r1",
            "retry_base_seconds": 0.01,
            **extra,
        }
