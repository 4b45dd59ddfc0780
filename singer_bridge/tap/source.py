"""``SingerSource``: an existing Singer tap behind Airbyte's spec, check, discover and read.

>>> import sys  # a tap that answers --about with one secret setting:
>>> about = '{"name": "tap-x", "settings": {"properties": {"key": {"secret": true}}}}'
>>> source = SingerSource(tap=[sys.executable, "-c", f"print({about!r})"])
>>> source.spec()["connectionSpecification"]["properties"]
{'key': {'secret': True, 'airbyte_secret': True}}

``launch(source, ["read", "--config", "c.json", "--catalog", "k.json"])`` runs a command.
"""

from __future__ import annotations

import re
import shlex
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from singer_bridge.bridge_config import BridgeConfig
from singer_bridge.errors import BridgeError, ConfigError, TapError, TransientError
from singer_bridge.files import (
    load_json_file,
    load_json_object,
    parse_json_output,
    private_dir,
    write_private_json,
)
from singer_bridge.protocol import airbyte as messages
from singer_bridge.protocol.events import BatchEvent, StateEvent
from singer_bridge.protocol.singer import ENVELOPE_DECODER, describe_line_error, to_event
from singer_bridge.tap.batch import batch_records
from singer_bridge.tap.process import TapProcess, tap_environment
from singer_bridge.translate.catalog import (
    ConfiguredStream,
    SingerStream,
    airbyte_catalog,
    configure,
    parse_singer_catalog,
    singer_catalog_with_selection,
)
from singer_bridge.translate.logs import StderrParser
from singer_bridge.translate.masking import Masker
from singer_bridge.translate.spec import (
    load_spec_file,
    permissive_spec,
    spec_from_about,
    validate_config,
)
from singer_bridge.translate.state import bookmark_to_stream_state, singer_state_from_airbyte
from singer_bridge.translate.translator import Translator
from singer_bridge.writer import Writer

_ABOUT_TIMEOUT = 120.0
_CONFIG_PROBLEM = re.compile(
    r"(ConfigValidationError|config(uration)? (is )?invalid|invalid config|is a required property"
    r"|missing required|required (config|setting|property|key|field)|unauthori[sz]ed|forbidden"
    r"|\b40[13]\b|authentication failed|access denied|invalid (api[ _-]?key|credentials|token)"
    r"|password authentication|could not translate host name|connection refused)",
    re.IGNORECASE,
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def tap_failure(code: int, tail: Sequence[str], what: str) -> BridgeError:
    """The error for a tap that exited non-zero, with its last stderr lines (already masked)."""
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    last = [line for line in tail if line.strip()][-12:]
    detail = "\n".join(last) or "(the tap wrote nothing to stderr)"
    error_cls: type[BridgeError] = TapError
    if any(_CONFIG_PROBLEM.search(line) for line in last):
        error_cls = ConfigError
    headline = next(
        (ln for ln in reversed(last) if "error" in ln.lower()), last[-1] if last else ""
    )
    message = f"The tap {how} during {what}."
    if headline:
        message += f" Last error: {headline.strip()[:500]}"
    return error_cls(message, internal_message=f"last stderr lines of the tap:\n{detail}")


class SingerSource:
    """A Singer tap run as an Airbyte source. ``tap`` is an argv list or a command string."""

    def __init__(
        self, tap: Sequence[str] | str | None = None, bridge_config: BridgeConfig | None = None
    ) -> None:
        self.config = bridge_config or BridgeConfig()
        if isinstance(tap, str):
            tap = shlex.split(tap)
        self.tap = list(tap) if tap else list(self.config.tap or [])
        self._spec: dict[str, Any] | None = None
        self._about: dict[str, Any] | None = None
        self._about_done = False
        self._current: TapProcess | None = None
        self._interrupted: str | None = None

    # -- helpers ------------------------------------------------------------------------------
    def _argv(self, *args: str) -> list[str]:
        if not self.tap:
            raise ConfigError(
                "no tap to run: pass --tap 'COMMAND', set SINGER_BRIDGE_TAP, "
                "or name it as 'tap' in the bridge config"
            )
        return [*self.tap, *args]

    def _env(self) -> dict[str, str]:
        return tap_environment(self.config.env, self.config.inherit_env)

    def _run_collect(
        self, args: list[str], writer: Writer | None, masker: Masker, what: str, timeout: float
    ) -> tuple[int, bytes, list[str]]:
        parser = StderrParser()

        def on_stderr(text: str) -> None:
            if writer is not None:
                writer.write(messages.log_message(*parser.parse(text)))

        with TapProcess(
            self._argv(*args),
            env=self._env(),
            on_stderr=on_stderr,
            timeout=timeout,
            mask=masker.mask,
        ) as tap:
            self._current = tap
            out = tap.read_stdout()
            code = tap.wait()
            if tap.timed_out:
                raise TransientError(f"{what} timed out: {tap.stopped_by}")
            return code, out, list(tap.stderr_tail)

    def about(self) -> dict[str, Any] | None:
        """The tap's ``--about --format=json``, or None for taps without it."""
        if not self._about_done:
            self._about_done = True
            try:
                code, out, _ = self._run_collect(
                    ["--about", "--format=json"], None, Masker(()), "about", _ABOUT_TIMEOUT
                )
                doc = parse_json_output(out) if code == 0 else None
                self._about = doc if isinstance(doc, dict) else None
            except (ValueError, TransientError):
                self._about = None
        return self._about

    def spec(self) -> dict[str, Any]:
        if self._spec is None:
            if self.config.spec_file is not None:
                self._spec = load_spec_file(self.config.spec_file)
            else:
                about = self.about()
                self._spec = (
                    spec_from_about(about)
                    if about
                    else permissive_spec(self.tap[0] if self.tap else "Singer tap")
                )
        return self._spec

    def load_config(self, config_file: str) -> tuple[dict[str, Any], Masker]:
        """The user's config, checked against the spec, and the masker for its secrets."""
        config = load_json_object(config_file, "config")
        spec = self.spec().get("connectionSpecification")
        validate_config(config, spec, config_file)
        return config, Masker.from_config(config, spec, self.config.secret_keys)

    def _catalog_flags(self, path: Path) -> list[str]:
        flag: str = self.config.catalog_flag
        if flag == "auto":
            flag = self.detect_catalog_flag()
        if flag == "both":
            return ["--catalog", str(path), "--properties", str(path)]
        return [flag, str(path)]

    def detect_catalog_flag(self) -> str:
        about = self.about()
        capabilities = about.get("capabilities") if about else None
        if isinstance(capabilities, list):
            if "catalog" in capabilities:
                return "--catalog"
            if "properties" in capabilities:
                return "--properties"
        try:
            _, out, tail = self._run_collect(["--help"], None, Masker(()), "help", 60.0)
        except TransientError:
            return "--catalog"
        text = out.decode("utf-8", "replace") + "\n".join(tail)
        has_catalog, has_properties = "--catalog" in text, "--properties" in text
        if has_properties and has_catalog:
            return "both"  # singer-python taps accept both; some read only --properties
        return "--properties" if has_properties else "--catalog"

    def discover_streams(
        self, config_path: Path, writer: Writer | None, masker: Masker
    ) -> list[SingerStream]:
        exclude = tuple(self.config.exclude_streams)
        if self.config.catalog_file is not None:
            doc = load_json_file(self.config.catalog_file, "catalog_file of the bridge config")
            return parse_singer_catalog(doc, self.config.streams, exclude)
        code, out, tail = self._run_collect(
            ["--config", str(config_path), "--discover"],
            writer,
            masker,
            "discovery",
            self.config.discover_timeout_seconds,
        )
        if code != 0:
            raise tap_failure(code, tail, "discovery")
        try:
            doc = parse_json_output(out)
        except ValueError as exc:
            raise TapError(
                "the tap's discovery output is not a JSON catalog",
                internal_message=masker.mask(out[:2000].decode("utf-8", "replace")),
            ) from exc
        return parse_singer_catalog(doc, self.config.streams, exclude)

    # -- the four commands --------------------------------------------------------------------
    def check(self, config_file: str, writer: Writer) -> bytes:
        """CONNECTION_STATUS for a config: SUCCEEDED when the tap's discovery works."""
        try:
            config, masker = self.load_config(config_file)
            with private_dir() as tmp:
                streams = self.discover_streams(
                    write_private_json(tmp, "config.json", config), writer, masker
                )
        except BridgeError as exc:
            detail = f" {exc.internal_message}" if exc.internal_message else ""
            return messages.connection_status(False, f"{exc.message}{detail}"[:4000])
        if not streams:
            return messages.connection_status(False, "the tap's catalog has no streams")
        return messages.connection_status(True)

    def discover(self, config_file: str, writer: Writer) -> bytes:
        config, masker = self.load_config(config_file)
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
        configured_doc = load_json_file(catalog_file, "catalog")
        state_doc = load_json_file(state_file, "state") if state_file else None
        with private_dir() as tmp:
            config_path = write_private_json(tmp, "config.json", config)
            streams = self.discover_streams(config_path, writer, masker)
            configured = configure(streams, configured_doc, f"file '{catalog_file}'")
            for c in configured:
                if c.warning:
                    writer.write(messages.log_message("WARN", c.warning))
            ids = {(s.name, s.namespace): s.tap_stream_id for s in streams}
            singer_state = singer_state_from_airbyte(state_doc, ids, f"state file '{state_file}'")
            for c in configured:
                if not c.incremental:  # a full refresh starts over
                    (singer_state.get("bookmarks") or {}).pop(c.singer.tap_stream_id, None)
            _alias_bookmarks(singer_state, streams)
            catalog = singer_catalog_with_selection(
                streams, configured, _selected_fields(configured, configured_doc)
            )
            args = ["--config", str(config_path)]
            args += self._catalog_flags(write_private_json(tmp, "catalog.json", catalog))
            if singer_state:
                args += ["--state", str(write_private_json(tmp, "state.json", singer_state))]
            translator = Translator(
                configured,
                now_ms=now_ms,
                initial_states=_initial_states(configured, singer_state),
                state_mode=self.config.state_mode,
                mask=masker.mask,
            )
            return self._run_read(args, translator, writer, masker)

    def _run_read(
        self, args: list[str], translator: Translator, writer: Writer, masker: Masker
    ) -> int:
        parser = StderrParser()
        writer.write_all(translator.start())
        error: BridgeError | None = None
        with TapProcess(
            self._argv(*args),
            env=self._env(),
            on_stderr=lambda text: writer.write(messages.log_message(*parser.parse(text))),
            idle_timeout=self.config.idle_timeout_seconds,
            mask=masker.mask,
        ) as tap:
            self._current = tap
            try:
                pump(tap.stdout_lines(), translator, writer)
            except BridgeError as exc:
                error = exc
                tap.stop(f"the bridge stopped the tap: {exc.message}")
            code = tap.wait()
            if error is None:
                error = self._outcome(tap, code)
        writer.write_all(translator.finish(error))
        writer.flush()
        return 0 if error is None else 1

    def _outcome(self, tap: TapProcess, code: int) -> BridgeError | None:
        if self._interrupted:
            return TransientError(
                f"the sync was interrupted by {self._interrupted}; the tap was stopped"
            )
        if tap.timed_out:
            return TransientError(f"the tap was stopped: {tap.stopped_by}")
        if code != 0:
            return tap_failure(code, list(tap.stderr_tail), "the read")
        return None

    def interrupt(self, reason: str) -> None:
        """Stop the running tap (from a signal handler): the read ends INCOMPLETE."""
        self._interrupted = reason
        tap = self._current
        if tap is not None:
            threading.Thread(target=tap.stop, args=(reason,), daemon=True).start()


def pump(chunks: Iterable[list[bytes]], translator: Translator, writer: Writer) -> None:
    """The hot loop: decode each Singer line's envelope, RECORDs straight to bytes.

    ``chunks`` yields lists of lines; each list's output goes to the writer in one call.
    """
    out: list[bytes] = []
    try:
        _pump(chunks, translator, writer, out)
    finally:
        writer.write_all(out)  # whatever was translated before a failure is still delivered


def _pump(
    chunks: Iterable[list[bytes]], translator: Translator, writer: Writer, out: list[bytes]
) -> None:
    record = translator.record
    emit = out.append
    decode = ENVELOPE_DECODER.decode
    for lines in chunks:
        for line in lines:
            try:
                if not line.isascii():
                    line.decode("utf-8")  # msgspec passes invalid UTF-8 in raw bodies through
                message = decode(line)
            except (ValueError, msgspec.DecodeError) as exc:  # incl. UnicodeDecodeError
                if line.strip():
                    emit(_bad_line(line, describe_line_error(exc)))
                continue
            if message.type == "RECORD":
                emit(record(message.stream or "", message.record, message.time_extracted))
                continue
            event = to_event(message)
            if isinstance(event, BatchEvent):
                for count, raw in enumerate(batch_records(event), 1):
                    emit(record(event.stream, raw, None))
                    if count % 1000 == 0:  # a batch file can be large: keep memory flat
                        writer.write_all(out)
                        out.clear()
            elif event is not None:
                out.extend(translator.feed(event))
                if isinstance(event, StateEvent):
                    writer.write_all(out)  # a STATE goes out right behind its records
                    out.clear()
                    writer.flush()
        writer.write_all(out)
        out.clear()


def _bad_line(line: bytes, why: str) -> bytes:
    preview = line[:200].decode("utf-8", "replace").rstrip()
    return messages.log_message("WARN", f"skipped a tap stdout line that is {why}: {preview!r}")


def _selected_fields(
    configured: list[ConfiguredStream], doc: dict[str, Any]
) -> dict[str, list[str] | None]:
    """Fields to select per tap_stream_id: the configured schema's properties, when narrowed."""
    out: dict[str, list[str] | None] = {}
    items = doc.get("streams") or []
    for c, item in zip(configured, items, strict=False):
        props = ((item.get("stream") or {}).get("json_schema") or {}).get("properties")
        known = c.singer.json_schema.get("properties") or {}
        if isinstance(props, dict) and props and set(props) < set(known):
            out[c.singer.tap_stream_id] = list(props)
        else:
            out[c.singer.tap_stream_id] = None
    return out


def _alias_bookmarks(singer_state: dict[str, Any], streams: list[SingerStream]) -> None:
    """Offer each bookmark under the stream name too, where that differs from tap_stream_id.

    Most taps key bookmarks by tap_stream_id (``public-users``), some by stream (``users``);
    the bridge reads either back, and gives the tap both so neither kind starts over.
    """
    bookmarks = singer_state.get("bookmarks")
    if not isinstance(bookmarks, dict):
        return
    ids = {s.tap_stream_id for s in streams}
    for s in streams:
        if s.stream != s.tap_stream_id and s.stream not in ids and s.tap_stream_id in bookmarks:
            bookmarks.setdefault(s.stream, bookmarks[s.tap_stream_id])


def _initial_states(
    configured: list[ConfiguredStream], singer_state: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    bookmarks = singer_state.get("bookmarks") or {}
    shared = {k: v for k, v in singer_state.items() if k != "bookmarks"}
    return {
        c.singer.tap_stream_id: bookmark_to_stream_state(bookmarks[c.singer.tap_stream_id], shared)
        for c in configured
        if c.singer.tap_stream_id in bookmarks
    }
