"""Reading user files with errors that name the file, and a private temp dir for the tap."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from singer_bridge.errors import ConfigError


def load_json_file(path: str | Path, what: str) -> Any:
    """Parse a JSON file; ``what`` names it in errors ("config", "catalog", "state")."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{what} file '{file}' does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} file '{file}' cannot be read: {exc}") from exc
    if not text.strip():
        raise ConfigError(f"{what} file '{file}' is empty")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{what} file '{file}' is not valid JSON: {exc}") from exc


def load_json_object(path: str | Path, what: str) -> dict[str, Any]:
    doc = load_json_file(path, what)
    if not isinstance(doc, dict):
        raise ConfigError(f"{what} file '{path}' must hold a JSON object, not {type(doc).__name__}")
    return doc


def parse_json_output(data: bytes) -> Any:
    """A tap's JSON document on stdout, possibly pretty-printed or after stray text lines."""
    text = data.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            doc, _ = decoder.raw_decode(text, start)
            return doc
        except ValueError:
            start = text.find("\n{", start + 1)
            start = start + 1 if start != -1 else -1
    raise ValueError("no JSON object in the tap's output")


@contextlib.contextmanager
def private_dir(prefix: str = "singer-bridge-") -> Iterator[Path]:
    """A 0700 temp dir removed on exit, failure included."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write_private_json(directory: Path, name: str, doc: Any) -> Path:
    path = directory / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(doc, handle)
    return path


def write_config_file(path: Path, config: dict[str, Any]) -> int:
    """Replace the config file ``path`` atomically and durably with ``config``; return the
    file's mode. Raises ``OSError``.

    It may hold the only copy of a rotated refresh token, so: through a symlink to the file it
    names (the link stays); the file's owner and mode kept, except access for others, which a
    file of credentials never gets (a new file is 0600); the data synced before the rename, and
    the folder after it, so a crash leaves the old file or the new one, never an empty one.
    """
    target = Path(os.path.realpath(path))
    try:
        old: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        old = None
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=target.parent)
    try:
        mode = stat.S_IMODE(old.st_mode) & ~0o007 if old else 0o600
        os.fchmod(fd, mode)
        if old is not None and (old.st_uid, old.st_gid) != (os.geteuid(), os.getegid()):
            with contextlib.suppress(PermissionError):  # only root may give files away
                os.fchown(fd, old.st_uid, old.st_gid)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)  # the rename itself survives a crash
    finally:
        os.close(folder)
    return mode
