"""``SingerSource``: an existing Singer tap behind Airbyte's spec, check, discover and read.

>>> import sys  # a tap that answers --about with one secret setting:
>>> about = '{"name": "tap-x", "settings": {"properties": {"key": {"secret": true}}}}'
>>> source = SingerSource(tap=[sys.executable, "-c", f"print({about!r})"])
>>> source.spec()["connectionSpecification"]["properties"]
{'key': {'secret': True, 'airbyte_secret': True}}

``launch(source, ["read", "--config", "c.json", "--catalog", "k.json"])`` runs a command.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from singer_bridge._clock import now_ms
from singer_bridge._files import load_json_file, load_json_object, private_dir, write_private_json
from singer_bridge._protocol import airbyte as messages
from singer_bridge._read.pipeline import Producer, ReadPlan, plan_read, run_read
from singer_bridge._tap.about import TapAbout
from singer_bridge._tap.bridge_config import BridgeConfig
from singer_bridge._tap.cache import TapCache, cache_dir
from singer_bridge._tap.check import check_plan_doc, check_stream, first_record
from singer_bridge._tap.discovery import discover_streams, tap_failure
from singer_bridge._tap.process import TapProcess
from singer_bridge._tap.pump import pump
from singer_bridge._tap.runner import TapRunner
from singer_bridge._translate.catalog import (
    ConfiguredStream,
    SingerStream,
    airbyte_catalog,
    singer_catalog_with_selection,
)
from singer_bridge._translate.logs import StderrParser
from singer_bridge._translate.masking import Masker
from singer_bridge._translate.spec import validate_config
from singer_bridge._translate.translator import Translator
from singer_bridge._writer import Writer
from singer_bridge.errors import BridgeError, TransientError

if TYPE_CHECKING:
    from singer_bridge._read.parallel import ParallelRead

__all__ = ["SingerSource"]


class SingerSource:
    """A Singer tap run as an Airbyte source. ``tap`` is an argv list or a command string."""

    def __init__(
        self, tap: Sequence[str] | str | None = None, bridge_config: BridgeConfig | None = None
    ) -> None:
        self.config = bridge_config or BridgeConfig()
        if isinstance(tap, str):
            tap = shlex.split(tap)
        self.tap = list(tap) if tap else list(self.config.tap or [])
        self.runner = TapRunner(self.tap, self.config.env, self.config.inherit_env)
        self.cache = TapCache(self.tap, self.config.env, cache_dir())
        self._about = TapAbout(self.runner, self.config, self.cache)
        self._interrupted: str | None = None
        self.parallel: int | None = None  # --parallel N: overrides parallel_processes
        self._parallel_run: ParallelRead | None = None

    # -- what the tap says about itself ----------------------------------------------------
    def about(self) -> dict[str, Any] | None:
        """The tap's ``--about --format=json``, or None for taps without it."""
        return self._about.about()

    def spec(self) -> dict[str, Any]:
        return self._about.spec()

    def detect_catalog_flag(self) -> str:
        return self._about.detect_catalog_flag()

    def load_config(self, config_file: str) -> tuple[dict[str, Any], Masker]:
        """The user's config, checked against the spec, and the masker for its secrets."""
        config = load_json_object(config_file, "config")
        spec = self.spec().get("connectionSpecification")
        validate_config(config, spec, config_file)
        return config, Masker.from_config(config, spec, self.config.secret_keys)

    def discover_streams(
        self, config_path: Path, writer: Writer | None, masker: Masker, *, reuse: bool = False
    ) -> list[SingerStream]:
        """The tap's streams; ``reuse``: the catalog its last discovery with this config found,
        if the cache holds it (a read), else a discovery (stored for the next read)."""
        cache = self.cache if self.cache.enabled else None
        return discover_streams(
            self.runner, self.config, config_path, writer, masker, cache=cache, reuse=reuse
        )

    # -- the four commands ------------------------------------------------------------------
    def check(self, config_file: str, writer: Writer) -> bytes:
        """CONNECTION_STATUS: SUCCEEDED when discovery works and (by default) a first record
        of one stream is read; FAILED leading with the cause."""
        try:
            config, masker = self.load_config(config_file)
            writer.mask_with(masker.mask)
            with private_dir() as tmp:
                config_path = write_private_json(tmp, "config.json", config)
                streams = self.discover_streams(config_path, writer, masker)
                if not streams:
                    return messages.connection_status(False, "the tap's catalog has no streams")
                try:
                    if self.config.check == "read":
                        self._check_read(streams, tmp, config_path, masker, writer)
                finally:
                    pass_on_config_update(config, config_path, writer)
        except BridgeError as exc:
            if exc.internal_message:
                writer.write(messages.log_message("ERROR", exc.internal_message))
            return messages.connection_status(False, writer.mask_text(exc.message)[:4000])
        return messages.connection_status(True)

    def _check_read(
        self,
        streams: list[SingerStream],
        tmp: Path,
        config_path: Path,
        masker: Masker,
        writer: Writer,
    ) -> None:
        stream = check_stream(streams, self.config)
        plan = plan_read(streams, check_plan_doc(stream), None, "of the check")
        args = self._read_args(plan, tmp, config_path)
        if not first_record(self.runner, self.config, args, stream, masker):
            writer.write(
                messages.log_message(
                    "WARN", f"check: stream '{stream.name}' has no records to read yet"
                )
            )

    def discover(self, config_file: str, writer: Writer) -> bytes:
        config, masker = self.load_config(config_file)
        writer.mask_with(masker.mask)
        with private_dir() as tmp:
            streams = self.discover_streams(
                write_private_json(tmp, "config.json", config), writer, masker
            )
        return messages.catalog_message(airbyte_catalog(streams))

    def read(
        self, config_file: str, catalog_file: str, state_file: str | None, writer: Writer
    ) -> int:
        """Run the tap and write the translated messages; return the exit code."""
        config, masker = self.load_config(config_file)
        writer.mask_with(masker.mask)
        configured_doc = load_json_file(catalog_file, "catalog")
        state_doc = load_json_file(state_file, "state") if state_file else None
        with private_dir() as tmp:
            config_path = write_private_json(tmp, "config.json", config)
            streams = self.discover_streams(config_path, writer, masker, reuse=True)
            plan = plan_read(
                streams,
                configured_doc,
                state_doc,
                f"file '{catalog_file}'",
                f"state file '{state_file}'",
            )
            processes = self.parallel or self.config.parallel_processes
            shares = self._shares(plan, processes, writer) if processes > 1 else []
            if len(shares) > 1:  # several processes of the tap, each reading some streams
                produce = self._parallel(plan, tmp, config_path, masker, shares)
            else:
                args = self._read_args(plan, tmp, config_path)

                def produce(translator: Translator, out: Writer) -> BridgeError | None:
                    return self._run_tap(args, translator, out, masker)

            try:
                return run_read(
                    plan,
                    produce,
                    writer,
                    masker=masker,
                    state_mode=self.config.state_mode,
                    interrupted=lambda: self._interrupted,
                )
            finally:
                pass_on_config_update(config, config_path, writer)

    def _shares(
        self, plan: ReadPlan, processes: int, writer: Writer
    ) -> list[list[ConfiguredStream]]:
        """The streams of each of the tap's processes, and a LOG of why where it matters."""
        # Imported here: a read with one tap process (most of them) never needs it.
        from singer_bridge._read.parallel import assign, refuse_unsafe, split_notes

        refuse_unsafe(self.config, plan)
        for note in split_notes(plan.configured, processes, plan.streams):
            writer.write(messages.log_message("INFO", note))
        return assign(plan.configured, processes, plan.streams)

    def _parallel(
        self,
        plan: ReadPlan,
        tmp: Path,
        config_path: Path,
        masker: Masker,
        shares: list[list[ConfiguredStream]],
    ) -> Producer:
        from singer_bridge._read.parallel import ParallelRead, share_state

        args = [
            self._read_args(plan, tmp, config_path, share, share_state(plan.singer_state, share), i)
            for i, share in enumerate(shares)
        ]
        run = ParallelRead(self.runner, self.config, masker, shares, args, plan.singer_state)
        self._parallel_run = run
        if self._interrupted:
            run.stop_all(self._interrupted)
        return run.run

    def _read_args(
        self,
        plan: ReadPlan,
        tmp: Path,
        config_path: Path,
        configured: list[ConfiguredStream] | None = None,
        singer_state: dict[str, Any] | None = None,
        process: int | None = None,
    ) -> list[str]:
        """The tap's arguments; for one of parallel processes, with its streams and state."""
        configured = plan.configured if configured is None else configured
        singer_state = plan.singer_state if singer_state is None else singer_state
        suffix = "" if process is None else f"-{process + 1}"
        catalog = singer_catalog_with_selection(plan.streams, configured, plan.selected_fields)
        catalog_path = write_private_json(tmp, f"catalog{suffix}.json", catalog)
        args = ["--config", str(config_path)]
        flag = self._about.catalog_flag()
        if flag == "both":
            args += ["--catalog", str(catalog_path), "--properties", str(catalog_path)]
        elif flag != "none":
            args += [flag, str(catalog_path)]
        if singer_state:
            # Some taps index state["currently_syncing"] (pipelinewise's log-based sync): Airbyte
            # resumes by bookmarks, so the bridge says no stream was mid-sync.
            state = {"currently_syncing": None, **singer_state}
            args += ["--state", str(write_private_json(tmp, f"state{suffix}.json", state))]
        return args

    def _run_tap(
        self, args: list[str], translator: Translator, writer: Writer, masker: Masker
    ) -> BridgeError | None:
        parser = StderrParser()
        error: BridgeError | None = None
        with self.runner.start(
            args,
            on_stderr=lambda text: writer.write(messages.log_message(*parser.parse(text))),
            mask=masker,
            idle_timeout=self.config.idle_timeout_seconds,
        ) as tap:
            try:
                pump(tap.stdout_blocks(self.config.max_line_bytes), translator, writer)
            except BridgeError as exc:
                error = exc
                tap.stop(f"the bridge stopped the tap: {exc.message}")
            code = tap.wait()
            return error or self._outcome(tap, code)

    def _outcome(self, tap: TapProcess, code: int) -> BridgeError | None:
        if self._interrupted:
            return None  # run_read reports the interrupt
        if tap.timed_out:
            return TransientError(f"the tap was stopped: {tap.stopped_by}")
        if code != 0:
            return tap_failure(code, list(tap.stderr_tail), "the read")
        return None

    def interrupt(self, reason: str) -> None:
        """Stop the running tap (from a signal handler): the read ends INCOMPLETE."""
        self._interrupted = reason
        self.runner.stop(reason)
        if self._parallel_run is not None:
            self._parallel_run.stop_all(reason)


def pass_on_config_update(config: dict[str, Any], path: Path, writer: Writer) -> None:
    """If the tap wrote a new config into its config file (a rotated refresh token: a native
    source in Singer mode does so), emit it as a CONTROL ``connectorConfig`` message. The file
    is the bridge's private copy, removed after the run: without the message the new
    credential would be lost and the next run would start from one the server retired. Every
    process of a parallel read shares the one file: the last one written wins."""
    try:
        updated = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return
    if isinstance(updated, dict) and updated != config:
        writer.write(
            messages.log_message(
                "INFO", "the tap updated its config file: passed on as a CONTROL message"
            )
        )
        writer.write(messages.control_config(updated, now_ms()))
