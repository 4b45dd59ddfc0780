"""Errors grouped by how the caller recovers, each carrying an Airbyte ``failure_type``.

>>> ConfigError("config file 'c.json' is not valid JSON").failure_type
'config_error'
"""

from __future__ import annotations

from typing import Literal

FailureType = Literal["system_error", "config_error", "transient_error"]


class BridgeError(Exception):
    """A failure a user can act on: a message for people, details for maintainers."""

    failure_type: FailureType = "system_error"

    def __init__(
        self,
        message: str,
        *,
        internal_message: str | None = None,
        stream: tuple[str, str | None] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.internal_message = internal_message
        self.stream = stream


class ConfigError(BridgeError):
    """Bad config, catalog, state or bridge config: the user must change an input."""

    failure_type: FailureType = "config_error"


class TapError(BridgeError):
    """The wrapped tap failed, broke the Singer protocol, or could not be started."""

    failure_type: FailureType = "system_error"


class TransientError(BridgeError):
    """A failure that may pass on retry: timeouts, interrupted runs."""

    failure_type: FailureType = "transient_error"
