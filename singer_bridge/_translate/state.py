"""Airbyte state to Singer state and back.

Rule for Singer state keys other than ``bookmarks`` (shared keys): in ``stream`` mode they ride
in every per-stream state under ``SHARED_KEY``, stamped under ``SHARED_AT_KEY`` with when the
bridge saw them, and the newest stamp wins on input (streams checkpoint at different times, so
their copies can differ); in ``global`` mode they are the GLOBAL state's ``shared_state``. Each
Singer STATE is the tap's whole state: a shared key it drops is gone (an empty shared part is
kept, stamped, so an older copy cannot bring the key back). ``currently_syncing`` is dropped:
Airbyte resumes by per-stream bookmarks, not by a position in the tap's stream order.

>>> singer_state_from_airbyte(
...     [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users", "namespace": None},
...       "stream_state": {"updated_at": "2024-01-01"}}}], {("users", None): "public-users"})
{'bookmarks': {'public-users': {'updated_at': '2024-01-01'}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from singer_bridge.errors import ConfigError

SHARED_KEY = "__singer_shared__"
SHARED_AT_KEY = "__singer_shared_at__"
VALUE_KEY = "__singer_value__"
DROPPED_KEYS = frozenset({"bookmarks", "currently_syncing"})

Descriptor = tuple[str, str | None]


def shared_part(singer_state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in singer_state.items() if k not in DROPPED_KEYS}


def bookmark_to_stream_state(
    bookmark: Any, shared: Mapping[str, Any] | None, shared_at: int | None = None
) -> dict[str, Any]:
    """A Singer bookmark as an Airbyte ``stream_state`` object (which must be an object).

    ``shared`` rides along when it is not empty, or when ``shared_at`` stamps it (then even
    an empty one, which records that the tap dropped its shared keys).
    """
    state = dict(bookmark) if isinstance(bookmark, dict) else {}
    if bookmark is not None and not isinstance(bookmark, dict):
        state[VALUE_KEY] = bookmark
    if shared or (shared is not None and shared_at is not None):
        state[SHARED_KEY] = dict(shared)
        if shared_at is not None:
            state[SHARED_AT_KEY] = shared_at
    return state


def stream_state_to_bookmark(stream_state: Any) -> tuple[Any, dict[str, Any]]:
    """Inverse of ``bookmark_to_stream_state``: (bookmark, shared keys)."""
    bookmark, shared, _ = _split_stream_state(stream_state)
    return bookmark, shared or {}


def _split_stream_state(stream_state: Any) -> tuple[Any, dict[str, Any] | None, int]:
    """(bookmark, shared keys or None when absent, their stamp: 0 when unstamped)."""
    if not isinstance(stream_state, dict):
        return None, None, 0
    state = dict(stream_state)
    shared = state.pop(SHARED_KEY, None)
    stamp = state.pop(SHARED_AT_KEY, 0)
    stamp = stamp if isinstance(stamp, int) else 0
    shared = shared if isinstance(shared, dict) else None
    if VALUE_KEY in state:
        return state[VALUE_KEY], shared, stamp
    return state, shared, stamp


def singer_state_from_airbyte(
    airbyte_state: Any,
    tap_stream_ids: Mapping[Descriptor, str],
    source: str = "state",
    keep_empty: bool = False,
) -> dict[str, Any]:
    """Build the Singer state a tap reads from any Airbyte state document.

    ``tap_stream_ids`` maps each known (name, namespace) to the tap's ``tap_stream_id``. An
    empty stream state is nothing for a tap to resume and is left out, unless ``keep_empty``
    (an Airbyte source's state kept whole, to give back as it was).
    Accepts a list of STREAM / GLOBAL / LEGACY messages, ``[]``, ``null``, one message, or a
    legacy bare Singer state object; explicit nulls are treated as absent.
    """
    messages = _state_messages(airbyte_state, source)
    bookmarks: dict[str, Any] = {}
    shared: dict[str, Any] = {}
    newest: list[Any] = [-1, None]  # the stamp and value of the newest stream-carried shared part
    legacy: dict[str, Any] | None = None
    for index, message in enumerate(messages):
        kind = (message.get("type") or ("LEGACY" if "data" in message else "")).upper()
        if kind == "STREAM":
            _add_stream_state(message.get("stream"), tap_stream_ids, bookmarks, newest, keep_empty)
        elif kind == "GLOBAL":
            glob = message.get("global") or {}
            if isinstance(glob.get("shared_state"), dict):
                shared.update(glob["shared_state"])
            for item in glob.get("stream_states") or []:
                _add_stream_state(item, tap_stream_ids, bookmarks, newest, keep_empty)
        elif kind == "LEGACY":
            data = message.get("data")
            if isinstance(data, dict):
                legacy = data
        else:
            raise ConfigError(f"{source}: item #{index} has unknown state type {kind or 'none'!r}")
    out: dict[str, Any] = dict(legacy) if legacy else {}
    if newest[1] is not None:
        out.update(newest[1])
    out.update(shared)
    if bookmarks or "bookmarks" in out:
        out["bookmarks"] = {**(out.get("bookmarks") or {}), **bookmarks}
    out.pop("currently_syncing", None)
    return out


def _state_messages(doc: Any, source: str) -> list[dict[str, Any]]:
    if doc is None or doc == [] or doc == {}:
        return []
    if isinstance(doc, dict):
        if "type" in doc or "stream" in doc or "global" in doc:
            return [doc]
        return [{"type": "LEGACY", "data": doc}]  # a bare Singer state from older clients
    if isinstance(doc, list):
        bad = [i for i, m in enumerate(doc) if not isinstance(m, dict)]
        if bad:
            raise ConfigError(f"{source}: item #{bad[0]} is not a state message object")
        return [m for m in doc if isinstance(m, dict)]
    raise ConfigError(f"{source}: state must be a JSON list of state messages or an object")


def _add_stream_state(
    item: Any,
    tap_stream_ids: Mapping[Descriptor, str],
    bookmarks: dict[str, Any],
    newest: list[Any],
    keep_empty: bool = False,
) -> None:
    if not isinstance(item, dict):
        return
    descriptor = item.get("stream_descriptor") or {}
    name, namespace = descriptor.get("name"), descriptor.get("namespace")
    if not isinstance(name, str):
        return
    tap_stream_id = tap_stream_ids.get((name, namespace if isinstance(namespace, str) else None))
    if tap_stream_id is None and namespace is None:
        matches = [v for (n, _), v in tap_stream_ids.items() if n == name]
        tap_stream_id = matches[0] if len(matches) == 1 else None
    if tap_stream_id is None:
        return  # state of a stream the tap no longer has: nothing to resume
    bookmark, stream_shared, stamp = _split_stream_state(item.get("stream_state"))
    if stream_shared is not None and stamp >= newest[0]:
        newest[0], newest[1] = stamp, stream_shared  # newest wins; ties: the later message
    if bookmark is not None and (keep_empty or bookmark != {}):  # {}: nothing to resume
        bookmarks[tap_stream_id] = bookmark


# The other direction (an Airbyte source run as a Singer tap). The Singer state is the one
# above, read from the source's states: ``bookmarks`` by tap_stream_id and the shared keys on
# top; a GLOBAL or LEGACY source's state also says which it was, so it goes back as it came.
STATE_TYPE_KEY = "airbyte_state_type"


def singer_state_of_source(
    messages: list[dict[str, Any]], tap_stream_ids: Mapping[Descriptor, str]
) -> dict[str, Any]:
    """The Singer state for the Airbyte state messages a source emitted (the newest of each
    stream, the newest GLOBAL or LEGACY one); streams not in ``tap_stream_ids`` are named
    ``namespace-name``.

    >>> singer_state_of_source([{"type": "GLOBAL", "global": {"shared_state": {"lsn": 7},
    ...     "stream_states": [{"stream_descriptor": {"name": "t", "namespace": "s"},
    ...                        "stream_state": {"id": 1}}]}}], {})
    {'lsn': 7, 'bookmarks': {'s-t': {'id': 1}}, 'airbyte_state_type': 'GLOBAL'}
    """
    ids = dict(tap_stream_ids)
    for message in messages:
        items = [message.get("stream"), *((message.get("global") or {}).get("stream_states") or [])]
        for item in items:
            descriptor = (item or {}).get("stream_descriptor") or {}
            name, namespace = descriptor.get("name"), descriptor.get("namespace") or None
            if isinstance(name, str) and (name, namespace) not in ids:
                ids[(name, namespace)] = f"{namespace}-{name}" if namespace else name
    value = singer_state_from_airbyte(messages, ids, keep_empty=True)
    kinds = {str(m.get("type") or "").upper() for m in messages}
    for kind in ("GLOBAL", "LEGACY"):
        if kind in kinds:
            value[STATE_TYPE_KEY] = kind
    return value


def source_state_of_singer(
    value: Any, descriptors: Mapping[str, Descriptor], source: str = "state"
) -> list[dict[str, Any]]:
    """The Airbyte state to give a source for a Singer state ``singer_state_of_source`` made:
    the state the source last emitted. ``descriptors`` maps tap_stream_ids to Airbyte streams.

    >>> source_state_of_singer({"bookmarks": {"users": {"at": "2024"}}}, {})[0]["stream"]
    {'stream_descriptor': {'name': 'users'}, 'stream_state': {'at': '2024'}}
    """
    if isinstance(value, dict) and isinstance(value.get("value"), dict) and len(value) == 1:
        value = value["value"]  # a STATE message's value as some tools store it
    if not value:
        return []
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: a Singer state must be a JSON object")
    kind = str(value.get(STATE_TYPE_KEY) or "STREAM").upper()
    rest = {k: v for k, v in value.items() if k != STATE_TYPE_KEY}
    if kind == "LEGACY":
        return [{"type": "LEGACY", "data": rest}]
    bookmarks = rest.get("bookmarks") or {}
    if not isinstance(bookmarks, dict):
        raise ConfigError(f"{source}: 'bookmarks' must be an object of stream states")
    shared = shared_part(rest)
    streams = []
    for sid, bookmark in bookmarks.items():
        name, namespace = descriptors.get(sid, (sid, None))
        stream_descriptor: dict[str, Any] = {"name": name}
        if namespace is not None:
            stream_descriptor["namespace"] = namespace
        carried = shared if kind == "STREAM" and shared else None
        state = bookmark_to_stream_state(bookmark, carried)
        streams.append({"stream_descriptor": stream_descriptor, "stream_state": state})
    if kind == "GLOBAL":
        return [{"type": "GLOBAL", "global": {"shared_state": shared, "stream_states": streams}}]
    return [{"type": "STREAM", "stream": item} for item in streams]
