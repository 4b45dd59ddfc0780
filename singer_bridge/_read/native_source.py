"""A native ``Source`` under the Airbyte protocol: its config checked and masked, its streams
read through the one read pipeline, a rotated credential emitted as a CONTROL message."""

from __future__ import annotations

import threading
from typing import Any

from singer_bridge._clock import now_ms
from singer_bridge._files import load_json_file, load_json_object
from singer_bridge._protocol import airbyte as messages
from singer_bridge._protocol.events import RecordEvent
from singer_bridge._read.pipeline import plan_read, run_read
from singer_bridge._translate.catalog import airbyte_catalog
from singer_bridge._translate.masking import GrowingMasker, Masker
from singer_bridge._translate.spec import validate_config
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer
from singer_bridge.errors import BridgeError
from singer_bridge.native._engine import read_stream
from singer_bridge.native._source import Source
from singer_bridge.native._state import StateKeeper


class NativeSource:
    """A native ``Source`` under the Airbyte protocol, as ``singer_bridge.launch`` drives it."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self._stopped = threading.Event()
        self._stop_reason = ""

    def spec(self) -> dict[str, Any]:
        return {"connectionSpecification": self.source.connection_spec}

    def _config(self, config_file: str) -> tuple[dict[str, Any], Masker]:
        config = load_json_object(config_file, "config")
        validate_config(config, self.source.connection_spec, config_file)
        masker = GrowingMasker.for_config(config, self.source.connection_spec)
        self.source.bind(config)
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
