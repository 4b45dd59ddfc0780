"""What a tap said before, kept between commands: its ``--about``, its catalog flag, its catalog.

Every start of a singer-sdk tap costs about a second of CPU, and a plain ``read`` would start it
three times (``--about``, ``--discover``, the read). So the answers are kept on disk:

- ``--about`` and the catalog flag, by the tap's identity: its argv, the size, mtime and inode
  of every argv element that is a file (a reinstall or an edit of the tap changes them; a bare
  command is the file PATH resolves it to, as when the tap starts), the
  bridge config's ``env`` for the tap, and the bridge's version;
- the catalog a discovery returned, by that identity and the tap's config. ``discover`` always
  runs the tap and stores what it found; ``read`` takes the stored catalog for the same tap and
  config (the configured catalog it is given came from that discovery), else discovers. ``check``
  always discovers: it is there to touch the source.

Keys are HMAC-SHA256 digests under a random key kept in the cache folder, so neither the
config's secrets nor a digest of them that could be guessed at is written anywhere. Files are
0600 in 0700 folders: ``$SINGER_BRIDGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/singer-bridge``, else
``~/.cache/singer-bridge``. ``SINGER_BRIDGE_CACHE=off`` turns the cache off; a cache that cannot
be read or written is skipped, never an error.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from singer_bridge._version import __version__

CACHE_ENV = "SINGER_BRIDGE_CACHE"
CACHE_DIR_ENV = "SINGER_BRIDGE_CACHE_DIR"
_MISSING: Any = object()


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The cache folder, or None when the cache is turned off."""
    if environ.get(CACHE_ENV, "").strip().lower() in {"off", "0", "false", "no"}:
        return None
    if environ.get(CACHE_DIR_ENV):
        return Path(environ[CACHE_DIR_ENV])
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "singer-bridge"


def tap_identity(
    argv: Sequence[str], env: Mapping[str, str], environ: Mapping[str, str] = os.environ
) -> bytes:
    """What makes a tap the same tap: argv, the files it names as they are now, its env.

    A bare command (``tap-x``) is the file PATH finds for it (the tap's PATH: ``env``'s, else
    ours), as the tap's start resolves it: another ``tap-x`` on PATH is another tap.
    """
    parts: list[Any] = [__version__, list(argv), sorted(env.items())]
    files = list(argv)
    if files and os.sep not in files[0]:
        path = env.get("PATH", environ.get("PATH", os.defpath))
        files[0] = shutil.which(files[0], path=path) or files[0]
    for arg in files:
        try:
            stat = os.stat(arg)
        except (OSError, ValueError):
            continue
        parts.append([os.path.realpath(arg), stat.st_size, stat.st_mtime_ns, stat.st_ino])
    return json.dumps(parts, sort_keys=True).encode()


class TapCache:
    """``get``/``put`` of JSON documents for one tap, each under a kind and optional parts."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], folder: Path | None) -> None:
        self._folder = folder
        self._identity = tap_identity(argv, env) if folder is not None else b""
        self._key: bytes | None = None

    @property
    def enabled(self) -> bool:
        return self._folder is not None

    def get(self, kind: str, *parts: Any) -> Any:
        """The stored document; ``missing(...)`` says whether there was none."""
        path = self._path(kind, parts)
        if path is None:
            return _MISSING
        try:
            return json.loads(path.read_text(encoding="utf-8"))["doc"]
        except (OSError, ValueError, KeyError, TypeError):
            return _MISSING

    def put(self, kind: str, doc: Any, *parts: Any) -> None:
        path = self._path(kind, parts)
        if path is None:
            return
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"doc": doc}, handle)
            os.replace(temporary, path)  # a reader never sees half a file
        except (OSError, TypeError, ValueError):
            temporary.unlink(missing_ok=True)

    def _path(self, kind: str, parts: Sequence[Any]) -> Path | None:
        if self._folder is None:
            return None
        key = self._secret()
        if key is None:
            return None
        text = json.dumps([kind, list(parts)], sort_keys=True, default=str).encode()
        digest = hmac.new(key, self._identity + b"\0" + text, hashlib.sha256).hexdigest()
        return self._folder / f"{kind}-{digest[:40]}.json"

    def _secret(self) -> bytes | None:
        """The HMAC key, made (0600, in a 0700 folder) the first time."""
        if self._key is not None or self._folder is None:
            return self._key
        path = self._folder / "key"
        try:
            self._folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                key = path.read_bytes()
            else:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(key := secrets.token_bytes(32))
        except OSError:
            self._folder = None  # no cache here: every answer is asked of the tap
            return None
        if len(key) != 32:
            self._folder = None
            return None
        self._key = key
        return key


def missing(doc: Any) -> bool:
    """Whether ``TapCache.get`` found nothing."""
    return doc is _MISSING
