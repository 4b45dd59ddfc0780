"""A native source: spec, check and streams, run under the Airbyte protocol or as a Singer tap.

>>> from singer_bridge.native import AirbyteSource, Source, Stream
>>> numbers = Stream("n", {"properties": {"n": {"type": "integer"}}},
...                  lambda ctx: ({"n": i} for i in range(3)))
>>> source = Source("source-numbers", streams=[numbers])
>>> AirbyteSource(source).spec()["connectionSpecification"]  # no spec given: any config
{'type': 'object', 'properties': {}, 'additionalProperties': True}

``launch(source)`` in the source's ``main()`` runs it from the command line: ``source-numbers
spec`` (or ``check``, ``discover``, ``read``) as an Airbyte source, ``source-numbers --discover``
(or ``--about``, ``--catalog``, ``--state``) as a Singer tap.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from singer_bridge.bridge_config import StreamOverride
from singer_bridge.errors import BridgeError, TransientError
from singer_bridge.files import load_json_file, load_json_object
from singer_bridge.native.engine import all_records, read_stream, tap_stream_id
from singer_bridge.native.state import StateKeeper
from singer_bridge.native.stream import Stream
from singer_bridge.protocol import airbyte as messages
from singer_bridge.protocol.events import RecordEvent
from singer_bridge.read import now_ms, plan_read, run_read
from singer_bridge.translate.catalog import (
    SingerStream,
    airbyte_catalog,
    parse_singer_catalog,
)
from singer_bridge.translate.masking import Masker, secret_values
from singer_bridge.translate.spec import mark_secrets, validate_config
from singer_bridge.translate.translator import Translator
from singer_bridge.writer import Writer

StreamsFn = Callable[[Mapping[str, Any]], Sequence[Stream]]
CheckFn = Callable[[Mapping[str, Any]], None]


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
        """The source's own check; without one, the first record of the first stream must come
        (an empty stream passes), within ``check_timeout`` seconds: a config that cannot reach
        the data fails here, with the error the read would give (HTTP status and endpoint)."""
        if self._check is not None:
            self._check(config)
            return
        streams = self.streams(config)
        if streams:
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


class GrowingMasker(Masker):
    """A ``Masker`` that learns secrets made during the run (rotated and new tokens)."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = set(secrets)
        super().__init__(self._secrets)

    def add(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.add(secret)
            super().__init__(self._secrets)


class AirbyteSource:
    """A ``Source`` under the Airbyte protocol: what ``singer_bridge.cli.main.launch`` drives."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._stopped = threading.Event()
        self._stop_reason = ""

    def spec(self) -> dict[str, Any]:
        return {"connectionSpecification": self.source.connection_spec}

    def _config(self, config_file: str) -> tuple[dict[str, Any], Masker]:
        config = load_json_object(config_file, "config")
        validate_config(config, self.source.connection_spec, config_file)
        masker = GrowingMasker(secret_values(config, self.source.connection_spec))
        self.source.use_masker(masker)
        return config, masker

    def _emit_rotations(self, writer: Writer) -> None:
        self.source._config_sink = lambda new: writer.write(messages.control_config(new, now_ms()))

    def check(self, config_file: str, writer: Writer) -> bytes:
        masker = Masker(())
        self._emit_rotations(writer)
        try:
            config, masker = self._config(config_file)
            writer.mask_with(masker.mask)
            self.source.check_config(config)
        except BridgeError as exc:
            return messages.connection_status(False, masker.mask(exc.message))
        except Exception as exc:  # the connector's check said no, in its own words
            return messages.connection_status(False, masker.mask(f"{type(exc).__name__}: {exc}"))
        return messages.connection_status(True)

    def discover(self, config_file: str, writer: Writer) -> bytes:
        self._emit_rotations(writer)
        config, masker = self._config(config_file)
        writer.mask_with(masker.mask)
        streams, _ = self.source.singer_streams(config)
        return messages.catalog_message(airbyte_catalog(streams))

    def read(
        self, config_file: str, catalog_file: str, state_file: str | None, writer: Writer
    ) -> int:
        config, masker = self._config(config_file)
        writer.mask_with(masker.mask)
        self._emit_rotations(writer)
        streams, native = self.source.singer_streams(config)
        plan = plan_read(
            streams,
            load_json_file(catalog_file, "catalog"),
            load_json_file(state_file, "state") if state_file else None,
            f"file '{catalog_file}'",
            f"state file '{state_file}'",
            keep_full_refresh_bookmarks=True,  # the engine drops cursors, keeps checkpoints
        )

        def produce(translator: Translator, out: Writer) -> BridgeError | None:
            keeper = StateKeeper(plan.singer_state)
            for c in plan.configured:
                stream = native[c.singer.tap_stream_id]
                for event in read_stream(
                    stream, config, keeper, c.incremental, self._stopped.is_set
                ):
                    if isinstance(event, RecordEvent):
                        out.write(translator.record(event.stream, event.data, None))
                    else:
                        out.write_all(translator.feed(event))
            return None

        return run_read(
            plan,
            produce,
            writer,
            masker=masker,
            state_mode=self.source.state_mode,
            interrupted=lambda: self._stop_reason if self._stopped.is_set() else None,
        )

    def interrupt(self, reason: str) -> None:
        self._stop_reason = reason
        self._stopped.set()


def launch(source: Source, argv: Sequence[str] | None = None) -> int:
    """Run ``source``: Airbyte commands (spec/check/discover/read) or Singer tap flags."""
    from singer_bridge.cli.main import launch as airbyte_launch
    from singer_bridge.native.singer_mode import run_singer

    args = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("spec", "check", "discover", "read") for a in args[:1]):
        return airbyte_launch(AirbyteSource(source), args)
    return run_singer(source, args)
