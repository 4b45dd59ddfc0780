"""Reading user files with errors that name the file, and a private temp dir for the tap."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
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


def write_config_file(path: Path, config: dict[str, Any]) -> None:
    """Replace the config file ``path`` atomically with ``config``, readable by its owner only
    (0600): it holds credentials. Raises ``OSError``."""
    fd, tmp = tempfile.mkstemp(prefix=".config-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(config, handle, indent=2)
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        raise
