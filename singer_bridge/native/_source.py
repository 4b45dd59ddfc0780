"""A native source: spec, check and streams, run under the Airbyte protocol or as a Singer tap.

>>> from singer_bridge.native import Source, Stream
>>> numbers = Stream("n", {"properties": {"n": {"type": "integer"}}},
...                  lambda ctx: ({"n": i} for i in range(3)))
>>> source = Source("source-numbers", streams=[numbers])
>>> source.connection_spec  # no spec given: any config
{'type': 'object', 'properties': {}, 'additionalProperties': True}

``singer_bridge.launch(source)`` in the source's ``main()`` runs it from the command line:
``source-numbers spec`` (or ``check``, ``discover``, ``read``) as an Airbyte source,
``source-numbers --discover`` (or ``--about``, ``--catalog``, ``--state``) as a Singer tap.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from singer_bridge._translate.catalog import SingerStream, StreamOverride, parse_singer_catalog
from singer_bridge._translate.masking import GrowingMasker
from singer_bridge._translate.spec import mark_secrets
from singer_bridge.errors import TransientError
from singer_bridge.native._engine import all_records, tap_stream_id
from singer_bridge.native._stream import Stream

StreamsFn = Callable[[Mapping[str, Any]], Sequence[Stream]]
CheckFn = Callable[[Mapping[str, Any]], None]

# The source this process runs a command of, with its config: an OAuth2 whose author wired no
# ``on_rotated`` stores a rotated refresh token through it (see ``running_config_updater``).
_RUNNING: list[tuple[Source, Mapping[str, Any]]] = []


class Source:
    """``streams`` is a list, or a function of the config; ``check`` raises to fail a config.

    ``state_mode`` is the bridge config's: ``stream`` (per-stream STATE) or ``global``.
    """

    def __init__(
        self,
        name: str,
        streams: Sequence[Stream] | StreamsFn,
        spec: Mapping[str, Any] | None = None,
        check: CheckFn | None = None,
        version: str = "0.1.0",
        state_mode: Literal["stream", "global"] = "stream",
        check_timeout: float = 60.0,
    ) -> None:
        self.name = name
        self.state_mode = state_mode
        self.version = version
        self._streams = streams
        self.connection_spec = mark_secrets(
            dict(spec or {"type": "object", "properties": {}, "additionalProperties": True})
        )
        self._check = check
        self.check_timeout = check_timeout
        self._config_sink: Callable[[dict[str, Any]], None] | None = None
        self._config_file: Path | None = None  # Singer mode: the --config file
        self._masker: GrowingMasker | None = None
        self._new_secrets: set[str] = set()
        self._latest: dict[str, Any] | None = None
        self._rotation_lock = threading.Lock()

    def bind(self, config: Mapping[str, Any]) -> None:
        """This source runs a command with ``config``: credentials rotated during it are
        stored with no code of the author's (``running_config_updater``)."""
        _RUNNING[:] = [(self, config)]

    def config_updater(self, config: Mapping[str, Any], key: str) -> ConfigUpdater:
        """A callback for a credential the API rotates (OAuth2 ``on_rotated``), in every command:
        under Airbyte it emits a CONTROL ``connectorConfig`` message with the new config, so it
        is stored; in Singer mode it rewrites the config file (0600). The value is masked.

        In Singer mode several processes may share the config file (the bridge's parallel tap
        processes): OAuth2 then refreshes only holding the lock on the file's folder, starting
        from the newest value in the file (``ConfigUpdater.hold``), so a refresh token the
        server accepts only once is never sent twice."""
        return ConfigUpdater(self, config, key)

    def _store_rotated(self, config: Mapping[str, Any], key: str, value: str) -> None:
        self.mask_secret(value)
        with self._rotation_lock:  # two keys rotated: the second config keeps the first
            self._latest = {**(self._latest or config), key: value}
            new_config = dict(self._latest)
        if self._config_sink is not None:
            self._config_sink(new_config)
        else:
            sys.stderr.write(f"WARNING {key} was rotated: store the new value in your config\n")

    def mask_secret(self, value: str) -> None:
        """Mask ``value`` in everything written from now on (a new access or refresh token)."""
        self._new_secrets.add(value)
        if self._masker is not None:
            self._masker.add(value)

    def use_masker(self, masker: GrowingMasker) -> None:
        self._masker = masker
        for secret in self._new_secrets:
            masker.add(secret)

    def streams(self, config: Mapping[str, Any]) -> list[Stream]:
        found = self._streams(config) if callable(self._streams) else self._streams
        return list(found)

    def check_config(self, config: Mapping[str, Any]) -> None:
        """The source's own check; without one, the first stream's ``probe`` when it has one,
        else its first record must come (an empty stream passes), within ``check_timeout``
        seconds: a config that cannot reach the data fails here, with the error the read would
        give (HTTP status and endpoint)."""
        if self._check is not None:
            self._check(config)
            return
        streams = self.streams(config)
        if streams and streams[0].probe is not None:
            streams[0].probe(config)  # the stream's own cheaper proof (an async job's)
        elif streams:
            _first_record_within(streams[0], config, self.check_timeout)

    def singer_streams(
        self, config: Mapping[str, Any]
    ) -> tuple[list[SingerStream], dict[str, Stream]]:
        """The streams as the translator sees them, and each native stream by tap_stream_id."""
        native = {tap_stream_id(s): s for s in self.streams(config)}
        overrides = {
            s.name: StreamOverride(primary_key=[list(p) for p in s.primary_key])
            for s in native.values()
        }
        doc = {"streams": [s.catalog_entry() for s in native.values()]}
        return parse_singer_catalog(doc, overrides), native


def running_config_updater(value: str) -> ConfigUpdater | None:
    """The running source's ``config_updater`` for the top-level config key holding ``value``
    (the refresh token an OAuth2 started from), or ``None`` outside a run or when no key does.

    >>> source = Source("s", [])
    >>> source.bind({"client_id": "app", "refresh_token": "r-1"})
    >>> running_config_updater("r-1").key
    'refresh_token'
    >>> running_config_updater("r-0") is None
    True
    """
    if not _RUNNING or not value:
        return None
    source, config = _RUNNING[0]
    key = next((k for k, v in config.items() if v == value), None)
    return None if key is None else source.config_updater(config, str(key))


def running_source() -> Source | None:
    """The source this process runs a command of, if any."""
    return _RUNNING[0][0] if _RUNNING else None


def _first_record_within(stream: Stream, config: Mapping[str, Any], timeout: float) -> None:
    """Read the first record of ``stream`` in a daemon thread; raise what the read raised, or a
    ``TransientError`` when nothing came within ``timeout`` seconds."""
    outcome: list[BaseException | None] = []

    def first() -> None:
        try:
            next(iter(all_records(stream, config)), None)
            outcome.append(None)
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=first, name=f"check-{stream.name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TransientError(
            f"check: stream '{stream.name}' gave no record within {timeout:g} s; "
            "the API may be unreachable or very slow"
        )
    if outcome[0] is not None:
        raise outcome[0]


class ConfigUpdater:
    """``Source.config_updater(config, key)``: call it with a rotated value to store it."""

    def __init__(self, source: Source, config: Mapping[str, Any], key: str) -> None:
        self._source, self._config, self.key = source, config, key

    def __call__(self, value: str) -> None:
        self._source._store_rotated(self._config, self.key, value)

    @contextlib.contextmanager
    def hold(self) -> Iterator[str | None]:
        """While held, no other process sharing the config file refreshes; gives the newest
        value of ``key`` in that file (``None`` outside Singer mode)."""
        path = self._source._config_file
        if path is None:
            yield None
            return
        folder = os.open(path.parent, os.O_RDONLY)  # the file itself is replaced on rewrite
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            try:
                value = json.loads(path.read_bytes()).get(self.key)
            except (OSError, ValueError, AttributeError):
                value = None
            yield value if isinstance(value, str) and value else None
        finally:
            os.close(folder)  # and with it the lock
