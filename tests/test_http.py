"""The HTTP layer: retry decisions, rate limit, pagination, auth (unit, with fake clocks and
httpx.MockTransport), and the example HTTP source end to end against a server on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from singer_bridge.errors import BridgeError, ConfigError, TapError
from singer_bridge.http import (
    ApiKey,
    BearerToken,
    CursorToken,
    HttpClient,
    LinkHeader,
    NextUrl,
    OAuth2,
    OffsetLimit,
    PageNumber,
    RateLimiter,
    RetryPolicy,
    http_stream,
)
from singer_bridge.http._retry import decide
from singer_bridge.native._stream import ReadContext
from tests.airbyte_check import (
    by_type,
    errors,
    final_states,
    records,
    stream_statuses,
    validate_output,
)
from tests.support.shop_api import ShopApi

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "taps" / "source-example-http" / "source_example_http.py"


# -- decisions and limits, no network ----------------------------------------------------------
def test_retry_decisions() -> None:
    policy = RetryPolicy(max_retries=2, base_seconds=1, max_seconds=10)
    assert decide(policy, 0, 429, None, {"Retry-After": "7"}, "u", 0.0).wait == 7.0
    wait = decide(policy, 1, 503, None, {}, "u", 0.0).wait
    assert decide(policy, 1, 503, None, {}, "u", 0.0).action == "retry" and 1.0 <= wait <= 2.0
    assert decide(policy, 0, None, httpx.ConnectError("down"), {}, "u", 1.0).action == "retry"
    exhausted = decide(policy, 2, 500, None, {}, "https://api/x", 0.5)
    assert exhausted.error is not None and exhausted.error.failure_type == "transient_error"
    assert "https://api/x still failing after 2 retries (HTTP 500)" in exhausted.error.message
    denied = decide(policy, 0, 403, None, {}, "https://api/x", 0.5).error
    assert (
        denied is not None
        and denied.failure_type == "config_error"
        and "403 from https://api/x" in denied.message
    )
    assert decide(policy, 0, 404, None, {}, "u", 0.5).error.failure_type == "system_error"  # type: ignore[union-attr]
    assert decide(policy, 0, 200, None, {}, "u", 0.5).action == "ok"


def test_rate_limit_waits_for_the_window() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(2, 1.0, clock=lambda: now[0], sleep=sleep)
    waits = [limiter.acquire() for _ in range(5)]
    assert waits == [0.0, 0.0, 1.0, 0.0, 1.0]


def mock_client(handler: Any, **kwargs: Any) -> HttpClient:
    return HttpClient(transport=httpx.MockTransport(handler), sleep=lambda s: None, **kwargs)


def read_all(stream: Any, start: Any = None) -> list[dict[str, Any]]:
    return list(stream.read(ReadContext(config={}, state={}, start_cursor=start)))


@pytest.mark.parametrize(
    ("paginator", "handler"),
    [
        (
            PageNumber(param="p"),
            lambda r: {
                "data": [{"id": int(r.url.params["p"])}] if int(r.url.params["p"]) <= 3 else []
            },
        ),
        (
            OffsetLimit(limit=1),
            lambda r: {
                "data": [{"id": int(r.url.params["offset"]) + 1}]
                if int(r.url.params["offset"]) < 3
                else []
            },
        ),
        (
            CursorToken("meta/next", "after"),
            lambda r: {
                "data": [{"id": int(r.url.params.get("after", 1))}],
                "meta": {
                    "next": int(r.url.params.get("after", 1)) + 1
                    if int(r.url.params.get("after", 1)) < 3
                    else None
                },
            },
        ),
        (
            NextUrl("next"),
            lambda r: {
                "data": [{"id": int(r.url.params.get("n", 1))}],
                "next": f"/items?n={int(r.url.params.get('n', 1)) + 1}"
                if int(r.url.params.get("n", 1)) < 3
                else None,
            },
        ),
    ],
    ids=["page-number", "offset-limit", "cursor-token", "next-url"],
)
def test_paginators_read_every_page(paginator: Any, handler: Any) -> None:
    client = mock_client(lambda request: httpx.Response(200, json=handler(request)))
    stream = http_stream(
        "items",
        {},
        url_base="https://api.test",
        path="/items",
        client=client,
        record_path="data",
        paginator=paginator,
    )
    assert [r["id"] for r in read_all(stream)] == [1, 2, 3]


def test_link_header_pagination() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params.get("page", 1))
        headers = (
            {"Link": f'<https://api.test/items?page={page + 1}>; rel="next"'} if page < 3 else {}
        )
        return httpx.Response(200, json=[{"id": page}], headers=headers)

    stream = http_stream(
        "items",
        {},
        url_base="https://api.test",
        path="/items",
        client=mock_client(handler),
        paginator=LinkHeader(),
    )
    assert [r["id"] for r in read_all(stream)] == [1, 2, 3]


def test_authenticators_and_cursor_param() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [{"id": 1}]})

    for auth, check in [
        (BearerToken("t0k"), lambda r: r.headers["Authorization"] == "Bearer t0k"),
        (ApiKey("k3y", "X-Key"), lambda r: r.headers["X-Key"] == "k3y"),
        (ApiKey("k3y", "api_key", "query"), lambda r: r.url.params["api_key"] == "k3y"),
        (httpx.BasicAuth("u", "p"), lambda r: r.headers["Authorization"].startswith("Basic ")),
    ]:
        stream = http_stream(
            "i",
            {},
            url_base="https://api.test",
            path="/i",
            record_path="data",
            client=mock_client(handler, auth=auth),
            cursor_field="id",
            cursor_param="since",
        )
        read_all(stream, start="2024-01-01")
        assert check(seen[-1]) and seen[-1].url.params["since"] == "2024-01-01"


def test_oauth2_refresh_token_rotation_and_expiry() -> None:
    now = [0.0]
    tokens: list[str] = []
    rotated: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            tokens.append(form["refresh_token"])
            return httpx.Response(
                200,
                json={"access_token": f"a{len(tokens)}", "expires_in": 100, "refresh_token": "r2"},
            )
        return httpx.Response(200, json={"auth": request.headers["Authorization"]})

    auth = OAuth2(
        "https://api.test/token",
        "id",
        "secret",
        refresh_token="r1",
        on_rotated=rotated.append,
        clock=lambda: now[0],
    )
    client = mock_client(handler, auth=auth)
    assert client.send("GET", "https://api.test/x").json()["auth"] == "Bearer a1"
    assert client.send("GET", "https://api.test/x").json()["auth"] == "Bearer a1"  # reused
    now[0] = 200.0  # expired
    assert client.send("GET", "https://api.test/x").json()["auth"] == "Bearer a2"
    assert tokens == ["r1", "r2"] and rotated == ["r2"]


def test_unauthorized_is_a_config_error_naming_the_endpoint() -> None:
    client = mock_client(lambda request: httpx.Response(401))
    stream = http_stream("i", {}, url_base="https://api.test", path="/secret", client=client)
    with pytest.raises(ConfigError, match=r"HTTP 401 from https://api.test/secret") as raised:
        read_all(stream)
    assert type(raised.value) is ConfigError and raised.value.failure_type == "config_error"


# -- the example source against a real server ----------------------------------------------------
@pytest.fixture
def shop() -> Iterator[ShopApi]:
    api = ShopApi(page_delay=0.05).start()  # the orders endpoint is the slow one
    yield api
    api.stop()


def run_example(
    tmp: Path, config: dict[str, Any], *args: str, **files: Any
) -> tuple[int, list[dict[str, Any]], str]:
    (tmp / "config.json").write_text(json.dumps(config))
    argv = [sys.executable, str(EXAMPLE), *args, "--config", str(tmp / "config.json")]
    for name, doc in files.items():
        (tmp / f"{name}.json").write_text(json.dumps(doc))
        argv += [f"--{name}", str(tmp / f"{name}.json")]
    proc = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    return proc.returncode, validate_output(proc.stdout), proc.stdout.decode()


def test_http_example_end_to_end_with_faults_rotation_and_resume(
    tmp_path: Path, shop: ShopApi
) -> None:
    shop.fail_once = {"/v1/customers?page=2": 429, "/v1/regions/us/orders?offset=2&limit=2": 500}
    config = shop.config(requests_per_second=4)
    _, discovered, _ = run_example(tmp_path, config, "discover")
    catalog = {
        "streams": [
            {
                "stream": s,
                "destination_sync_mode": "append",
                "cursor_field": s["default_cursor_field"],
                "sync_mode": "incremental"
                if "incremental" in s["supported_sync_modes"]
                else "full_refresh",
            }
            for s in by_type(discovered, "CATALOG")[0]["catalog"]["streams"]
        ]
    }
    code, first, raw = run_example(tmp_path, config, "read", catalog=catalog)
    assert code == 0, errors(first)
    assert [r["id"] for r in records(first, "customers")] == [1, 2, 3, 4, 5]
    assert sorted(r["id"] for r in records(first, "orders")) == [
        100,
        101,
        102,
        200,
        201,
        202,
        300,
        301,
        302,
    ]
    assert not shop.fail_once  # both injected faults were hit, and retried past
    (control,) = by_type(first, "CONTROL")
    assert control["control"]["connectorConfig"]["config"]["refresh_token"] == "r2"
    # the CONTROL message carries the whole new config (that is its job); nothing else may
    assert "shop-secret-9" not in "".join(
        line for line in raw.splitlines() if '"CONTROL"' not in line
    )
    for name in ("customers", "orders"):
        assert stream_statuses(first, name)[-1] == "COMPLETE"
    # The rate limit held: N requests at 4 a second cannot arrive in less than (N - 4) / 4 s.
    sent = sorted(at for at, _ in shop.log)
    assert len(sent) > 8 and sent[-1] - sent[0] >= (len(sent) - 4) / 4 - 0.05
    shop.customers.append({"id": 6, "name": "c6", "updated_at": "2024-01-06T00:00:00Z"})
    code, second, _ = run_example(
        tmp_path,
        {**config, "refresh_token": "r2"},
        "read",
        catalog=catalog,
        state=final_states(first),
    )
    assert code == 0
    assert [r["id"] for r in records(second, "customers")] == [5, 6]


def test_http_example_bad_credentials_fail_clearly(tmp_path: Path, shop: ShopApi) -> None:
    config = {**shop.config(), "client_secret": "wrong-secret-1"}
    code, messages, raw = run_example(tmp_path, config, "check")
    status = by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert (
        code == 0 and status["status"] == "FAILED" and "OAuth2 token request" in status["message"]
    )
    assert "wrong-secret-1" not in raw


def test_json_and_form_bodies_and_client_credentials() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": "cc-1", "expires_in": 60})
        return httpx.Response(200, json={"rows": [{"id": 1}]})

    auth = OAuth2("https://api.test/token", "id", "secret", scopes=["read"])
    client = mock_client(handler, auth=auth)
    for body in ({"json_body": {"q": "x"}}, {"form_body": {"q": "y"}}):
        stream = http_stream(
            "s",
            {},
            url_base="https://api.test",
            path="/search",
            method="POST",
            client=client,
            record_path="rows",
            **body,
        )
        assert read_all(stream) == [{"id": 1}]
    token_request, json_request, form_request = seen[0], seen[1], seen[2]
    assert (
        b"grant_type=client_credentials" in token_request.content
        and b"scope=read" in token_request.content
    )
    assert (
        json.loads(json_request.content) == {"q": "x"}
        and json_request.headers["Authorization"] == "Bearer cc-1"
    )
    assert form_request.content == b"q=y"


def test_check_without_a_check_function_reads_the_first_record(tmp_path: Path) -> None:
    import io

    from singer_bridge import launch
    from singer_bridge.native import Source

    def status_for(status: int) -> dict[str, Any]:
        client = mock_client(lambda request: httpx.Response(status, json={"data": [{"id": 1}]}))
        items = http_stream(
            "items",
            {},
            url_base="https://api.test",
            path="/items",
            client=client,
            record_path="data",
        )
        (tmp_path / "config.json").write_text("{}")
        out = io.BytesIO()
        launch(Source("s", [items]), ["check", "--config", str(tmp_path / "config.json")], out)
        found: dict[str, Any] = by_type(validate_output(out.getvalue()), "CONNECTION_STATUS")[0]
        return found["connectionStatus"]

    assert status_for(200)["status"] == "SUCCEEDED"
    refused = status_for(401)
    assert refused["status"] == "FAILED"
    assert "HTTP 401 from https://api.test/items" in refused["message"]
    missing = status_for(404)
    assert (
        missing["status"] == "FAILED"
        and "HTTP 404 from https://api.test/items" in missing["message"]
    )


# -- pagination that must neither stop early nor loop -------------------------------------------
ROWS = [{"id": i} for i in range(120)]
CAP = 50  # the server's own page-size limit, below the size the stream asks for


def capped_api(request: httpx.Request, sent: list[httpx.Request], total: bool = False) -> Any:
    sent.append(request)
    assert len(sent) < 20, "the stream keeps asking: pagination loops"
    params = request.url.params
    size = min(int(params.get("limit", params.get("per_page", 100))), CAP)
    start = int(params["offset"]) if "offset" in params else (int(params["page"]) - 1) * size
    body: dict[str, Any] = {"data": ROWS[start : start + size]}
    if total:
        body["meta"] = {"total": len(ROWS), "pages": -(-len(ROWS) // size)}
    return httpx.Response(200, json=body)


@pytest.mark.parametrize(
    "paginator",
    [OffsetLimit(limit=100), PageNumber(param="page", size_param="per_page", size=100)],
    ids=["offset-limit", "page-number"],
)
def test_a_server_capping_the_page_size_does_not_end_the_read(paginator: Any) -> None:
    sent: list[httpx.Request] = []
    client = mock_client(lambda r: capped_api(r, sent))
    stream = http_stream(
        "rows",
        {},
        url_base="https://api.test",
        path="/rows",
        client=client,
        record_path="data",
        paginator=paginator,
    )
    assert [r["id"] for r in read_all(stream)] == list(range(120))


@pytest.mark.parametrize("kind", ["offset-limit", "page-number"])
def test_a_total_the_api_reports_saves_the_empty_last_page(kind: str) -> None:
    paginator: Any = (
        OffsetLimit(limit=100, total_path="meta/total")
        if kind == "offset-limit"
        else PageNumber(param="page", size_param="per_page", size=50, total_path="meta/pages")
    )
    sent: list[httpx.Request] = []
    client = mock_client(lambda r: capped_api(r, sent, total=True))
    stream = http_stream(
        "rows",
        {},
        url_base="https://api.test",
        path="/rows",
        client=client,
        record_path="data",
        paginator=paginator,
    )
    assert len(read_all(stream)) == 120 and len(sent) == 3


def test_an_empty_page_ends_the_read_whatever_the_cursor_says() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        assert len(sent) < 20, "the stream keeps asking after an empty page"
        n = int(request.url.params.get("after", 0))
        return httpx.Response(200, json={"data": [{"id": n}] if n < 2 else [], "next": n + 1})

    stream = http_stream(
        "rows",
        {},
        url_base="https://api.test",
        path="/rows",
        client=mock_client(handler),
        record_path="data",
        paginator=CursorToken("next", "after"),
    )
    assert [r["id"] for r in read_all(stream)] == [0, 1] and len(sent) == 3


@pytest.mark.parametrize(
    ("paginator", "body"),
    [
        (CursorToken("next", "after"), {"data": [{"id": 1}], "next": "same-token"}),
        (NextUrl("next"), {"data": [{"id": 1}], "next": "/rows?page=2"}),
    ],
    ids=["cursor-token", "next-url"],
)
def test_a_repeated_cursor_or_next_url_fails_loudly(paginator: Any, body: Any) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        assert len(sent) < 20, "the stream follows the same page forever"
        return httpx.Response(200, json=body)

    stream = http_stream(
        "rows",
        {},
        url_base="https://api.test",
        path="/rows",
        client=mock_client(handler),
        record_path="data",
        paginator=paginator,
    )
    with pytest.raises(TapError, match="stream 'rows': the API sent pagination back to a page"):
        read_all(stream)
    assert len(sent) == 2


def test_the_number_of_pages_is_bounded() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        assert len(sent) < 20, "no bound on pages"
        return httpx.Response(200, json={"data": [{"id": request.url.params["page"]}]})

    stream = http_stream(
        "rows",
        {},
        url_base="https://api.test",
        path="/rows",
        client=mock_client(handler),
        record_path="data",
        paginator=PageNumber(),
        max_pages=5,
    )
    with pytest.raises(TapError, match=r"more than 5 pages from https://api\.test/rows"):
        read_all(stream)


# -- OAuth2: a token endpoint that fails for a while, many threads, rotation everywhere ------------
def test_the_token_endpoint_is_retried_like_any_request() -> None:
    answers = [
        httpx.Response(503),
        httpx.Response(429, headers={"Retry-After": "2"}),
        httpx.ConnectError("connection reset"),
        httpx.Response(200, json={"access_token": "a1", "expires_in": 60}),
    ]
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            answer = answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return httpx.Response(200, json={"auth": request.headers["Authorization"]})

    auth = OAuth2("https://api.test/token", "id", "secret", sleep=slept.append, rand=lambda: 0.0)
    client = mock_client(handler, auth=auth)
    assert client.send("GET", "https://api.test/x").json()["auth"] == "Bearer a1"
    assert not answers and 2.0 in slept  # Retry-After honoured on the token endpoint too


def test_a_token_endpoint_down_for_good_is_transient_not_a_config_error() -> None:
    auth = OAuth2(
        "https://api.test/token", "id", "s", retry=RetryPolicy(max_retries=2), sleep=lambda s: None
    )
    client = mock_client(lambda request: httpx.Response(502), auth=auth)
    with pytest.raises(BridgeError) as caught:
        client.send("GET", "https://api.test/x")
    assert caught.value.failure_type == "transient_error"
    assert "token endpoint https://api.test/token still failing" in caught.value.message


def test_threads_that_all_get_401_refresh_the_token_once() -> None:
    import threading

    workers = 4
    together = threading.Barrier(workers, timeout=10)
    refresh_tokens: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            refresh_tokens.append(form["refresh_token"])
            n = len(refresh_tokens)
            if form["refresh_token"] != f"r{n}":  # single use: an old one is refused
                return httpx.Response(400, json={"error": "invalid_grant"})
            return httpx.Response(
                200,
                json={"access_token": f"a{n}", "expires_in": 3600, "refresh_token": f"r{n + 1}"},
            )
        if request.headers["Authorization"] == "Bearer a1":  # revoked early, for everyone
            together.wait()
            return httpx.Response(401)
        return httpx.Response(200, json={"ok": True})

    auth = OAuth2("https://api.test/token", "id", "s", refresh_token="r1")
    client = mock_client(handler, auth=auth)
    results: list[Any] = []

    def call() -> None:
        try:
            results.append(client.send("GET", "https://api.test/x").json())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=call) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [{"ok": True}] * workers
    assert refresh_tokens == ["r1", "r2"]  # the first token, then one refresh for all four


def test_a_token_rotated_during_check_is_emitted(tmp_path: Path, shop: ShopApi) -> None:
    _, messages, _ = run_example(tmp_path, shop.config(), "check")
    assert by_type(messages, "CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    (control,) = by_type(messages, "CONTROL")
    assert control["control"]["connectorConfig"]["config"]["refresh_token"] == "r2"


def test_singer_mode_writes_a_rotated_token_into_the_config_file(
    tmp_path: Path, shop: ShopApi
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps(shop.config()))
    config.chmod(0o600)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--config", str(config)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert json.loads(config.read_text())["refresh_token"] == "r2"
    assert config.stat().st_mode & 0o777 == 0o600
    assert f"wrote the new config to '{config}' (mode 0600)" in proc.stderr.decode()
    assert b"shop-secret-9" not in proc.stdout + proc.stderr


def test_new_tokens_are_masked_in_what_the_source_writes(tmp_path: Path) -> None:
    import io

    from singer_bridge import launch
    from singer_bridge.native import Source, Stream

    source: Source

    def read(ctx: ReadContext) -> Iterator[dict[str, Any]]:
        source.config_updater(ctx.config, "refresh_token")("rotated-secret-77")
        source.mask_secret("access-secret-88")
        raise RuntimeError("refused: rotated-secret-77 / access-secret-88")
        yield {}

    source = Source("s", [Stream("s", {"properties": {}}, read)])
    (tmp_path / "config.json").write_text(json.dumps({"refresh_token": "r1-old"}))
    stream = {"name": "s", "json_schema": {}, "supported_sync_modes": ["full_refresh"]}
    catalog = {
        "streams": [
            {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
        ]
    }
    (tmp_path / "catalog.json").write_text(json.dumps(catalog))
    out = io.BytesIO()
    argv = ["read", "--config", str(tmp_path / "config.json")]
    launch(source, [*argv, "--catalog", str(tmp_path / "catalog.json")], out)
    lines = [line for line in out.getvalue().decode().splitlines() if '"CONTROL"' not in line]
    assert "refused: **** / ****" in "".join(lines)
    assert "secret-77" not in "".join(lines) and "secret-88" not in "".join(lines)


# -- retries: what may be repeated, how long the server may ask, one budget for all threads ------
def test_only_idempotent_requests_are_retried_after_a_transport_error() -> None:
    policy = RetryPolicy()
    read_error = httpx.ReadError("reset after sending")
    assert decide(policy, 0, None, read_error, {}, "u", 0.5, idempotent=True).action == "retry"
    post = decide(policy, 0, None, read_error, {}, "https://api/orders", 0.5, idempotent=False)
    assert post.action == "fail" and post.error is not None
    assert "https://api/orders failed (ReadError" in post.error.message
    never_sent = httpx.ConnectError("refused")
    assert decide(policy, 0, None, never_sent, {}, "u", 0.5, idempotent=False).action == "retry"


@pytest.mark.parametrize(("idempotent", "calls"), [(None, 1), (True, 2)])
def test_a_post_stream_retries_a_transport_error_only_when_it_opts_in(
    idempotent: bool | None, calls: int
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if len(sent) == 1:
            raise httpx.ReadError("connection reset after the body went out")
        return httpx.Response(200, json={"rows": [{"id": 1}]})

    stream = http_stream(
        "search",
        {},
        url_base="https://api.test",
        path="/search",
        method="POST",
        json_body={"q": "x"},
        client=mock_client(handler),
        record_path="rows",
        idempotent=idempotent,
    )
    if calls == 1:
        with pytest.raises(BridgeError, match="was not retried"):
            read_all(stream)
    else:
        assert read_all(stream) == [{"id": 1}]
    assert len(sent) == calls


def test_retry_after_is_honoured_past_a_minute_up_to_a_cap() -> None:
    long_wait = decide(RetryPolicy(), 0, 429, None, {"Retry-After": "120"}, "u", 0.5)
    assert long_wait.action == "retry" and long_wait.wait == 120.0
    capped = RetryPolicy(max_retry_after=100)
    too_long = decide(capped, 0, 429, None, {"Retry-After": "120"}, "https://api/x", 0.5)
    assert too_long.action == "fail" and too_long.error is not None
    assert "asked to retry after 120 s, more than max_retry_after (100 s)" in too_long.error.message


def test_a_429_pauses_every_thread_sharing_the_client() -> None:
    import threading

    now = [0.0]
    slept: list[tuple[str, float]] = []
    b_done = threading.Event()

    def sleep(seconds: float) -> None:
        slept.append((threading.current_thread().name, seconds))
        if threading.current_thread().name == "A":
            b_done.wait(10)  # A sleeps out its 429 while B asks
        else:
            now[0] += seconds

    limiter = RateLimiter(None, clock=lambda: now[0], sleep=sleep)
    first = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if not first.is_set():
            first.set()
            return httpx.Response(429, headers={"Retry-After": "5"})
        return httpx.Response(200, json={})

    client = mock_client(handler, rate_limit=limiter)
    a = threading.Thread(target=client.send, args=("GET", "https://api.test/a"), name="A")
    a.start()
    first.wait(10)
    while not any(name == "A" for name, _ in slept):  # A is in its backoff now
        threading.Event().wait(0.01)
    b = threading.Thread(target=client.send, args=("GET", "https://api.test/b"), name="B")
    b.start()
    b.join(10)
    b_done.set()
    a.join(10)
    assert ("B", 5.0) in slept  # B waited out A's 429 too, instead of hitting the API at once


def test_rate_limit_headers_pause_the_next_request() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(None, clock=lambda: now[0], sleep=sleep, wall=lambda: 1_700_000_000.0)
    answers = [
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1700000030"},
        {"RateLimit-Remaining": "0", "RateLimit-Reset": "7"},
        {"RateLimit-Remaining": "3", "RateLimit-Reset": "7"},
        {},
    ]
    client = mock_client(lambda r: httpx.Response(200, headers=answers.pop(0)), rate_limit=limiter)
    for _ in range(4):
        client.send("GET", "https://api.test/x")
    assert slept == [30.0, 7.0]


def test_a_client_made_per_partition_is_closed_when_its_read_ends() -> None:
    made: list[HttpClient] = []

    def factory() -> HttpClient:
        made.append(mock_client(lambda r: httpx.Response(200, json={"data": [{"id": 1}]})))
        return made[-1]

    stream = http_stream(
        "rows",
        {},
        url_base="https://api.test",
        path="/rows/{n}",
        client=factory,
        record_path="data",
        partitions=lambda ctx: ({"n": n} for n in range(3)),
    )
    for n in range(3):
        assert list(stream.read(ReadContext(config={}, state={}, partition={"n": n})))
    assert len(made) == 3 and all(client._client.is_closed for client in made)
    failing = http_stream(
        "rows",
        {},
        url_base="https://api.test",
        path="/rows",
        client=factory,
        record_path="data",
        paginator=NextUrl("next"),
        max_pages=0,
    )
    with pytest.raises(TapError):
        read_all(failing)
    assert made[-1]._client.is_closed  # closed on failure too


# -- record paths: keys with dots, JSONPath ------------------------------------------------------
@pytest.mark.parametrize(
    "record_path",
    ["result.v2/rows", "$['result.v2'].rows", ["result.v2", "rows"], "$['result.v2'].rows[*]"],
)
def test_record_path_addresses_keys_that_contain_dots(record_path: Any) -> None:
    body = {"result.v2": {"rows": [{"id": 1}, {"id": 2}]}, "result": {"v2": {"rows": [{"id": 9}]}}}
    stream = http_stream(
        "rows",
        {},
        url_base="https://api.test",
        path="/rows",
        record_path=record_path,
        client=mock_client(lambda r: httpx.Response(200, json=body)),
    )
    assert [r["id"] for r in read_all(stream)] == [1, 2]


def test_slash_paths_keep_wildcards_and_indexes() -> None:
    from singer_bridge.http._records import extract, extract_first

    body = {"pages": [{"rows": [{"id": 1}]}, {"rows": [{"id": 2}, {"id": 3}]}], "m": {"0": "k"}}
    assert [r["id"] for r in extract(body, "pages/*/rows")] == [1, 2, 3]
    assert [r["id"] for r in extract(body, "pages/1/rows")] == [2, 3]
    assert extract_first(body, "m/0") == "k" and extract_first(body, "m/missing") is None
    assert extract_first({"next.cursor": "c2"}, "next.cursor") == "c2"


def test_a_redirect_to_another_origin_goes_without_auth_cookies_or_custom_headers() -> None:
    seen: dict[str, httpx.Headers] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen[str(request.url.copy_with(query=None))] = request.headers
        if request.url.host == "api.example.com" and request.url.path == "/export":
            return httpx.Response(302, headers={"Location": "http://api.example.com:8080/file"})
        if request.url.port == 8080:  # another port is another origin
            return httpx.Response(302, headers={"Location": "https://files.example.net/file"})
        return httpx.Response(200, json={"ok": True})

    client = mock_client(
        handler,
        auth=ApiKey("api-key-1", name="X-Secret-Key"),
        headers={"Authorization": "Bearer api-token", "Cookie": "session=s1", "User-Agent": "t"},
    )
    assert client.send("GET", "https://api.example.com/export").json() == {"ok": True}
    home = seen["https://api.example.com/export"]
    assert home["X-Secret-Key"] == "api-key-1" and home["Authorization"] == "Bearer api-token"
    for url in ("http://api.example.com:8080/file", "https://files.example.net/file"):
        assert {"authorization", "x-secret-key", "cookie"}.isdisjoint(seen[url].keys()), url
        assert seen[url]["User-Agent"] == "t"


def test_a_short_lived_token_is_reused_for_most_of_its_life() -> None:
    now = [0.0]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            return httpx.Response(200, json={"access_token": f"t{now[0]}", "expires_in": 3})
        return httpx.Response(200, json={})

    auth = OAuth2("https://api.test/token", "app", "s", clock=lambda: now[0])
    client = mock_client(handler, auth=auth)
    for second in (0.0, 1.0, 2.0, 2.6):  # renewed 0.3 s (a tenth of 3 s) before the end
        now[0] = second
        client.send("GET", "https://api.test/items")
    assert auth.token_requests == 1
    now[0] = 2.8
    client.send("GET", "https://api.test/items")
    assert auth.token_requests == 2
