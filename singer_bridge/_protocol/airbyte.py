"""Airbyte protocol messages as encoded lines (bytes ending in a newline).

Only RECORDs are on the hot path; they are built in ``translator.py`` from cached prefixes.

>>> log_message("INFO", "hello")
b'{"type":"LOG","log":{"level":"INFO","message":"hello"}}\\n'
"""

from __future__ import annotations

from typing import Any

import msgspec

from singer_bridge.errors import BridgeError

_encoder = msgspec.json.Encoder()


class AirbyteRecord(msgspec.Struct, gc=False):
    """A source's RECORD: the data left undecoded (passed through as it came)."""

    stream: str
    data: msgspec.Raw
    emitted_at: int | float = 0
    namespace: str | None = None


class AirbyteLine(msgspec.Struct, gc=False):
    """One line a source wrote: only the part its ``type`` names is set."""

    type: str
    record: AirbyteRecord | None = None
    state: dict[str, Any] | None = None
    log: dict[str, Any] | None = None
    trace: dict[str, Any] | None = None
    control: dict[str, Any] | None = None
    catalog: dict[str, Any] | None = None
    spec: dict[str, Any] | None = None
    connection_status: dict[str, Any] | None = msgspec.field(default=None, name="connectionStatus")


decode_line = msgspec.json.Decoder(AirbyteLine).decode
decode_lines = msgspec.json.Decoder(AirbyteLine).decode_lines


def encode(message: dict[str, Any]) -> bytes:
    return _encoder.encode(message) + b"\n"


def descriptor(name: str, namespace: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if namespace is not None:
        out["namespace"] = namespace
    return out


def log_message(level: str, message: str) -> bytes:
    return encode({"type": "LOG", "log": {"level": level, "message": message}})


def spec_message(spec: dict[str, Any]) -> bytes:
    return encode({"type": "SPEC", "spec": spec})


def catalog_message(catalog: dict[str, Any]) -> bytes:
    return encode({"type": "CATALOG", "catalog": catalog})


def connection_status(succeeded: bool, message: str | None = None) -> bytes:
    status: dict[str, Any] = {"status": "SUCCEEDED" if succeeded else "FAILED"}
    if message:
        status["message"] = message
    return encode({"type": "CONNECTION_STATUS", "connectionStatus": status})


def stream_status(name: str, namespace: str | None, status: str, now_ms: int) -> bytes:
    return encode(
        {
            "type": "TRACE",
            "trace": {
                "type": "STREAM_STATUS",
                "emitted_at": now_ms,
                "stream_status": {
                    "stream_descriptor": descriptor(name, namespace),
                    "status": status,
                },
            },
        }
    )


def error_trace(error: BridgeError, now_ms: int, stack_trace: str | None = None) -> bytes:
    body: dict[str, Any] = {"message": error.message, "failure_type": error.failure_type}
    if error.internal_message:
        body["internal_message"] = error.internal_message
    if stack_trace:
        body["stack_trace"] = stack_trace
    if error.stream is not None:
        body["stream_descriptor"] = descriptor(*error.stream)
    return encode(
        {"type": "TRACE", "trace": {"type": "ERROR", "emitted_at": now_ms, "error": body}}
    )


def stream_state(
    name: str, namespace: str | None, state: dict[str, Any], record_count: int
) -> bytes:
    return encode(
        {
            "type": "STATE",
            "state": {
                "type": "STREAM",
                "stream": {"stream_descriptor": descriptor(name, namespace), "stream_state": state},
                "sourceStats": {"recordCount": float(record_count)},
            },
        }
    )


def global_state(
    shared: dict[str, Any],
    streams: list[tuple[str, str | None, dict[str, Any]]],
    record_count: int,
) -> bytes:
    glob: dict[str, Any] = {
        "stream_states": [
            {"stream_descriptor": descriptor(n, ns), "stream_state": s} for n, ns, s in streams
        ]
    }
    if shared:
        glob["shared_state"] = shared
    return encode(
        {
            "type": "STATE",
            "state": {
                "type": "GLOBAL",
                "global": glob,
                "sourceStats": {"recordCount": float(record_count)},
            },
        }
    )


def control_config(config: dict[str, Any], now_ms: int) -> bytes:
    return encode(
        {
            "type": "CONTROL",
            "control": {
                "type": "CONNECTOR_CONFIG",
                "emitted_at": now_ms,
                "connectorConfig": {"config": config},
            },
        }
    )
