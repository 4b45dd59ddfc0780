"""A small imitation of the GitHub REST API on 127.0.0.1, for tap-github (singer-io) with its
``base_url`` pointed here: one repository, ``acme/widgets``, whose pull requests have reviews,
review comments and commits (tap-github's child streams), and issues, labels and releases.

Every reply carries ``X-RateLimit-Remaining`` (tap-github refuses a reply without it); a request
needs ``Authorization: token TOKEN``. Lists come newest first, as GitHub sorts them; ``since``
filters issues. Any other path of the repository (the tap's discovery probes) is an empty list.
``change()`` is the change a resumed read must see: a new pull request with its children, an
issue updated, a label added.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.json_handler import JsonHandler, ServedApi

TOKEN = "ghp-local-0042"
REPO = "acme/widgets"


def _pull(number: int, day: str) -> dict[str, Any]:
    when = f"2024-{day}T10:00:00Z"
    pull = {"id": 1000 + number, "number": number, "title": f"PR {number}", "state": "open"}
    return pull | {"created_at": when, "updated_at": when}


def _children(number: int, day: str) -> dict[str, list[dict[str, Any]]]:
    when = f"2024-{day}T11:00:00Z"
    n = number * 10
    return {
        "reviews": [{"id": n + k, "state": "APPROVED", "submitted_at": when} for k in (1, 2)],
        "comments": [{"id": n + 5, "body": f"nit {number}", "updated_at": when}],
        "commits": [{"sha": f"sha{n}", "commit": {"message": "fix", "committer": {"date": when}}}],
    }


INITIAL: dict[str, Any] = {
    "pulls": [_pull(2, "02-02"), _pull(1, "02-01")],
    "children": {1: _children(1, "02-01"), 2: _children(2, "02-02")},
    "issues": [
        {"id": 502, "number": 12, "title": "crash", "updated_at": "2024-02-05T00:00:00Z"},
        {"id": 501, "number": 11, "title": "typo", "updated_at": "2024-02-04T00:00:00Z"},
    ],
    "labels": [{"id": 71, "name": "bug", "color": "d73a4a"}],
    "releases": [{"id": 81, "tag_name": "v1.0", "created_at": "2024-01-20T00:00:00Z"}],
}


class GithubApi(ServedApi):
    def __init__(self) -> None:
        self.reset()
        api = self

        class Handler(JsonHandler):
            def end_headers(self) -> None:
                self.send_header("X-RateLimit-Remaining", "4999")
                self.send_header("X-RateLimit-Reset", "4102444800")
                super().end_headers()

            def do_GET(self) -> None:
                if self.headers.get("Authorization") != f"token {TOKEN}":
                    self._send(401, {"message": "Bad credentials"})
                    return
                found = api.reply(urlparse(self.path))
                self._send(200 if found is not None else 404, found or {"message": "Not Found"})

        self.serve(Handler)

    def reset(self) -> None:
        self.data = copy.deepcopy(INITIAL)

    def change(self) -> None:
        self.data["pulls"].insert(0, _pull(3, "03-01"))
        self.data["children"][3] = _children(3, "03-01")
        self.data["issues"][1] |= {"title": "typo fixed", "updated_at": "2024-03-02T00:00:00Z"}
        self.data["issues"].sort(key=lambda i: i["updated_at"], reverse=True)
        self.data["labels"].append({"id": 72, "name": "docs", "color": "0075ca"})

    def reply(self, url: Any) -> Any:
        parts = url.path.strip("/").split("/")
        if parts[:3] != ["repos", *REPO.split("/")]:
            return [] if parts[:2] == ["orgs", "acme"] else None
        rest, data = parts[3:], self.data
        if (
            rest[:1] == ["pulls"]
            and len(rest) == 3
            and rest[2] in ("reviews", "comments", "commits")
        ):
            return data["children"].get(int(rest[1]), {}).get(rest[2], [])
        if rest == ["issues"]:
            since = parse_qs(url.query).get("since", [""])[0]
            return [i for i in data["issues"] if i["updated_at"] >= since]
        return {"pulls": data["pulls"], "labels": data["labels"], "releases": data["releases"]}.get(
            "/".join(rest), []
        )
