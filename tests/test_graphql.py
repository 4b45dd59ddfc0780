"""GraphQL streams: unit behaviour against httpx.MockTransport, and the example GraphQL source
end to end against the local GraphQL API (tests/support/graphql_api.py) on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from singer_bridge.errors import TapError
from singer_bridge.http import HttpClient, graphql_stream
from singer_bridge.native._stream import ReadContext
from tests.airbyte_check import by_type, errors, final_states, records, validate_output
from tests.support.graphql_api import TOKEN, GraphqlApi

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "taps" / "source-example-graphql" / "source_example_graphql.py"
QUERY = "query($after: String, $first: Int) { issues { nodes { id } pageInfo { endCursor } } }"


def stream_over(api: GraphqlApi, **kwargs: Any) -> Any:
    client = HttpClient(headers={"Authorization": f"Bearer {TOKEN}"}, sleep=lambda s: None)
    options: dict[str, Any] = {
        "url": api.url + "/graphql",
        "query": QUERY,
        "connection_path": "repository/issues",
        "client": client,
        "page_size_variable": "first",
        "page_size": 2,
        **kwargs,
    }
    return graphql_stream("issues", {}, **options)


@pytest.fixture
def api() -> Iterator[GraphqlApi]:
    server = GraphqlApi().start()
    yield server
    server.stop()


def test_relay_pages_are_followed_with_the_end_cursor(api: GraphqlApi) -> None:
    rows = list(stream_over(api).read(ReadContext({}, {}, partition={"repo": "beta"})))
    assert [r["id"] for r in rows] == [f"beta-{i}" for i in range(5)]
    sent = [r["variables"] for r in api.requests]
    assert [v.get("after") is None for v in sent] == [True, False, False]
    assert all(v["repo"] == "beta" and v["first"] == 2 for v in sent)


def test_an_incremental_read_sends_its_bookmark_as_a_variable(api: GraphqlApi) -> None:
    stream = stream_over(api, since_variable="since", cursor_field="updatedAt")
    rows = list(stream.read(ReadContext({}, {}, start_cursor="2024-02-04T00:00:00Z")))
    assert [r["id"] for r in rows] == ["alpha-3", "alpha-4"]
    assert api.requests[0]["variables"]["since"] == "2024-02-04T00:00:00Z"


def test_a_graphql_errors_array_fails_the_read_naming_the_error(api: GraphqlApi) -> None:
    stream = stream_over(api, query="query { issues { nodes { id bogus } } }")
    with pytest.raises(TapError) as caught:
        list(stream.read(ReadContext({}, {})))
    assert "stream 'issues': GraphQL error from" in caught.value.message
    assert "Field 'bogus' doesn't exist on type 'Issue' (at repository.issues.nodes.bogus)" in (
        caught.value.message
    )


def test_an_end_cursor_that_never_moves_fails_instead_of_looping(api: GraphqlApi) -> None:
    api.repeat_cursor = True
    with pytest.raises(TapError, match=r"sent endCursor .* twice"):
        list(stream_over(api).read(ReadContext({}, {})))
    assert len(api.requests) == 2


def test_errors_with_http_200_and_partial_data_still_fail() -> None:
    body = {"data": {"repository": None}, "errors": [{"message": "rate limited"}]}
    client = HttpClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
    stream = graphql_stream(
        "s",
        {},
        url="https://gql.test/graphql",
        query="{}",
        connection_path="repository/x",
        client=client,
    )
    with pytest.raises(
        TapError, match=r"GraphQL error from https://gql\.test/graphql: rate limited"
    ):
        list(stream.read(ReadContext({}, {})))


def run_example(tmp: Path, config: dict[str, Any], *args: str, **files: Any) -> Any:
    (tmp / "config.json").write_text(json.dumps(config))
    argv = [sys.executable, str(EXAMPLE), *args, "--config", str(tmp / "config.json")]
    for name, doc in files.items():
        (tmp / f"{name}.json").write_text(json.dumps(doc))
        argv += [f"--{name}", str(tmp / f"{name}.json")]
    proc = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    return proc.returncode, validate_output(proc.stdout)


def test_the_graphql_example_reads_partitions_and_resumes(tmp_path: Path, api: GraphqlApi) -> None:
    config = {"api_url": api.url, "token": TOKEN, "repositories": ["alpha", "beta"]}
    code, checked = run_example(tmp_path, config, "check")
    assert by_type(checked, "CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    _, discovered = run_example(tmp_path, config, "discover")
    (stream,) = by_type(discovered, "CATALOG")[0]["catalog"]["streams"]
    catalog = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental",
                "cursor_field": ["updatedAt"],
                "destination_sync_mode": "append",
            }
        ]
    }
    code, first = run_example(tmp_path, config, "read", catalog=catalog)
    assert code == 0, errors(first)
    assert len(records(first, "issues")) == 10
    api.issues["beta"].append({"id": "beta-5", "title": "new", "updatedAt": "2024-03-01T00:00:00Z"})
    code, second = run_example(tmp_path, config, "read", catalog=catalog, state=final_states(first))
    assert code == 0
    # each repository resumes from its own bookmark (the bookmark's record comes again: >=)
    assert sorted(r["id"] for r in records(second, "issues")) == ["alpha-4", "beta-4", "beta-5"]
    code, bad = run_example(tmp_path, {**config, "token": "wrong"}, "check")
    status = by_type(bad, "CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "HTTP 401 from" in status["message"]
