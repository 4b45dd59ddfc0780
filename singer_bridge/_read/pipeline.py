"""The one read pipeline: config -> configured streams -> input state -> translator -> finish.

Both kinds of source read through it: a wrapped Singer tap (``tap.source.SingerSource``) and a
native Python source (``native.source.AirbyteSource``). Each supplies only what differs, a
``Producer`` that turns the prepared read into events for the translator; everything else
(stream selection and its warnings, state in and out, shared state keys, state mode, field
selection, masking, interrupts, the closing messages and the exit code) happens here, once.

>>> from singer_bridge._translate.catalog import parse_singer_catalog
>>> streams = parse_singer_catalog({"streams": [{"tap_stream_id": "users",
...     "schema": {"properties": {"id": {"type": "integer"}}}}]})
>>> plan = plan_read(streams, {"streams": [{"stream": {"name": "users"},
...     "sync_mode": "full_refresh"}]}, None)
>>> [c.singer.tap_stream_id for c in plan.configured], plan.singer_state
(['users'], {})
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from singer_bridge._clock import now_ms
from singer_bridge._protocol import airbyte as messages
from singer_bridge._translate.catalog import ConfiguredStream, SingerStream, configure
from singer_bridge._translate.masking import Masker
from singer_bridge._translate.state import (
    bookmark_to_stream_state,
    shared_part,
    singer_state_from_airbyte,
)
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer
from singer_bridge.errors import BridgeError, TransientError


@dataclass(slots=True)
class ReadPlan:
    """What a read needs, worked out from the user's configured catalog and state."""

    streams: list[SingerStream]
    configured: list[ConfiguredStream]
    singer_state: dict[str, Any]
    selected_fields: dict[str, list[str] | None]

    def initial_states(self) -> dict[str, dict[str, Any]]:
        """Each configured stream's Airbyte state as it came in, keyed by tap_stream_id."""
        bookmarks = self.singer_state.get("bookmarks") or {}
        shared = {k: v for k, v in self.singer_state.items() if k != "bookmarks"}
        return {
            c.singer.tap_stream_id: bookmark_to_stream_state(
                bookmarks[c.singer.tap_stream_id], shared
            )
            for c in self.configured
            if c.singer.tap_stream_id in bookmarks
        }


def plan_read(
    streams: list[SingerStream],
    configured_doc: Any,
    state_doc: Any,
    catalog_source: str = "the configured catalog",
    state_source: str = "the state",
    *,
    keep_full_refresh_bookmarks: bool = False,
) -> ReadPlan:
    """Configured streams, the Singer state to start from, and the fields selected per stream.

    A full-refresh stream starts without its bookmark, unless the source can tell a cursor
    from a full refresh's own checkpoint (a native source: ``keep_full_refresh_bookmarks``);
    each bookmark is also offered under the stream's name where that differs from its
    tap_stream_id (some taps key them so).
    """
    configured = configure(streams, configured_doc, catalog_source)
    ids = {(s.name, s.namespace): s.tap_stream_id for s in streams}
    singer_state = singer_state_from_airbyte(state_doc, ids, state_source)
    bookmarks = singer_state.get("bookmarks")
    if isinstance(bookmarks, dict):
        for c in configured:
            if not c.incremental and not keep_full_refresh_bookmarks:  # it starts over
                bookmarks.pop(c.singer.tap_stream_id, None)
        _alias_bookmarks(bookmarks, streams)
    return ReadPlan(streams, configured, singer_state, _selected_fields(configured, configured_doc))


def _selected_fields(configured: list[ConfiguredStream], doc: Any) -> dict[str, list[str] | None]:
    """Fields to select per tap_stream_id: the configured schema's properties, when narrowed."""
    out: dict[str, list[str] | None] = {}
    items = (doc.get("streams") if isinstance(doc, dict) else None) or []
    by_name = {}
    for item in items:
        stream = (item.get("stream") or {}) if isinstance(item, dict) else {}
        by_name[(stream.get("name"), stream.get("namespace"))] = stream
    for c in configured:
        stream = by_name.get(c.descriptor) or by_name.get((c.singer.name, None)) or {}
        props = (stream.get("json_schema") or {}).get("properties")
        known = c.singer.json_schema.get("properties") or {}
        narrowed = isinstance(props, dict) and props and set(props) < set(known)
        out[c.singer.tap_stream_id] = list(props) if narrowed and isinstance(props, dict) else None
    return out


def _alias_bookmarks(bookmarks: dict[str, Any], streams: list[SingerStream]) -> None:
    """Offer each bookmark under the stream name too, where that differs from tap_stream_id.

    Most taps key bookmarks by tap_stream_id (``public-users``), some by stream (``users``);
    the bridge reads either back, and gives the tap both so neither kind starts over.
    """
    ids = {s.tap_stream_id for s in streams}
    for s in streams:
        if s.stream != s.tap_stream_id and s.stream not in ids and s.tap_stream_id in bookmarks:
            bookmarks.setdefault(s.stream, bookmarks[s.tap_stream_id])


# What differs between a wrapped tap and a native source: how the events are made. It feeds
# the translator (writing what it returns) and returns the error that ended the read, or None;
# it may also raise a ``BridgeError``.
Producer = Callable[[Translator, Writer], BridgeError | None]


def run_read(
    plan: ReadPlan,
    produce: Producer,
    writer: Writer,
    *,
    masker: Masker,
    state_mode: str = "stream",
    interrupted: Callable[[], str | None] = lambda: None,
) -> int:
    """Translate one read and write it: STARTED ... records and states ... closing messages.

    Returns the exit code: 0 on success, 1 when the read failed or was interrupted.
    """
    for c in plan.configured:
        if c.warning:
            writer.write(messages.log_message("WARN", c.warning))
    translator = Translator(
        plan.configured,
        now_ms=now_ms,
        initial_states=plan.initial_states(),
        state_mode=state_mode,
        mask=masker.mask,
        selected_fields=plan.selected_fields,
        shared=shared_part(plan.singer_state),
    )
    writer.write_all(translator.start())
    try:
        error = produce(translator, writer)
    except BridgeError as exc:
        error = exc
    reason = interrupted()
    if reason:
        error = TransientError(f"the sync was interrupted by {reason}; the read was stopped")
    writer.write_all(translator.finish(error))
    writer.flush()
    return 0 if error is None else 1
