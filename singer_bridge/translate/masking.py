"""Find secret values in a config and mask them in any text the bridge writes.

>>> m = Masker.from_config({"user": "bob", "password": "hunter22"}, spec=None)
>>> m.mask("login bob:hunter22 failed")
'login bob:**** failed'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "****"
_SECRET_FLAGS = ("airbyte_secret", "secret", "writeOnly")
# Config keys that hold credentials even when a tap's spec forgets to mark them.
_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|access[_-]?key"
    r"|client[_-]?secret|refresh|session|dsn|connection[_-]?string|sas)",
    re.IGNORECASE,
)
_MIN_SECRET_LEN = 3


def secret_paths(spec_schema: Mapping[str, Any] | None) -> set[tuple[str, ...]]:
    """Property paths the spec marks secret (``airbyte_secret``, ``secret`` or ``writeOnly``)."""
    out: set[tuple[str, ...]] = set()

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if not isinstance(node, dict):
            return
        if any(node.get(flag) is True for flag in _SECRET_FLAGS):
            out.add(path)
        for name, sub in (node.get("properties") or {}).items():
            walk(sub, (*path, name))
        for key in ("oneOf", "anyOf", "allOf"):
            for sub in node.get(key) or []:
                walk(sub, path)

    walk(spec_schema, ())
    return out


def _values(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
    elif node is not None and not isinstance(node, bool):
        yield str(node)


def secret_values(
    config: Any, spec_schema: Mapping[str, Any] | None, extra_keys: Iterable[str] = ()
) -> set[str]:
    paths = secret_paths(spec_schema)
    names = set(extra_keys)
    found: set[str] = set()

    def walk(node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                sub = (*path, str(key))
                if (
                    sub in paths
                    or key in names
                    or (_SECRET_NAME.search(str(key)) and isinstance(value, str | int))
                ):
                    found.update(_values(value))
                else:
                    walk(value, sub)
        elif isinstance(node, list):
            for value in node:
                walk(value, path)

    walk(config, ())
    return {v for v in found if len(v) >= _MIN_SECRET_LEN}


class Masker:
    """Replaces every secret value, raw or JSON-escaped, with ``****``."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            variants.add(secret)
            variants.add(json.dumps(secret)[1:-1])
        ordered = sorted((v for v in variants if v), key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_config(
        cls, config: Any, spec: Mapping[str, Any] | None, extra_keys: Iterable[str] = ()
    ) -> Masker:
        return cls(secret_values(config, spec, extra_keys))

    def mask(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)
