"""The translator: a pure state machine from events to encoded Airbyte lines.

It knows the configured streams, never touches a process, socket or clock (``now_ms`` is passed
in), and keeps the invariants the rest of the bridge relies on: a RECORD is emitted once, in
order; a STATE is emitted only after every RECORD that preceded it; ``sourceStats.recordCount``
is the number of that stream's records since its previous STATE.

>>> import json
>>> from singer_bridge._translate.catalog import configure, parse_singer_catalog
>>> streams = parse_singer_catalog({"streams": [{"tap_stream_id": "users", "stream": "users",
...     "schema": {"properties": {"id": {"type": "integer"}}}}]})
>>> configured = configure(streams, {"streams": [{"stream": {"name": "users"},
...     "sync_mode": "full_refresh"}]}, "catalog.json")
>>> t = Translator(configured, now_ms=lambda: 7)
>>> _ = t.start()  # STARTED
>>> print(t.record("users", b'{"id": 1}', None).decode().splitlines()[-1])
{"type":"RECORD","record":{"stream":"users","data":{"id": 1},"emitted_at":7}}
>>> json.loads(t.state({"bookmarks": {"users": {"id": 1}}})[0])["state"]["sourceStats"]
{'recordCount': 1.0}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from singer_bridge._protocol import airbyte as messages
from singer_bridge._protocol.events import (
    ActivateVersionEvent,
    BatchEvent,
    Event,
    LogEvent,
    RecordEvent,
    SchemaEvent,
    StateEvent,
)
from singer_bridge._protocol.singer import extracted_text
from singer_bridge._translate.catalog import ConfiguredStream
from singer_bridge._translate.decimals import decimals_with_meta
from singer_bridge._translate.routes import (
    UNSET,
    Counters,
    Route,
    kept_fields,
    only_fields,
    record_prefix,
    without_fields,
)
from singer_bridge._translate.schema import decimal_fields, with_property_overrides
from singer_bridge._translate.state import (
    bookmark_to_stream_state,
    shared_part,
    stream_state_to_bookmark,
)
from singer_bridge._translate.timestamps import SAME_MS_RAW_TAILS, extracted_suffix
from singer_bridge.errors import BridgeError, TapError

_OPEN_BRACE = 0x7B


class Translator:
    """``start()``, then ``feed(event)`` / ``record(...)`` per message, then ``finish(error)``."""

    def __init__(
        self,
        configured: Iterable[ConfiguredStream],
        *,
        now_ms: Callable[[], int],
        initial_states: Mapping[str, dict[str, Any]] | None = None,
        state_mode: str = "stream",
        mask: Callable[[str], str] = lambda text: text,
        selected_fields: Mapping[str, Sequence[str] | None] | None = None,
        shared: Mapping[str, Any] | None = None,
    ) -> None:
        self._now_ms = now_ms
        self._mask = mask
        self._state_mode = state_mode
        self.counters = Counters()
        self._routes: list[Route] = []
        self._by_name: dict[str, Route | None] = {}
        initial_states = initial_states or {}
        for c in configured:
            prefix = record_prefix(c.singer.name, c.singer.namespace)
            route = Route(c, prefix, c.singer.decimal_fields, body_at=len(prefix))
            route.fields = kept_fields(c, (selected_fields or {}).get(c.singer.tap_stream_id))
            route.dropped = c.singer.key_carriers
            if c.singer.tap_stream_id in initial_states:
                route.last_state = initial_states[c.singer.tap_stream_id]
            self._routes.append(route)
        self._index_routes()
        self._last_extracted: str | None = None
        self._last_suffix = b""
        # Streams whose RECORDs need nothing but a prefix and a suffix (RUNNING, all fields,
        # no decimals), by the name the tap uses: the loop in records() handles them.
        self._fast: dict[str | None, Route] = {}
        # The same for records(), which sees time_extracted as raw JSON (b'"2024-..."'), and
        # the millisecond later records may share: b'"' + its 23 characters, and its suffix.
        self._last_raw: Any = None
        self._last_raw_suffix = b""
        self._raw_ms_key = b"-"
        self._raw_ms_suffix = b""
        self._last_shared: dict[str, Any] = dict(shared or {})
        self._shared_at: int | None = None  # when the tap last changed its shared keys
        self._last_global: Any = UNSET

    def _index_routes(self) -> None:
        # RECORDs may name the tap_stream_id ("public-users") or the table ("users").
        names: dict[str, list[Route]] = {}
        for route in self._routes:
            singer = route.stream.singer
            for key in {singer.tap_stream_id, singer.stream, singer.name}:
                names.setdefault(key, []).append(route)
        for route in self._routes:
            self._by_name[route.stream.singer.tap_stream_id] = route
        for key, routes in names.items():
            if key not in self._by_name and len(routes) == 1:
                self._by_name[key] = routes[0]

    def start(self) -> list[bytes]:
        now = self._now_ms()
        return [
            messages.stream_status(r.stream.singer.name, r.stream.singer.namespace, "STARTED", now)
            for r in self._routes
        ]

    # -- the hot path -------------------------------------------------------------------------
    def record(self, stream: str, data: Any, time_extracted: str | None) -> bytes:
        """Encoded line(s) for one RECORD; ``data`` is the raw JSON object (bytes-like)."""
        route = self._by_name.get(stream, UNSET)
        if route is UNSET:
            route = self._by_name[stream] = None
        if route is None:
            return self._drop(stream)
        if route.fields is not None:
            data = only_fields(data, route.fields)
        if route.dropped:
            data = without_fields(data, route.dropped)
        meta = b""
        if route.decimals:
            data, meta = decimals_with_meta(data, route.decimals)
        if time_extracted is None:
            suffix = b',"emitted_at":%d}}\n' % self._now_ms()
        elif time_extracted == self._last_extracted:
            suffix = self._last_suffix
        else:
            suffix = self._suffix(time_extracted)
        if meta:
            suffix = meta + suffix
        if route.running:
            line = b"".join((route.prefix, data, suffix))
            if line[route.body_at] != _OPEN_BRACE:  # Airbyte's record data must be an object
                return self._not_an_object(stream)
            route.pending += 1
            self._take_fast(stream, route)
            return line
        singer = route.stream.singer
        status = messages.stream_status(singer.name, singer.namespace, "RUNNING", self._now_ms())
        line = b"".join((status, route.prefix, data, suffix))  # one copy of a large record
        if line[len(status) + route.body_at] != _OPEN_BRACE:
            return self._not_an_object(stream)
        route.pending += 1
        route.running = True
        self._take_fast(stream, route)
        return line

    def _take_fast(self, stream: str, route: Route) -> None:
        fast = route.fields is None and not route.decimals and not route.dropped
        if fast and stream not in self._fast:
            self._fast[stream] = route  # records() takes this stream's next ones

    def records(self, envelopes: Iterator[Any], out: list[bytes]) -> Any:
        """``record`` for each RECORD envelope taken from ``envelopes``, lines to ``out``.

        Returns the first envelope that is not a RECORD (None at the end). The same as
        ``record`` per envelope (``time_extracted`` as raw JSON), the usual case (a RUNNING
        stream, no field selection or decimals) in one tight loop. Records without a
        ``time_extracted`` taken in one call share one reading of the clock.
        """
        emit, join = out.append, b"".join
        fast = self._fast
        record = self.record
        last_raw, last_suffix = self._last_raw, self._last_raw_suffix
        ms_key, ms_suffix, same_ms = self._raw_ms_key, self._raw_ms_suffix, SAME_MS_RAW_TAILS
        clock: bytes | None = None
        try:
            for message in envelopes:
                if message.type != "RECORD":
                    return message
                route = fast.get(message.stream)
                if route is None:
                    emit(record(message.stream or "", message.record, extracted_text(message)))
                    continue
                raw = message.time_extracted
                if raw != last_raw:
                    extracted = bytes(raw)
                    if extracted[:24] == ms_key and extracted[24:] in same_ms:
                        last_suffix = ms_suffix  # the same millisecond as the last one
                    else:
                        text = extracted_text(message)
                        suffix = None if text is None else self._parsed_suffix(text)
                        if suffix is None:  # no usable time_extracted: the clock, once per call
                            if clock is None:
                                clock = b',"emitted_at":%d}}\n' % self._now_ms()
                            suffix = clock
                        else:  # _parsed_suffix may have made it a millisecond others share
                            ms_key, ms_suffix = self._raw_ms_key, self._raw_ms_suffix
                        last_suffix = suffix
                    last_raw = raw
                line = join((route.prefix, message.record, last_suffix))
                if line[route.body_at] != _OPEN_BRACE:
                    emit(self._not_an_object(message.stream))
                    continue
                route.pending += 1
                emit(line)
            return None
        finally:
            if last_suffix is clock:  # the clock moves on: never reused by a later call
                last_raw, last_suffix = None, b""
            self._last_raw, self._last_raw_suffix = last_raw, last_suffix
            self._raw_ms_key, self._raw_ms_suffix = ms_key, ms_suffix

    def _not_an_object(self, stream: str) -> bytes:
        self.counters.skipped_non_object += 1
        return messages.log_message(
            "WARN", f"skipped a RECORD of stream '{stream}' whose body is not a JSON object"
        )

    def _suffix(self, time_extracted: str) -> bytes:
        suffix = self._parsed_suffix(time_extracted)
        if suffix is None:
            return b',"emitted_at":%d}}\n' % self._now_ms()
        return suffix

    def _parsed_suffix(self, time_extracted: str) -> bytes | None:
        """The suffix for a time_extracted (None if it is no time), remembered as the last one
        and, when it is a millisecond's that later ones may share, as that millisecond's."""
        parsed = extracted_suffix(time_extracted)
        if parsed is None:
            return None
        suffix, ms_key = parsed
        self._last_extracted, self._last_suffix = time_extracted, suffix
        if ms_key is not None:
            self._raw_ms_key, self._raw_ms_suffix = ms_key, suffix
        return suffix

    def _drop(self, stream: str) -> bytes:
        dropped = self.counters.dropped
        dropped[stream] = dropped.get(stream, 0) + 1
        if dropped[stream] > 1:
            return b""
        return messages.log_message(
            "WARN",
            f"the tap sent RECORDs for stream '{stream}', which is not in the configured "
            "catalog; they are not emitted (the tap may ignore stream selection)",
        )

    # -- everything else ----------------------------------------------------------------------
    def feed(self, event: Event) -> list[bytes]:
        if isinstance(event, RecordEvent):
            line = self.record(event.stream, event.data, event.time_extracted)
            return [line] if line else []
        if isinstance(event, StateEvent):
            return self.state(event.value, event.streams)
        if isinstance(event, SchemaEvent):
            route = self._by_name.get(event.stream)
            if isinstance(route, Route):
                singer = route.stream.singer
                schema = with_property_overrides(event.schema, singer.schema_override)
                route.decimals = decimal_fields(schema) or singer.decimal_fields
                self._fast.clear()  # which streams need their decimals rewritten may change
            return []
        if isinstance(event, ActivateVersionEvent):
            self.counters.activate_versions += 1
            return []
        if isinstance(event, LogEvent):
            return [messages.log_message(event.level, self._mask(event.message))]
        if isinstance(event, BatchEvent):
            raise TapError("BATCH messages must be expanded into records before translation")
        raise TypeError(f"unknown event {event!r}")

    def state(self, value: Any, streams: frozenset[str] | None = None) -> list[bytes]:
        """STATE lines for a tap's STATE; ``streams``: only those it speaks for get one."""
        if not isinstance(value, dict):
            return [messages.log_message("WARN", "skipped a STATE whose value is not an object")]
        self.counters.states += 1
        bookmarks = value.get("bookmarks")
        bookmarks = bookmarks if isinstance(bookmarks, dict) else {}
        shared = shared_part(value)  # each STATE is the tap's whole state: removals count
        shared_changed = shared != self._last_shared
        if shared_changed:
            self._last_shared = shared
            self._shared_at = self._now_ms()
        if self._state_mode == "global":
            return self._global_state(bookmarks)
        out = []
        for route in self._routes:
            if streams is not None and route.stream.singer.tap_stream_id not in streams:
                continue
            candidate = self._candidate(route, bookmarks, shared_changed)
            if candidate is UNSET:
                continue
            if route.pending or candidate != route.last_state:
                out.append(self._emit_stream_state(route, candidate))
        return out

    def _candidate(self, route: Route, bookmarks: Mapping[str, Any], shared_changed: bool) -> Any:
        singer = route.stream.singer
        bookmark = bookmarks.get(singer.tap_stream_id, bookmarks.get(singer.stream))
        if bookmark is not None:
            return self._with_shared(bookmark)
        if route.pending or shared_changed:  # a shared-only STATE still reaches Airbyte
            return self._carried(route)
        return UNSET

    def _with_shared(self, bookmark: Any) -> dict[str, Any]:
        return bookmark_to_stream_state(bookmark, self._last_shared, self._shared_at)

    def _carried(self, route: Route) -> dict[str, Any]:
        """The stream's last state, carrying the newest shared keys."""
        base = route.last_state if route.last_state is not UNSET else {}
        bookmark, _ = stream_state_to_bookmark(base)
        return self._with_shared(bookmark if base else None)

    def _emit_stream_state(self, route: Route, state: dict[str, Any]) -> bytes:
        singer = route.stream.singer
        line = messages.stream_state(singer.name, singer.namespace, state, route.pending)
        route.committed += route.pending
        route.pending = 0
        route.last_state = state
        route.emitted = True
        return line

    def _global_state(self, bookmarks: Mapping[str, Any]) -> list[bytes]:
        streams = []
        for route in self._routes:
            singer = route.stream.singer
            bookmark = bookmarks.get(singer.tap_stream_id, bookmarks.get(singer.stream))
            if bookmark is not None:
                route.last_state = bookmark_to_stream_state(bookmark, {})
            # Every configured stream is listed, as in stream mode: a stream without a bookmark
            # of its own (a child kept under its parent's) gets an empty state.
            state = route.last_state if route.last_state is not UNSET else {}
            streams.append((singer.name, singer.namespace, state))
        pending = sum(r.pending for r in self._routes)
        snapshot = (self._last_shared, streams)
        if not pending and snapshot == self._last_global:
            return []
        self._last_global = snapshot
        for route in self._routes:
            route.committed += route.pending
            route.pending = 0
        return [messages.global_state(self._last_shared, streams, pending)]

    def finish(self, error: BridgeError | None, stack_trace: str | None = None) -> list[bytes]:
        """Closing lines: final states and COMPLETE on success; INCOMPLETE and a TRACE on error."""
        now = self._now_ms()
        out = []
        if error is None:  # every stream's state at least once per successful read
            if self._state_mode == "global":
                if any(r.pending for r in self._routes) or self._last_global is UNSET:
                    self._last_global = None  # force one out
                    out.extend(self._global_state({}))
            else:
                for route in self._routes:
                    if route.pending or not route.emitted:
                        out.append(self._emit_stream_state(route, self._carried(route)))
        status = "COMPLETE" if error is None else "INCOMPLETE"
        for route in self._routes:
            singer = route.stream.singer
            out.append(messages.stream_status(singer.name, singer.namespace, status, now))
        out.extend(self._summary())
        if error is not None:
            error.message = self._mask(error.message)
            if error.internal_message:
                error.internal_message = self._mask(error.internal_message)
            out.append(
                messages.error_trace(error, now, self._mask(stack_trace) if stack_trace else None)
            )
        return out

    def _summary(self) -> list[bytes]:
        c = self.counters
        parts = [f"{r.stream.singer.name}: {r.total}" for r in self._routes]
        text = f"records per stream: {', '.join(parts) or 'none'}; STATE messages: {c.states}"
        if c.activate_versions:
            text += f"; ACTIVATE_VERSION messages: {c.activate_versions} (not forwarded)"
        if c.dropped:
            text += f"; records dropped for streams not configured: {c.dropped}"
        return [messages.log_message("INFO", text)]
