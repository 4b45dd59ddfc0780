"""An asynchronous-report API on 127.0.0.1 for the async job stream tests and docs.

- ``POST /reports`` ``{"since": ISO?}`` -> ``{"id": "job-N", "status": "queued"}`` (201);
- ``GET /reports/{id}`` -> queued, running (``polls_until_done`` polls), then ``completed``
  with ``result_url`` (relative) or ``failed`` with ``error`` when ``fail_jobs`` is set;
- ``GET /results/{id}``: the orders updated at or after ``since``, as JSON Lines or CSV
  (``file_format``), gzipped as a file (``gzip="file"``) or on the wire (``gzip="encoding"``);
  the first ``download_failures`` downloads answer 503.
``X-Api-Key: jobs-key-5`` (or ``Authorization: Bearer jobs-key-5``) is required everywhere;
``result_url_for`` may name the result elsewhere instead (a presigned S3 URL, say).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.json_handler import JsonHandler

API_KEY = "jobs-key-5"


class JobsApi:
    def __init__(self, orders: int = 5) -> None:
        self.orders = [
            {"id": i, "amount": f"{i * 10}.50", "updated_at": f"2024-04-{i:02d}T00:00:00Z"}
            for i in range(1, orders + 1)
        ]
        self.jobs: dict[str, dict[str, Any]] = {}
        self.polls_until_done = 2
        self.fail_jobs = False
        self.file_format = "jsonl"
        self.gzip: str | None = None
        self.download_failures = 0
        self.downloads = 0
        self.result_url_for: Callable[[str, bytes], str] | None = None
        self._lock = threading.Lock()
        api = self

        class Handler(JsonHandler):
            def _authorized(self) -> bool:
                bearer = self.headers.get("Authorization") == f"Bearer {API_KEY}"
                if bearer or self.headers.get("X-Api-Key") == API_KEY:
                    return True
                self._send(401, {"error": "bad api key"})
                return False

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self._authorized():
                    return
                if self.path != "/reports":
                    self._send(404, {"error": "not found"})
                    return
                with api._lock:
                    job_id = f"job-{len(api.jobs) + 1}"
                    api.jobs[job_id] = {"since": body.get("since", ""), "polls": 0}
                self._send(201, {"id": job_id, "status": "queued"})

            def do_GET(self) -> None:
                if not self._authorized():
                    return
                kind, _, job_id = self.path.strip("/").partition("/")
                job = api.jobs.get(job_id)
                if job is None:
                    self._send(404, {"error": f"no job {job_id}"})
                elif kind == "reports":
                    self._send(200, api.status(job_id, job))
                elif kind == "results":
                    api.send_result(self, job)
                else:
                    self._send(404, {"error": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def status(self, job_id: str, job: dict[str, Any]) -> dict[str, Any]:
        job["polls"] += 1
        if job["polls"] <= self.polls_until_done:
            return {"id": job_id, "status": "queued" if job["polls"] == 1 else "running"}
        if self.fail_jobs:
            return {"id": job_id, "status": "failed", "error": "the report query timed out"}
        if self.result_url_for is not None:
            url = self.result_url_for(job_id, self.result(job))
            return {"id": job_id, "status": "completed", "result_url": url}
        return {"id": job_id, "status": "completed", "result_url": f"/results/{job_id}"}

    def result(self, job: dict[str, Any]) -> bytes:
        rows = [o for o in self.orders if o["updated_at"] >= job["since"]]
        if self.file_format == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=["id", "amount", "updated_at"])
            writer.writeheader()
            writer.writerows(rows)
            return out.getvalue().encode()
        return b"".join(json.dumps(r).encode() + b"\n" for r in rows)

    def send_result(self, handler: JsonHandler, job: dict[str, Any]) -> None:
        with self._lock:
            self.downloads += 1
            failing = self.downloads <= self.download_failures
        if failing:
            handler._send(503, {"error": "result store busy"})
            return
        data = self.result(job)
        handler.send_response(200)
        if self.gzip:
            data = gzip.compress(data)
            if self.gzip == "encoding":
                handler.send_header("Content-Encoding", "gzip")
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def start(self) -> JobsApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    from tests.support.serve import serve

    serve(JobsApi())
