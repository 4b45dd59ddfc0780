"""Records out of a response body by path (``data/items``, ``results/*/rows``).

>>> list(extract({"data": {"items": [{"id": 1}, {"id": 2}]}}, "data/items"))
[{'id': 1}, {'id': 2}]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _steps(path: str | None) -> list[str]:
    return [p for p in (path or "").replace(".", "/").split("/") if p]


def _walk(node: Any, steps: list[str]) -> Iterator[Any]:
    if not steps:
        yield node
        return
    head, rest = steps[0], steps[1:]
    if head == "*":
        values = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
        for value in values:
            yield from _walk(value, rest)
    elif isinstance(node, dict) and head in node:
        yield from _walk(node[head], rest)
    elif isinstance(node, list) and head.isdigit() and int(head) < len(node):
        yield from _walk(node[int(head)], rest)


def extract(body: Any, path: str | None) -> Iterator[dict[str, Any]]:
    """The records at ``path``: a list there is flattened, an object there is one record."""
    for found in _walk(body, _steps(path)):
        if isinstance(found, list):
            yield from (item for item in found if isinstance(item, dict))
        elif isinstance(found, dict):
            yield found


def extract_first(body: Any, path: str) -> Any:
    return next(_walk(body, _steps(path)), None)
