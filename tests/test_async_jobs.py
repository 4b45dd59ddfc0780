"""Asynchronous-job streams against the local report API (tests/support/jobs_api.py): create,
poll with backoff, download JSON Lines or CSV (gzipped or not), fail or time out by name, and
resume an unfinished job instead of creating another; the example source end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from singer_bridge.errors import BridgeError, ConfigError, TapError
from singer_bridge.http import ApiKey, BearerToken, HttpClient, RetryPolicy, async_job_stream
from singer_bridge.native import Checkpoint, ReadContext, Source
from tests.airbyte_check import by_type, errors, final_states, records, validate_output
from tests.support.jobs_api import API_KEY, JobsApi
from tests.support.s3_presign import S3TestServer

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "taps" / "source-example-async" / "source_example_async.py"


@pytest.fixture
def api() -> Iterator[JobsApi]:
    server = JobsApi().start()
    yield server
    server.stop()


def report(
    api: JobsApi,
    slept: list[float] | None = None,
    schema: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    client = HttpClient(
        auth=ApiKey(API_KEY), retry=RetryPolicy(max_retries=2), sleep=lambda s: None
    )
    options: dict[str, Any] = {
        "url_base": api.url,
        "create_path": "/reports",
        "status_path": "/reports/{job_id}",
        "client": client,
        "poll_seconds": 1.0,
        "sleep": (slept if slept is not None else []).append,
        **kwargs,
    }
    return async_job_stream("orders", schema or {}, **options)


@pytest.mark.parametrize(
    ("file_format", "zipped"),
    [("jsonl", None), ("jsonl", "file"), ("csv", "encoding"), ("csv", "file")],
)
def test_a_job_is_created_polled_with_backoff_and_downloaded(
    api: JobsApi, file_format: str, zipped: str | None
) -> None:
    api.file_format, api.gzip, api.polls_until_done = file_format, zipped, 3
    slept: list[float] = []
    items = list(report(api, slept, file_format=file_format).read(ReadContext({}, {})))
    assert items[0] == Checkpoint({"job_id": "job-1"})  # kept before any waiting
    rows = [i for i in items if not isinstance(i, Checkpoint)]
    assert [str(r["id"]) for r in rows] == ["1", "2", "3", "4", "5"]
    assert rows[0]["amount"] == "10.50"
    assert slept == [1.0, 1.5, 2.25]  # three polls before done, each wait longer


def test_an_incremental_read_asks_for_the_job_since_its_bookmark(api: JobsApi) -> None:
    stream = report(api, since_field="since", cursor_field="updated_at")
    ctx = ReadContext({}, {}, start_cursor="2024-04-04T00:00:00Z")
    rows = [i for i in stream.read(ctx) if not isinstance(i, Checkpoint)]
    assert [r["id"] for r in rows] == [4, 5]
    assert api.jobs["job-1"]["since"] == "2024-04-04T00:00:00Z"


def test_a_failed_job_fails_the_read_naming_it_and_is_forgotten(api: JobsApi) -> None:
    api.fail_jobs = True
    items: list[Any] = []
    with pytest.raises(TapError, match="job job-1 failed: the report query timed out"):
        for item in report(api).read(ReadContext({}, {})):
            items.append(item)
    assert items[-1] == Checkpoint({})  # the next run asks for a new job


def test_a_job_that_takes_too_long_times_out_and_is_kept(api: JobsApi) -> None:
    api.polls_until_done = 100
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    stream = report(api, sleep=sleep, clock=lambda: now[0], job_timeout=10.0)
    items: list[Any] = []
    with pytest.raises(BridgeError) as caught:
        for item in stream.read(ReadContext({}, {})):
            items.append(item)
    assert caught.value.failure_type == "transient_error"
    assert "job job-1 not done after 10 s (last status 'running')" in caught.value.message
    assert items == [Checkpoint({"job_id": "job-1"})]  # kept: the next run waits for it


def test_a_read_that_died_resumes_the_same_job_without_creating_another(api: JobsApi) -> None:
    api.download_failures = 10  # the result store is down for this run
    first: list[Any] = []
    with pytest.raises(BridgeError, match="still failing after 2 retries"):
        for item in report(api).read(ReadContext({}, {})):
            first.append(item)
    assert first == [Checkpoint({"job_id": "job-1"})]
    api.download_failures = 0
    resumed = list(report(api).read(ReadContext({}, {"checkpoint": {"job_id": "job-1"}})))
    assert len(resumed) == 5 and list(api.jobs) == ["job-1"]  # no second job


ORDER_SCHEMA = {
    "properties": {
        "id": {"type": "integer"},
        "amount": {"type": ["null", "number"]},
        "updated_at": {"type": "string", "format": "date-time"},
    }
}


def test_csv_cells_are_cast_to_the_declared_types_and_a_bad_one_is_kept(
    api: JobsApi, capsys: pytest.CaptureFixture[str]
) -> None:
    api.file_format = "csv"
    api.orders[1]["amount"], api.orders[2]["amount"] = "n/a", ""
    stream = report(api, schema=ORDER_SCHEMA, file_format="csv")
    rows = [i for i in stream.read(ReadContext({}, {})) if not isinstance(i, Checkpoint)]
    assert rows[0] == {"id": 1, "amount": 10.5, "updated_at": "2024-04-01T00:00:00Z"}
    assert [r["amount"] for r in rows[1:3]] == ["n/a", None]  # kept as text; empty is null
    assert len(rows) == 5
    assert "CSV values that did not cast to the declared type were kept as text: amount (1)" in (
        capsys.readouterr().err
    )


@pytest.fixture(scope="module")
def storage() -> Iterator[S3TestServer]:
    """Presigned S3 on its own origin, strict like real S3 about a second auth mechanism."""
    with S3TestServer(strict=True) as s3:
        yield s3


def test_a_result_on_presigned_storage_is_downloaded_without_the_api_credentials(
    api: JobsApi, storage: S3TestServer
) -> None:
    api.result_url_for = lambda job_id, body: storage.put_report("reports", f"{job_id}.jsonl", body)
    client = HttpClient(
        auth=BearerToken(API_KEY),
        headers={"X-Api-Key": API_KEY},
        retry=RetryPolicy(max_retries=0),
    )
    stream = report(api, client=client)
    rows = [i for i in stream.read(ReadContext({}, {})) if not isinstance(i, Checkpoint)]
    # S3 answers 400 InvalidArgument to a presigned URL that also carries an Authorization
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5]


def test_a_refused_download_names_the_storage_error_but_not_the_signature(
    api: JobsApi, storage: S3TestServer
) -> None:
    def tampered(job_id: str, body: bytes) -> str:
        url = storage.put_report("reports", f"{job_id}.jsonl", body)
        return url.replace("X-Amz-Signature=", "X-Amz-Signature=0")

    api.result_url_for = tampered
    with pytest.raises(BridgeError) as caught:
        list(report(api).read(ReadContext({}, {})))
    said = caught.value.message
    assert "SignatureDoesNotMatch: The request signature we calculated does not match" in said
    assert "X-Amz-Signature=****" in said and "X-Amz-Credential=****" in said
    assert "testing/" not in said and "X-Amz-Signature=0" not in said


def test_check_of_a_job_stream_reaches_the_api_without_creating_a_job(api: JobsApi) -> None:
    source = Source("source-reports", [report(api)])
    source.check_config({})  # the status of a job that does not exist: 404, credentials fine
    assert api.jobs == {}
    bad = HttpClient(auth=ApiKey("wrong-key"), retry=RetryPolicy(max_retries=0))
    with pytest.raises(ConfigError, match=r"HTTP 401 from .*/reports/singer-bridge-check"):
        Source("source-reports", [report(api, client=bad)]).check_config({})
    assert api.jobs == {}
    Source("source-reports", [report(api, check="read")]).check_config({})  # the full probe
    assert list(api.jobs) == ["job-1"]


def run_example(tmp: Path, config: dict[str, Any], *args: str, **files: Any) -> Any:
    (tmp / "config.json").write_text(json.dumps(config))
    argv = [sys.executable, str(EXAMPLE), *args, "--config", str(tmp / "config.json")]
    for name, doc in files.items():
        (tmp / f"{name}.json").write_text(json.dumps(doc))
        argv += [f"--{name}", str(tmp / f"{name}.json")]
    proc = subprocess.run(argv, capture_output=True, timeout=120, check=False)
    return proc.returncode, validate_output(proc.stdout)


def test_the_async_example_resumes_its_job_across_runs(tmp_path: Path, api: JobsApi) -> None:
    config = {
        "api_url": api.url,
        "api_key": API_KEY,
        "poll_seconds": 0.01,
        "retry_base_seconds": 0.01,
    }
    _, discovered = run_example(tmp_path, config, "discover")
    (stream,) = by_type(discovered, "CATALOG")[0]["catalog"]["streams"]
    catalog = {
        "streams": [
            {
                "stream": stream,
                "sync_mode": "incremental",
                "cursor_field": ["updated_at"],
                "destination_sync_mode": "append",
            }
        ]
    }
    api.download_failures = 100
    code, failed = run_example(tmp_path, config, "read", catalog=catalog)
    assert code == 1 and "still failing" in errors(failed)[0]["message"]
    api.download_failures = 0
    code, second = run_example(
        tmp_path, config, "read", catalog=catalog, state=final_states(failed)
    )
    assert code == 0, errors(second)
    assert [r["id"] for r in records(second)] == [1, 2, 3, 4, 5]
    assert list(api.jobs) == ["job-1"]  # the second run finished the first run's job
    state = final_states(second)[0]["stream"]["stream_state"]
    assert state == {
        "replication_key": "updated_at",
        "replication_key_value": "2024-04-05T00:00:00Z",
    }
    code, third = run_example(tmp_path, config, "read", catalog=catalog, state=final_states(second))
    assert code == 0 and [r["id"] for r in records(third)] == [5]
    assert api.jobs["job-2"]["since"] == "2024-04-05T00:00:00Z"  # a new job, from the bookmark
