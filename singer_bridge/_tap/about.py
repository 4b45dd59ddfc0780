"""What a tap says about itself before any read: ``--about``, its spec, the catalog flag it reads.

Each answer costs a start of the tap (about a second of CPU for a singer-sdk tap), so each is
asked at most once per command, not at all where the bridge config already says it, and kept
between commands in the bridge's cache (``tap.cache``) for as long as the tap is unchanged.
"""

from __future__ import annotations

from typing import Any

from singer_bridge._files import parse_json_output
from singer_bridge._tap.bridge_config import BridgeConfig
from singer_bridge._tap.cache import TapCache
from singer_bridge._tap.runner import TapRunner
from singer_bridge._translate.masking import Masker
from singer_bridge._translate.spec import load_spec_file, permissive_spec, spec_from_about
from singer_bridge.errors import TransientError

_ABOUT_TIMEOUT = 120.0
_HELP_TIMEOUT = 60.0
_FLAGS = ("--catalog", "--properties", "both")


class TapAbout:
    """The tap's self-description, asked lazily and cached."""

    def __init__(
        self, runner: TapRunner, config: BridgeConfig, cache: TapCache | None = None
    ) -> None:
        self._runner = runner
        self._config = config
        self._cache = cache
        self._about: dict[str, Any] | None = None
        self._about_done = False
        self._spec: dict[str, Any] | None = None

    def about(self) -> dict[str, Any] | None:
        """The tap's ``--about --format=json``, or None for taps without it."""
        if not self._about_done:
            self._about_done = True
            kept = self._cache.get("about") if self._cache else None
            if isinstance(kept, dict) and "about" in kept:  # what it said last time
                self._about = kept["about"] if isinstance(kept["about"], dict) else None
                return self._about
            try:
                code, out, _ = self._runner.collect(
                    ["--about", "--format=json"], None, Masker(()), "about", _ABOUT_TIMEOUT
                )
            except TransientError:  # timed out: ask again next time
                return None
            try:
                doc = parse_json_output(out) if code == 0 else None
            except ValueError:
                doc = None
            self._about = doc if isinstance(doc, dict) else None
            if self._cache is not None:
                self._cache.put("about", {"about": self._about})
        return self._about

    def spec(self) -> dict[str, Any]:
        """The Airbyte spec: the bridge config's spec file, else ``--about``, else permissive."""
        if self._spec is None:
            if self._config.spec_file is not None:
                self._spec = load_spec_file(self._config.spec_file)
            else:
                about = self.about()
                self._spec = spec_from_about(about) if about else permissive_spec(self._title())
        return self._spec

    def _title(self) -> str:
        return self._runner.display_name() or "Singer tap"

    def catalog_flag(self) -> str:
        """``--catalog``, ``--properties``, ``both`` or ``none``: as configured, or detected."""
        flag: str = self._config.catalog_flag
        return self.detect_catalog_flag() if flag == "auto" else flag

    def detect_catalog_flag(self) -> str:
        """From ``--about`` capabilities, else from the words in ``--help``."""
        about = self.about()
        capabilities = about.get("capabilities") if about else None
        if isinstance(capabilities, list):
            if "catalog" in capabilities:
                return "--catalog"
            if "properties" in capabilities:
                return "--properties"
        kept = self._cache.get("catalog-flag") if self._cache else None
        if kept in _FLAGS:
            return str(kept)
        try:
            _, out, tail = self._runner.collect(["--help"], None, Masker(()), "help", _HELP_TIMEOUT)
        except TransientError:
            return "--catalog"
        text = out.decode("utf-8", "replace") + "\n".join(tail)
        has_catalog, has_properties = "--catalog" in text, "--properties" in text
        if has_properties and has_catalog:
            flag = "both"  # singer-python taps accept both; some read only --properties
        else:
            flag = "--properties" if has_properties else "--catalog"
        if self._cache is not None:
            self._cache.put("catalog-flag", flag)
        return flag
