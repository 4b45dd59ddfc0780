"""Asynchronous-job streams: ask the API for a report, poll until it is ready, download it.

    POST {create_path}            -> {"id": "job-1", ...}           (a Checkpoint keeps the id)
    GET  {status_path}            -> {"status": "running" | "completed" | "failed", ...}
    GET  {result_url}             -> JSON Lines or CSV, gzipped or not

CSV cells are text: each is cast to the type the stream's schema declares for its column
(integer, number, boolean, null for an empty cell, object/array from JSON), as Airbyte's
file-based sources do; a cell that does not cast is kept as text and counted in a warning.

The job's id is checkpointed as soon as it exists, so a read that dies while the job runs, or
while its result downloads, resumes with the same job on the next run instead of creating
another; a finished read clears it, a failed job too (the next run asks for a new one).

>>> report = async_job_stream("orders", {"properties": {}}, url_base="https://api.example.com",
...     create_path="/reports", status_path="/reports/{job_id}")
>>> report.name
'orders'
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import string
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from singer_bridge._translate.casting import cast_row
from singer_bridge.errors import ConfigError, TapError, TransientError
from singer_bridge.http._client import ClientChoice, HttpClient, client_for_read
from singer_bridge.http._records import extract_first
from singer_bridge.native._stream import Checkpoint, PartitionFn, ReadContext, Stream

_GZIP_MAGIC = b"\x1f\x8b"
_NO_JOB = "singer-bridge-check"  # a job id no API has: check asks about it
Body = Mapping[str, Any] | Callable[[ReadContext], Mapping[str, Any]] | None


def async_job_stream(
    name: str,
    schema: Mapping[str, Any],
    *,
    url_base: str,
    create_path: str,
    status_path: str,
    create_body: Body = None,
    client: ClientChoice = None,
    job_id_path: str = "id",
    status_field: str = "status",
    done_statuses: Sequence[str] = ("completed",),
    failed_statuses: Sequence[str] = ("failed", "cancelled"),
    result_url_field: str = "result_url",
    error_field: str = "error",
    file_format: Literal["jsonl", "csv"] = "jsonl",
    poll_seconds: float = 1.0,
    max_poll_seconds: float = 60.0,
    job_timeout: float = 3600.0,
    since_field: str | None = None,
    primary_key: Sequence[Sequence[str]] = (),
    cursor_field: str | None = None,
    partitions: PartitionFn | None = None,
    max_workers: int = 1,
    namespace: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    check: Literal["reach", "read"] = "reach",
) -> Stream:
    """A ``Stream`` whose every read (per partition) runs one job. ``create_body`` is the JSON
    the job is created with (or a function of the read context); an incremental read adds its
    bookmark as ``since_field``. Polls back off from ``poll_seconds`` to ``max_poll_seconds``;
    a job not done within ``job_timeout`` fails the read (transient: the next run resumes it).

    A source's default ``check`` creates no job (``check="reach"``): it asks the status
    endpoint about a job that does not exist, which proves the credentials and the URL (a
    401/403, a 5xx or no answer fail it; a 404 is the expected answer). ``check="read"`` runs a
    whole job and waits for its first record instead.
    """
    job = _Job(
        name=name,
        base=url_base.rstrip("/"),
        create_path=create_path,
        status_path=status_path,
        create_body=create_body,
        job_id_path=job_id_path,
        status_field=status_field,
        done=tuple(done_statuses),
        failed=tuple(failed_statuses),
        result_field=result_url_field,
        error_field=error_field,
        file_format=file_format,
        poll_seconds=poll_seconds,
        max_poll_seconds=max_poll_seconds,
        job_timeout=job_timeout,
        since_field=since_field,
        properties=dict(schema.get("properties") or {}),
        sleep=sleep,
        clock=clock,
    )

    def read(ctx: ReadContext) -> Iterator[dict[str, Any] | Checkpoint]:
        with client_for_read(client) as http:
            yield from job.run(http, ctx)

    def reach(config: Mapping[str, Any]) -> None:
        with client_for_read(client) as http:
            job.reach(http, ReadContext(config, {}))

    return Stream(
        name,
        schema,
        read,
        probe=reach if check == "reach" and _fields(status_path) <= {"job_id"} else None,
        primary_key=primary_key,
        cursor_field=cursor_field,
        namespace=namespace,
        partitions=partitions,
        max_workers=max_workers,
    )


@dataclass(frozen=True, slots=True)
class _Job:
    """How one stream's jobs are created, polled and downloaded."""

    name: str
    base: str
    create_path: str
    status_path: str
    create_body: Body
    job_id_path: str
    status_field: str
    done: tuple[str, ...]
    failed: tuple[str, ...]
    result_field: str
    error_field: str
    file_format: str
    poll_seconds: float
    max_poll_seconds: float
    job_timeout: float
    since_field: str | None
    properties: dict[str, Any]
    sleep: Callable[[float], None]
    clock: Callable[[], float]

    def _url(self, path: str, ctx: ReadContext, job_id: str = "") -> str:
        return self.base + "/" + path.format(**(ctx.partition or {}), job_id=job_id).lstrip("/")

    def run(self, http: HttpClient, ctx: ReadContext) -> Iterator[dict[str, Any] | Checkpoint]:
        job_id = (ctx.state.get("checkpoint") or {}).get("job_id")
        if job_id is None:
            job_id = self._create(http, ctx)
            yield Checkpoint({"job_id": job_id})
        try:
            status = self._wait(http, ctx, job_id)
        except TapError:
            yield Checkpoint({})  # the job failed: the next run asks for a new one
            raise
        result = status.get(self.result_field)
        if not result:
            raise TapError(f"stream '{self.name}': job {job_id} is done but names no result")
        url = str(http.base_url_join(self._url(self.status_path, ctx, job_id), str(result)))
        with tempfile.TemporaryDirectory(prefix="singer-bridge-job-") as tmp:
            # a result elsewhere (presigned storage) must not get the API's credentials
            path = http.download(url, Path(tmp) / "result", origin=self.base)
            yield from _records(path, self.file_format, self.properties, self.name)

    def reach(self, http: HttpClient, ctx: ReadContext) -> None:
        """Prove the API takes the credentials without creating work: the status of a job
        that does not exist. Only a refusal of the credentials (401/403), a server or network
        failure fail; the API's "no such job" (404, 400, 422...) is the expected answer."""
        try:
            http.send("GET", self._url(self.status_path, ctx, _NO_JOB))
        except (ConfigError, TransientError):
            raise
        except TapError:  # any other HTTP 4xx: the API answered, credentials accepted
            return

    def _create(self, http: HttpClient, ctx: ReadContext) -> str:
        given = self.create_body(ctx) if callable(self.create_body) else self.create_body
        body = dict(given or {})
        if self.since_field and ctx.start_cursor is not None:
            body[self.since_field] = ctx.start_cursor
        # a POST that creates: not repeated after a transport error (that could make two jobs)
        response = http.send("POST", self._url(self.create_path, ctx), json=body)
        job_id = extract_first(response.json(), self.job_id_path)
        if job_id in (None, ""):
            raise TapError(
                f"stream '{self.name}': creating the job gave no id at '{self.job_id_path}'"
            )
        return str(job_id)

    def _wait(self, http: HttpClient, ctx: ReadContext, job_id: str) -> dict[str, Any]:
        url = self._url(self.status_path, ctx, job_id)
        started, interval = self.clock(), self.poll_seconds
        while True:
            status: dict[str, Any] = http.send("GET", url).json()
            state = str(status.get(self.status_field, ""))
            if state in self.done:
                return status
            if state in self.failed:
                why = status.get(self.error_field) or "no reason given"
                raise TapError(f"stream '{self.name}': job {job_id} {state}: {why}")
            if self.clock() - started + interval > self.job_timeout:
                raise TransientError(
                    f"stream '{self.name}': job {job_id} not done after {self.job_timeout:g} s "
                    f"(last status '{state}'); the next run goes on waiting for it"
                )
            self.sleep(interval)
            interval = min(self.max_poll_seconds, interval * 1.5)


def _cast_csv(
    rows: Iterator[dict[str, Any]], properties: Mapping[str, Any], stream: str
) -> Iterator[dict[str, Any]]:
    uncast: dict[str, int] = {}
    for row in rows:
        record, failed = cast_row(row, properties)
        for name in failed:
            uncast[name] = uncast.get(name, 0) + 1
        yield record
    if uncast:  # kept as text, never dropped: the destination decides what to do with them
        counts = ", ".join(f"{name} ({n})" for name, n in sorted(uncast.items()))
        sys.stderr.write(
            f"WARNING stream '{stream}': CSV values that did not cast to the declared type "
            f"were kept as text: {counts}\n"
        )


def _fields(path: str) -> set[str]:
    """The names a path template asks for (a partition's keys, ``job_id``)."""
    return {name for _, name, _, _ in string.Formatter().parse(path) if name}


def _open_text(path: Path) -> IO[str]:
    with path.open("rb") as probe:
        zipped = probe.read(2) == _GZIP_MAGIC
    raw: Any = gzip.open(path, "rb") if zipped else path.open("rb")  # noqa: SIM115
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def _records(
    path: Path, file_format: str, properties: Mapping[str, Any], stream: str
) -> Iterator[dict[str, Any]]:
    with _open_text(path) as text:
        if file_format == "csv":
            yield from _cast_csv(csv.DictReader(text), properties, stream)
            return
        for number, line in enumerate(text, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TapError(f"line {number} of the job's result is not JSON: {exc}") from exc
