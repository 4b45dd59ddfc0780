"""Find secret values in a config and mask them in any text the bridge writes.

>>> m = Masker.from_config({"user": "bob", "password": "p@ss#w0rd", "page_size": 1000}, None)
>>> m.mask("login bob:p@ss#w0rd failed, page size 1000")
'login bob:**** failed, page size 1000'

Secrets are also found percent-encoded (in a URL) and in base64 (a Basic auth header):

>>> m.mask("GET https://bob:p%40ss%23w0rd@host/ Authorization: Basic Ym9iOnBAc3MjdzByZA==")
'GET https://bob:****@host/ Authorization: Basic ****'

The signing parameters of a URL (presigned storage, keys in a query) are masked whatever the
config holds:

>>> Masker(()).mask("HTTP 403 from https://s3/r.csv?X-Amz-Date=20240101&X-Amz-Signature=9f8e")
'HTTP 403 from https://s3/r.csv?X-Amz-Date=20240101&X-Amz-Signature=****'
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus, unquote

from singer_bridge._signing import SIGNING_PARAMS

MASK = "****"
_SECRET_FLAGS = ("airbyte_secret", "secret", "writeOnly")
# Config keys that hold credentials even when a tap's spec forgets to mark them.
_SECRET_NAME = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|auth|access[_-]?key"
    r"|client[_-]?secret|refresh|session|dsn|connection[_-]?string|sas)",
    re.IGNORECASE,
)
# Keys whose names sound secret but hold settings (``token_url``, ``session_timeout``).
_SETTING_NAME = re.compile(
    r"(url|uri|endpoint|host|interval|timeout|seconds|minutes|hours|days|count|size|limit|ttl"
    r"|enabled|type|method|mode|flow|scope|expir)",
    re.IGNORECASE,
)
_MIN_SECRET_LEN = 3
# ``;`` for ``&amp;`` in XML and HTML; a value ends where a URL would in JSON or prose
_SIGNED_PARAM = re.compile(
    r"([?&;](?:" + "|".join(map(re.escape, SIGNING_PARAMS)) + r")=)[^&\s\"'#<>\\]+",
    re.IGNORECASE,
)


# ``scheme://user:password@host``: a connection URL carries its password inline. A scheme
# starts where no scheme character stands before it, and every part is bounded, so a long run
# of letters (a 3 MB config value, a huge log line) is scanned in linear time, not quadratic.
_URL_PASSWORD = re.compile(
    r"(?<![A-Za-z0-9+.\-])[A-Za-z][A-Za-z0-9+.\-]{0,31}://[^/?#@:\s]{0,1024}:([^/?#@\s]{1,1024})@"
)


def url_passwords(value: str) -> set[str]:
    """The passwords written into the URLs of ``value``, as written and percent-decoded.

    >>> sorted(url_passwords("postgresql://app:p%40ss@db.internal:5432/shop"))
    ['p%40ss', 'p@ss']
    """
    found = set()
    for match in _URL_PASSWORD.finditer(value):
        found.update({match.group(1), unquote(match.group(1))})
    return found


def redact_url_credentials(text: str) -> str:
    """``text`` with URL passwords and signing parameters masked, for text no config's
    masker covers (a package installer's output, say).

    >>> redact_url_credentials("pip: https://me:s3cret@pypi.corp/simple?token=t1 refused")
    'pip: https://me:****@pypi.corp/simple?token=**** refused'
    """
    text = redact_url_secrets(text)
    return _URL_PASSWORD.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)] + MASK + "@", text)


def redact_url_secrets(text: str) -> str:
    """``text`` with the value of every signing query parameter of a URL masked.

    >>> redact_url_secrets("GET https://x.blob.core/c/f?sv=2022&sig=abc%2Bdef and ?api_key=k1")
    'GET https://x.blob.core/c/f?sv=2022&sig=**** and ?api_key=****'
    """
    return _SIGNED_PARAM.sub(r"\g<1>" + MASK, text)


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
                if sub in paths or key in names or _secret_by_name(str(key), value):
                    found.update(_values(value))
                else:
                    walk(value, sub)
        elif isinstance(node, list):
            for value in node:
                walk(value, path)
        elif isinstance(node, str):  # a setting such as ``database_url`` with a password in it
            found.update(url_passwords(node))

    walk(config, ())
    return {v for v in found if len(v) >= _MIN_SECRET_LEN}


def _secret_by_name(key: str, value: Any) -> bool:
    """A credential the spec forgot to mark: a string under a secret-sounding key."""
    if not isinstance(value, str) or not _SECRET_NAME.search(key) or _SETTING_NAME.search(key):
        return False
    return not (value.isdigit() and len(value) < 8) and value.lower() not in ("true", "false")


def _encoded_forms(secret: str, users: Iterable[str]) -> set[str]:
    """How a secret shows up in logs besides itself: JSON-escaped, in a URL, in base64."""
    forms = {secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)}
    for text in (secret, *(f"{user}:{secret}" for user in users)):
        raw = text.encode("utf-8")
        forms.update({base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()})
    return forms


def config_users(config: Any, secrets: Iterable[str]) -> list[str]:
    """The config's short non-secret strings: the users a ``user:secret`` may pair with."""
    known = set(secrets)
    return sorted({v for v in _values(config) if 0 < len(v) < 100 and v not in known})[:50]


class Masker:
    """Replaces every secret value, raw or JSON-escaped, with ``****``."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str], users: Iterable[str] = ()) -> None:
        """``users``: the config's other short strings, for ``user:secret`` in base64."""
        users = tuple(users)
        variants: set[str] = set()
        for secret in secrets:
            variants.update(_encoded_forms(secret, users))
        ordered = sorted((v for v in variants if v), key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_config(
        cls, config: Any, spec: Mapping[str, Any] | None, extra_keys: Iterable[str] = ()
    ) -> Masker:
        secrets = secret_values(config, spec, extra_keys)
        return cls(secrets, config_users(config, secrets))

    def mask(self, text: str) -> str:
        text = redact_url_secrets(text)
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)


class GrowingMasker(Masker):
    """A ``Masker`` that learns secrets made during the run (rotated and new tokens)."""

    __slots__ = ("_secrets", "_users")

    def __init__(self, secrets: Iterable[str], users: Iterable[str] = ()) -> None:
        self._secrets, self._users = set(secrets), tuple(users)
        super().__init__(self._secrets, self._users)

    @classmethod
    def for_config(cls, config: Any, spec: Mapping[str, Any] | None) -> GrowingMasker:
        """Masks the config's secrets, ``user:secret`` in base64 (Basic auth) included."""
        secrets = secret_values(config, spec)
        return cls(secrets, config_users(config, secrets))

    def add(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.add(secret)
            super().__init__(self._secrets, self._users)
