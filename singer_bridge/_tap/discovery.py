"""A tap's catalog: from the bridge config's ``catalog_file``, or by running ``--discover``."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from singer_bridge._files import load_json_file, parse_json_output
from singer_bridge._protocol import airbyte as messages
from singer_bridge._tap.bridge_config import BridgeConfig
from singer_bridge._tap.cache import CACHE_ENV, TapCache, missing
from singer_bridge._tap.runner import TapRunner
from singer_bridge._translate.catalog import SingerStream, parse_singer_catalog
from singer_bridge._translate.masking import Masker
from singer_bridge._writer import Writer
from singer_bridge.errors import BridgeError, ConfigError, TapError

_CONFIG_PROBLEM = re.compile(
    r"(ConfigValidationError|config(uration)? (is )?invalid|invalid config|is a required property"
    r"|missing required|required (config|setting|property|key|field)|unauthori[sz]ed|forbidden"
    r"|\b40[13]\b|authentication failed|access denied|invalid (api[ _-]?key|credentials|token)"
    r"|password authentication|could not translate host name|connection refused)",
    re.IGNORECASE,
)


# The line that names the cause: a Python exception ("psycopg2.OperationalError: ..."), not
# SQLAlchemy's "(Background on this error at: ...)" hint or a traceback's frame lines.
_EXCEPTION = re.compile(r"(?:^|[\s(\[|])(?:[A-Za-z_]\w*\.)*[A-Z]\w*(?:Error|Exception|Exit)\b[:)]")
_NOT_A_CAUSE = re.compile(
    r"^\s*(\(Background on this error at|Traceback \(most recent call last\)|File \"|\^+$)"
)


def failure_cause(lines: Sequence[str]) -> str:
    """The stderr line that best says why a tap failed (lines are oldest first)."""
    candidates = [ln.strip() for ln in lines if ln.strip() and not _NOT_A_CAUSE.search(ln)]
    for pattern in (_EXCEPTION, re.compile(r"error|critical|fatal", re.IGNORECASE)):
        for line in reversed(candidates):
            if pattern.search(line):
                return line
    return candidates[-1] if candidates else ""


def tap_failure(code: int, tail: Sequence[str], what: str) -> BridgeError:
    """The error for a tap that exited non-zero: its cause first, then what failed; the last
    stderr lines (already masked) go to the internal message."""
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    last = [line for line in tail if line.strip()][-12:]
    detail = "\n".join(last) or "(the tap wrote nothing to stderr)"
    error_cls: type[BridgeError] = TapError
    if any(_CONFIG_PROBLEM.search(line) for line in last):
        error_cls = ConfigError
    cause = failure_cause(last)[:500]
    context = f"the tap {how} during {what}"
    message = f"{cause} ({context})" if cause else f"{context[0].upper()}{context[1:]}."
    return error_cls(message, internal_message=f"last stderr lines of the tap:\n{detail}")


def discover_streams(
    runner: TapRunner,
    config: BridgeConfig,
    config_path: Path,
    writer: Writer | None,
    masker: Masker,
    *,
    cache: TapCache | None = None,
    reuse: bool = False,
) -> list[SingerStream]:
    """The tap's streams, with the bridge config's overrides and exclusions applied.

    With a ``cache``, the catalog found is stored under the tap and its config; ``reuse`` takes
    a stored one instead of discovering (see ``tap.cache``).
    """
    exclude = tuple(config.exclude_streams)
    if config.catalog_file is not None:
        doc = load_json_file(config.catalog_file, "catalog_file of the bridge config")
        return parse_singer_catalog(doc, config.streams, exclude, user_catalog=True)
    settings = config_path.read_bytes().decode("utf-8", "replace") if cache else ""
    if cache is not None and reuse:
        doc = cache.get("catalog", settings)
        if not missing(doc):
            if writer is not None:
                writer.write(
                    messages.log_message(
                        "INFO",
                        "using the catalog the last discovery of this tap with this config "
                        f"found (set {CACHE_ENV}=off to discover at every read)",
                    )
                )
            return parse_singer_catalog(doc, config.streams, exclude)
    code, out, tail = runner.collect(
        ["--config", str(config_path), "--discover"],
        writer,
        masker,
        "discovery",
        config.discover_timeout_seconds,
    )
    if code != 0:
        raise tap_failure(code, tail, "discovery")
    try:
        doc = parse_json_output(out)
    except ValueError as exc:
        raise TapError(
            "the tap's discovery output is not a JSON catalog",
            internal_message=masker.mask(out.decode("utf-8", "replace"))[:2000],
        ) from exc
    streams = parse_singer_catalog(doc, config.streams, exclude)
    if cache is not None:
        cache.put("catalog", doc, settings)
    return streams
