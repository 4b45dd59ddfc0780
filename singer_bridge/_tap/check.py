"""``check`` that proves the config reaches the data: discovery, then a first record.

Many taps discover without connecting (REST taps with schema files, file taps), so a working
discovery proves little. The default check also reads one stream until its first RECORD (or
the tap's clean exit, for an empty source), bounded by ``check_timeout_seconds``; the bridge
config's ``check: "discover"`` keeps the cheaper check.
"""

from __future__ import annotations

from singer_bridge._tap.bridge_config import BridgeConfig
from singer_bridge._tap.discovery import tap_failure
from singer_bridge._tap.runner import TapRunner
from singer_bridge._translate.catalog import SingerStream
from singer_bridge._translate.masking import Masker
from singer_bridge.errors import ConfigError, TransientError

_RECORD_MARKERS = (b'"RECORD"', b'"BATCH"')


def check_stream(streams: list[SingerStream], config: BridgeConfig) -> SingerStream:
    """The stream the check reads: the bridge config's ``check_stream``, else the first."""
    if config.check_stream is None:
        return streams[0]
    for s in streams:
        if config.check_stream in (s.name, s.tap_stream_id, s.stream):
            return s
    known = ", ".join(s.name for s in streams)
    raise ConfigError(
        f"check_stream '{config.check_stream}' of the bridge config is not a stream of the tap "
        f"(it has: {known})"
    )


def first_record(
    runner: TapRunner,
    config: BridgeConfig,
    read_args: list[str],
    stream: SingerStream,
    masker: Masker,
) -> bool:
    """Run the read in ``read_args`` until its first record; False when the tap had none.

    Raises the tap's own error (leading with its cause) when it fails before a record.
    """
    timeout = config.check_timeout_seconds
    with runner.start(read_args, on_stderr=lambda _: None, mask=masker, timeout=timeout) as tap:
        found = False
        for lines in tap.stdout_lines():
            if any(m in line for line in lines for m in _RECORD_MARKERS):
                found = True
                tap.stop("check: the first record was read")
                break
        code = tap.wait()
        if found:
            return True
        if tap.timed_out:
            raise TransientError(
                f"check: the tap read no record of stream '{stream.name}' within "
                f"{timeout:g} seconds (check_timeout_seconds in the bridge config)"
            )
        if code != 0:
            raise tap_failure(code, list(tap.stderr_tail), f"a check read of '{stream.name}'")
        return False


def check_plan_doc(stream: SingerStream) -> dict[str, object]:
    """A configured catalog of just ``stream``, read in full (no state, no cursor)."""
    descriptor: dict[str, object] = {"name": stream.name}
    if stream.namespace is not None:
        descriptor["namespace"] = stream.namespace
    return {"streams": [{"stream": descriptor, "sync_mode": "full_refresh"}]}
