"""Records out of a response body by path: RFC 9535 JSONPath (``$.data.items``,
``$['meta.info'].rows``), or slash-separated keys (``data/items``, ``results/*/rows``), or a
list of keys. A key may hold dots (``meta.info/next.page``); ``*`` takes every member.

>>> list(extract({"data": {"items": [{"id": 1}, {"id": 2}]}}, "data/items"))
[{'id': 1}, {'id': 2}]
>>> list(extract({"d.v2": {"rows": [{"id": 3}]}}, "$['d.v2'].rows"))
[{'id': 3}]
>>> extract_first({"page": {"next.token": "t2"}}, "page/next.token")
't2'
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

import jsonpath

Path = str | Sequence[str]


def _selector(step: str) -> str:
    if step == "*":
        return "[*]"
    quoted = "'" + step.replace("\\", "\\\\").replace("'", "\\'") + "'"
    # a number names a key of an object or an index of an array, as the slash form always did
    return f"[{quoted}, {int(step)}]" if step.isdigit() else f"[{quoted}]"


@functools.lru_cache(maxsize=256)
def _compiled(path: str | tuple[str, ...]) -> jsonpath.JSONPath | jsonpath.CompoundJSONPath:
    if isinstance(path, str) and path.startswith("$"):
        return jsonpath.compile(path)
    steps = [p for p in path.split("/") if p] if isinstance(path, str) else list(path)
    return jsonpath.compile("$" + "".join(_selector(step) for step in steps))


def _matches(body: Any, path: Path | None) -> list[Any]:
    if not path:
        return [body]
    key = path if isinstance(path, str) else tuple(path)
    return list(_compiled(key).findall(body))


def extract(body: Any, path: Path | None) -> Iterator[dict[str, Any]]:
    """The records at ``path``: a list there is flattened, an object there is one record."""
    for found in _matches(body, path):
        if isinstance(found, list):
            yield from (item for item in found if isinstance(item, dict))
        elif isinstance(found, dict):
            yield found


def extract_first(body: Any, path: Path) -> Any:
    found = _matches(body, path)
    return found[0] if found else None
