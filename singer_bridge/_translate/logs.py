"""Tap stderr lines to Airbyte log levels.

Recognises singer-sdk (``time | LEVEL | logger | msg``), Python's default
(``LEVEL:name:msg``), singer-python (``LEVEL msg``), pipelinewise (``time=… level=… message=…``),
JSON lines, and tracebacks (ERROR until the exception line).

>>> StderrParser().parse("2024-01-01 10:00:00,123 | WARNING  | tap-x | slow API")
('WARN', '2024-01-01 10:00:00,123 | WARNING  | tap-x | slow API')
>>> StderrParser().parse("INFO Starting sync")
('INFO', 'INFO Starting sync')
"""

from __future__ import annotations

import json
import re

_LEVELS = {
    "TRACE": "TRACE",
    "DEBUG": "DEBUG",
    "INFO": "INFO",
    "NOTICE": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "EXCEPTION": "ERROR",
    "CRITICAL": "FATAL",
    "FATAL": "FATAL",
}
_LEVEL_WORD = "|".join(sorted(_LEVELS, key=len, reverse=True))
_PIPE = re.compile(rf"^[^|]*\|\s*({_LEVEL_WORD})\s*\|", re.IGNORECASE)
_KEY_VALUE = re.compile(rf"(?:^|\s)level=\"?({_LEVEL_WORD})\b", re.IGNORECASE)
_COLON = re.compile(rf"^({_LEVEL_WORD}):", re.IGNORECASE)
_WORD = re.compile(rf"^\s*(?:\[)?({_LEVEL_WORD})(?:\])?(?:\s|$)", re.IGNORECASE)
# "2024-01-01 10:00:00,123 INFO msg" or "[2024-01-01T10:00:00Z] ERROR msg"
_STAMPED = re.compile(
    rf"^\[?[\d\-:T.,+Z ]{{8,35}}\]?\s+-?\s*\[?({_LEVEL_WORD})\]?\b", re.IGNORECASE
)
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")


def level_name(word: str) -> str:
    return _LEVELS.get(word.upper(), "INFO")


class StderrParser:
    """Stateful only for tracebacks, whose lines carry no level of their own."""

    __slots__ = ("_in_traceback",)

    def __init__(self) -> None:
        self._in_traceback = False

    def parse(self, line: str) -> tuple[str, str]:
        """Return (Airbyte level, message) for one stderr line (without its newline)."""
        if line.startswith("Traceback (most recent call last)"):
            self._in_traceback = True
            return "ERROR", line
        if self._in_traceback:
            if line.startswith((" ", "\t")) or not line.strip():
                return "ERROR", line
            self._in_traceback = not _EXCEPTION_LINE.match(line) and line.startswith(
                ("During handling", "The above exception")
            )
            return "ERROR", line
        level = self._level(line)
        return level, line

    @staticmethod
    def _level(line: str) -> str:
        stripped = line.lstrip()
        if stripped.startswith("{"):
            level = _json_level(stripped)
            if level:
                return level
        for pattern in (_PIPE, _KEY_VALUE, _COLON, _WORD, _STAMPED):
            match = pattern.search(line) if pattern is _KEY_VALUE else pattern.match(line)
            if match:
                return level_name(match.group(1))
        return "INFO"


def _json_level(text: str) -> str | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    for key in ("level", "levelname", "severity", "log_level", "lvl"):
        value = doc.get(key)
        if isinstance(value, str) and value.upper() in _LEVELS:
            return level_name(value)
    return "INFO"
