"""Singer catalogs to Airbyte catalogs, and configured Airbyte catalogs back to Singer selection.

>>> streams = parse_singer_catalog({"streams": [{"tap_stream_id": "public-users", "stream": "users",
...     "schema": {"properties": {"id": {"type": "integer"}}},
...     "metadata": [{"breadcrumb": [], "metadata": {"schema-name": "public",
...                   "table-key-properties": ["id"]}}]}]})
>>> (streams[0].name, streams[0].namespace, streams[0].primary_key)
('users', 'public', [['id']])
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import msgspec

from singer_bridge._translate.schema import (
    DecimalPath,
    airbyte_schema,
    decimal_fields,
    property_names,
    with_property_overrides,
)
from singer_bridge.errors import ConfigError, TapError

Breadcrumb = tuple[str, ...]

SyncMode = Literal["full_refresh", "incremental"]

# Root metadata of a native source run as a Singer tap: each nested key's top-level carrier
# field and the path it stands for ({"order__id": ["order", "id"]}; native/_singer_keys.py).
KEY_PATHS_METADATA = "singer-bridge-key-paths"


class StreamOverride(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a user says of one stream (by name or tap_stream_id) that the tap cannot.

    ``replication_method`` is ``INCREMENTAL``, ``FULL_TABLE``, ``LOG_BASED`` or a method of the
    tap's own (``CUSTOM_QUERY``, say), written into the tap's catalog as given. ``schema`` maps
    property names to the schema each should have, replacing the tap's for that property
    (others kept, new ones added) in discovery, the catalog the tap is given and its SCHEMA
    messages. ``parent`` names the stream this one is a child of (synced while the tap reads
    it), for taps that do not say so with ``parent-tap-stream-id`` (singer-sdk taps).
    """

    sync_modes: list[SyncMode] | None = None
    cursor_field: list[str] | None = None
    primary_key: list[list[str]] | None = None
    replication_method: str | None = None
    # Property name -> the JSON schema to use instead of the tap's (the tap's is wrong).
    schema: dict[str, dict[str, Any]] | None = None
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class SingerStream:
    """One Singer catalog entry, with the Airbyte identity and capabilities derived from it."""

    tap_stream_id: str
    stream: str
    name: str
    namespace: str | None
    entry: dict[str, Any]
    json_schema: dict[str, Any]
    primary_key: list[list[str]]
    supported_sync_modes: list[str]
    source_defined_cursor: bool
    default_cursor_field: list[str]
    log_based: bool
    decimal_fields: frozenset[DecimalPath]
    replication_method: str | None = None  # written into the tap's catalog as is
    tap_bookmarks: bool = False  # incremental by the tap's own bookmark, no declared cursor
    key_carriers: frozenset[str] = frozenset()  # top-level fields dropped from every record
    # the user's property schemas, applied over the tap's SCHEMA messages too
    schema_override: Mapping[str, Mapping[str, Any]] | None = None
    parent: str | None = None  # the stream (tap_stream_id or name) this one is a child of

    def airbyte_stream(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "json_schema": self.json_schema,
            "supported_sync_modes": self.supported_sync_modes,
            "source_defined_cursor": self.source_defined_cursor,
            "default_cursor_field": self.default_cursor_field,
            "source_defined_primary_key": self.primary_key,
            # resumable: an interrupted sync carries on from the last STATE instead of over
            "is_resumable": "incremental" in self.supported_sync_modes,
        }
        if self.namespace is not None:
            out["namespace"] = self.namespace
        return out


@dataclass(frozen=True, slots=True)
class ConfiguredStream:
    """A stream the user selected, with the replication the tap is asked for."""

    singer: SingerStream
    incremental: bool
    cursor_field: list[str]
    warning: str | None = None

    @property
    def descriptor(self) -> tuple[str, str | None]:
        return (self.singer.name, self.singer.namespace)


PARENT_KEY = "parent-tap-stream-id"  # the Singer metadata naming a child stream's parent


def stream_metadata(entry: Mapping[str, Any]) -> dict[Breadcrumb, dict[str, Any]]:
    out: dict[Breadcrumb, dict[str, Any]] = {}
    for item in entry.get("metadata") or []:
        if isinstance(item, dict) and isinstance(item.get("metadata"), dict):
            out[tuple(item.get("breadcrumb") or ())] = item["metadata"]
    return out


def _unset(value: Any) -> bool:
    return value is None or value == "" or value == []


def _as_list(value: Any) -> list[str]:
    if _unset(value):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def parse_singer_catalog(
    doc: Any,
    overrides: Mapping[str, StreamOverride] | None = None,
    exclude: tuple[str, ...] = (),
    user_catalog: bool = False,
) -> list[SingerStream]:
    """Read a tap's catalog (discovered, or the user's own: ``user_catalog``); raise
    ``TapError`` naming what is wrong with it."""
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list):
        raise TapError("the tap's catalog has no 'streams' list")
    overrides = overrides or {}
    streams = []
    for index, entry in enumerate(doc["streams"]):
        if not isinstance(entry, dict):
            raise TapError(f"the tap's catalog entry #{index} is not an object")
        tap_stream_id = entry.get("tap_stream_id") or entry.get("stream")
        if not isinstance(tap_stream_id, str) or not tap_stream_id:
            raise TapError(f"the tap's catalog entry #{index} has no tap_stream_id or stream")
        stream_name = entry.get("stream") or tap_stream_id
        if tap_stream_id in exclude or stream_name in exclude:
            continue
        namespace = stream_metadata(entry).get((), {}).get("schema-name")
        override = (
            overrides.get(tap_stream_id)
            or overrides.get(stream_name)
            or overrides.get(_table_name(stream_name, namespace))
        )
        streams.append(_singer_stream(entry, tap_stream_id, stream_name, override, user_catalog))
    return _disambiguate(streams, overrides)


STANDARD_METHODS = frozenset({"INCREMENTAL", "FULL_TABLE", "LOG_BASED"})


@dataclass(frozen=True, slots=True)
class _Replication:
    supported_sync_modes: list[str]
    source_defined_cursor: bool
    default_cursor_field: list[str]
    method: str | None  # a method to write into the tap's catalog as is (LOG_BASED, a tap's own)
    tap_bookmarks: bool  # the tap keeps its own bookmark without a declared cursor


def _replication(
    md: Mapping[str, Any], entry: Mapping[str, Any], chosen: str | None, user_catalog: bool
) -> _Replication:
    """What Airbyte is offered for one stream, from the tap's metadata and the user's choice.

    ``chosen`` is the bridge config's ``replication_method``, else the catalog's own
    ``replication-method`` (from a user-supplied catalog; from a tap's discovery only when it
    is LOG_BASED or a method of the tap's own, since some taps write a default there), else the
    tap's ``forced-replication-method``.
    """
    forced = str(md.get("forced-replication-method") or "").upper()
    declared = str(md.get("replication-method") or entry.get("replication_method") or "").upper()
    if not user_catalog and declared in ("INCREMENTAL", "FULL_TABLE"):
        declared = ""
    method = (chosen or "").upper() or declared or forced
    valid_keys = _as_list(md.get("valid-replication-keys"))
    declared_key = _as_list(entry.get("replication_key")) or _as_list(md.get("replication-key"))
    cursor = valid_keys[:1] or declared_key[:1]
    sql_like = "schema-name" in md or "database-name" in md
    both = ["full_refresh", "incremental"]
    if method == "FULL_TABLE":
        return _Replication(["full_refresh"], False, [], None, False)
    if method == "LOG_BASED" or (method and method not in STANDARD_METHODS):
        # the tap reads changes (or its own way) and keeps its own position
        # a log-based stream's key is the tap's log position, when it declares one (singer-sdk
        # taps that do not: set cursor_field, e.g. ["_sdc_lsn"] for MeltanoLabs tap-postgres)
        return _Replication(both, True, cursor, method, True)
    if method == "INCREMENTAL" and not cursor and not sql_like:
        return _Replication(both, True, [], None, True)  # the tap's own bookmark resumes it
    incremental = method == "INCREMENTAL" or bool(cursor) or sql_like
    source_defined = bool(cursor) and not sql_like
    return _Replication(
        both if incremental else ["full_refresh"], source_defined, cursor, None, False
    )


def _singer_stream(
    entry: dict[str, Any],
    tap_stream_id: str,
    stream_name: str,
    override: StreamOverride | None,
    user_catalog: bool,
) -> SingerStream:
    md = stream_metadata(entry).get((), {})
    namespace = md.get("schema-name") or md.get("database-name") or None
    keys = _as_list(md.get("table-key-properties")) or _as_list(entry.get("key_properties"))
    rep = _replication(md, entry, override.replication_method if override else None, user_catalog)
    schema: dict[str, Any] = entry["schema"] if isinstance(entry.get("schema"), dict) else {}
    carriers = key_carrier_paths(md)
    schema_override = override.schema if override else None
    if schema_override:
        schema = with_property_overrides(schema, schema_override)
        entry = {**entry, "schema": schema}  # the catalog the tap is given says it too
    return SingerStream(
        tap_stream_id=tap_stream_id,
        stream=stream_name,
        name=_table_name(stream_name, namespace),
        namespace=str(namespace) if namespace else None,
        entry=entry,
        json_schema=airbyte_schema(_without_properties(schema, carriers)),
        primary_key=[carriers.get(k) or key_path(k) for k in keys],
        supported_sync_modes=rep.supported_sync_modes,
        source_defined_cursor=rep.source_defined_cursor,
        default_cursor_field=rep.default_cursor_field,
        log_based=rep.method == "LOG_BASED",
        decimal_fields=decimal_fields(schema),
        replication_method=rep.method,
        tap_bookmarks=rep.tap_bookmarks,
        key_carriers=frozenset(carriers),
        schema_override=schema_override,
        parent=(override.parent if override else None) or _parent(md),
    )


def _parent(md: Mapping[str, Any]) -> str | None:
    value = md.get(PARENT_KEY)
    return value if isinstance(value, str) and value else None


def key_carrier_paths(md: Mapping[str, Any]) -> dict[str, list[str]]:
    """The nested keys a native source in Singer mode sent as top-level carrier fields.

    >>> key_carrier_paths({KEY_PATHS_METADATA: {"order__id": ["order", "id"]}})
    {'order__id': ['order', 'id']}
    """
    paths = md.get(KEY_PATHS_METADATA)
    if not isinstance(paths, Mapping):
        return {}
    return {
        str(name): [str(p) for p in path]
        for name, path in paths.items()
        if isinstance(path, list) and path
    }


def _without_properties(schema: dict[str, Any], names: Mapping[str, Any]) -> dict[str, Any]:
    properties = schema.get("properties")
    if not names or not isinstance(properties, dict):
        return schema
    kept = {k: v for k, v in properties.items() if k not in names}
    return {**schema, "properties": kept}


def key_path(key: str) -> list[str]:
    """A Singer key property as an Airbyte path: a JSON Pointer (``/order/id``, as native
    sources in Singer mode write nested keys) is split; any other name is one field.

    >>> key_path("/order/id"), key_path("id"), key_path("/a~1b")
    (['order', 'id'], ['id'], ['a/b'])
    """
    if key.startswith("/") and len(key) > 1:
        return [part.replace("~1", "/").replace("~0", "~") for part in key[1:].split("/")]
    return [key]


def _table_name(stream_name: str, namespace: Any) -> str:
    """SQL taps name streams ``schema-table``; with the schema as namespace, keep the table."""
    prefix = f"{namespace}-" if namespace else ""
    if prefix and stream_name.startswith(prefix) and len(stream_name) > len(prefix):
        return stream_name[len(prefix) :]
    return stream_name


def _disambiguate(
    streams: list[SingerStream], overrides: Mapping[str, StreamOverride]
) -> list[SingerStream]:
    seen: dict[tuple[str, str | None], int] = {}
    for s in streams:
        seen[(s.name, s.namespace)] = seen.get((s.name, s.namespace), 0) + 1
    out = []
    for s in streams:
        name = s.tap_stream_id if seen[(s.name, s.namespace)] > 1 else s.name
        override = overrides.get(name) or overrides.get(s.tap_stream_id)
        changes: dict[str, Any] = {"name": name}
        if override is not None:
            if override.sync_modes is not None:
                changes["supported_sync_modes"] = list(override.sync_modes)
            if override.cursor_field is not None:
                changes["default_cursor_field"] = list(override.cursor_field)
                changes["source_defined_cursor"] = bool(override.cursor_field)
            if override.primary_key is not None:
                changes["primary_key"] = [list(k) for k in override.primary_key]
        out.append(_replace(s, changes))
    return out


def _replace(stream: SingerStream, changes: dict[str, Any]) -> SingerStream:
    fields = {name: getattr(stream, name) for name in SingerStream.__slots__}
    return SingerStream(**{**fields, **changes})


def airbyte_catalog(streams: list[SingerStream]) -> dict[str, Any]:
    return {"streams": [s.airbyte_stream() for s in streams]}


def find_stream(
    streams: list[SingerStream], name: str, namespace: str | None
) -> SingerStream | None:
    """Match by name and namespace; a missing namespace matches a stream with a unique name."""
    exact = [s for s in streams if s.name == name and s.namespace == namespace]
    if exact:
        return exact[0]
    by_name = [s for s in streams if s.name == name]
    if namespace is None and len(by_name) == 1:
        return by_name[0]
    by_id = [s for s in streams if s.tap_stream_id == name]
    return by_id[0] if len(by_id) == 1 else None


def configure(streams: list[SingerStream], configured: Any, source: str) -> list[ConfiguredStream]:
    """Resolve a configured Airbyte catalog against the tap's streams; ``source`` names the file."""
    if not isinstance(configured, dict) or not isinstance(configured.get("streams"), list):
        raise ConfigError(f"catalog {source} must be an object with a 'streams' list")
    out = []
    for index, item in enumerate(configured["streams"]):
        stream = item.get("stream") if isinstance(item, dict) else None
        if not isinstance(stream, dict) or not isinstance(stream.get("name"), str):
            raise ConfigError(f"catalog {source}: streams[{index}] has no stream.name")
        name, namespace = stream["name"], stream.get("namespace")
        singer = find_stream(streams, name, namespace)
        if singer is None:
            known = ", ".join(sorted(s.name for s in streams)) or "none"
            raise ConfigError(
                f"catalog {source}: stream '{name}' is not offered by the tap (it has: {known})",
                stream=(name, namespace),
            )
        out.append(_configured_stream(singer, item, source))
    return out


def _configured_stream(singer: SingerStream, item: dict[str, Any], source: str) -> ConfiguredStream:
    # PyAirbyte asks for incremental on every stream; a full-refresh-only stream reads in full.
    incremental = (
        item.get("sync_mode") == "incremental" and "incremental" in singer.supported_sync_modes
    )
    cursor = _as_list(item.get("cursor_field")) or singer.default_cursor_field
    if singer.source_defined_cursor:
        cursor = singer.default_cursor_field
    if incremental and not singer.tap_bookmarks and not cursor:
        # Clients such as PyAirbyte ask for incremental everywhere; without a cursor the only
        # correct read is a full one, so say so instead of failing the sync.
        warning = (
            f"stream '{singer.name}' was configured incremental but has no cursor field; "
            "it is read in full refresh (set cursor_field to read it incrementally)"
        )
        return ConfiguredStream(singer=singer, incremental=False, cursor_field=[], warning=warning)
    if incremental and cursor and not singer.log_based:
        props = singer.json_schema.get("properties") or {}
        if props and cursor[0] not in props:
            raise ConfigError(
                f"catalog {source}: cursor field '{cursor[0]}' of stream '{singer.name}' "
                f"is not in its schema",
                stream=(singer.name, singer.namespace),
            )
    return ConfiguredStream(singer=singer, incremental=incremental, cursor_field=cursor)


def singer_catalog_with_selection(
    streams: list[SingerStream],
    configured: list[ConfiguredStream],
    selected_fields: Mapping[str, list[str] | None],
) -> dict[str, Any]:
    """The tap's catalog with selection and replication set in every dialect taps read."""
    chosen = {c.singer.tap_stream_id: c for c in configured}
    entries = []
    for s in streams:
        entry = copy.deepcopy(s.entry)
        c = chosen.get(s.tap_stream_id)
        _select_entry(entry, c, selected_fields.get(s.tap_stream_id))
        entries.append(entry)
    return {"streams": entries}


def _select_entry(
    entry: dict[str, Any], configured: ConfiguredStream | None, fields: list[str] | None
) -> None:
    selected = configured is not None
    metadata = entry.setdefault("metadata", [])
    by_crumb = {tuple(m.get("breadcrumb") or ()): m for m in metadata if isinstance(m, dict)}
    root = by_crumb.get(())
    if root is None:
        root = {"breadcrumb": [], "metadata": {}}
        metadata.insert(0, root)
    md = root.setdefault("metadata", {})
    md["selected"] = selected
    entry["selected"] = selected
    schema = entry.setdefault("schema", {})
    if isinstance(schema, dict):
        schema["selected"] = selected
    if configured is None:
        return
    method = "INCREMENTAL" if configured.incremental else "FULL_TABLE"
    own = configured.singer.replication_method
    if own is not None and (configured.incremental or own not in STANDARD_METHODS):
        method = own  # LOG_BASED, or a method of the tap's own, whatever the sync mode
    md["replication-method"] = method
    entry["replication_method"] = method
    if configured.incremental and configured.cursor_field:
        md["replication-key"] = configured.cursor_field[0]
        entry["replication_key"] = configured.cursor_field[0]
    _select_fields(entry, by_crumb, metadata, fields)


def _select_fields(
    entry: dict[str, Any],
    by_crumb: dict[Breadcrumb, dict[str, Any]],
    metadata: list[dict[str, Any]],
    fields: list[str] | None,
) -> None:
    schema = entry.get("schema") if isinstance(entry.get("schema"), dict) else {}
    for name in property_names(schema or {}):
        crumb = ("properties", name)
        item = by_crumb.get(crumb)
        if item is None:
            item = {"breadcrumb": list(crumb), "metadata": {}}
            metadata.append(item)
        md = item.setdefault("metadata", {})
        wanted = fields is None or name in fields or md.get("inclusion") == "automatic"
        md["selected"] = wanted
        prop = (schema or {}).get("properties", {}).get(name)
        if isinstance(prop, dict):
            prop["selected"] = wanted
