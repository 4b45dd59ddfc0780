"""How the bridge starts its tap: argv, environment, and short commands collected whole.

>>> TapRunner(["/opt/taps/tap-x/bin/tap-x", "--verbose"], {}, True).display_name()
'tap-x'
>>> TapRunner(["python", "-m", "tap_y"], {}, True).display_name()
'tap_y'
>>> TapRunner(["/usr/bin/python3", "taps/tap_z.py"], {}, True).display_name()
'tap_z.py'
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from singer_bridge._protocol import airbyte as messages
from singer_bridge._tap.process import StderrHandler, TapProcess, tap_environment
from singer_bridge._translate.logs import StderrParser
from singer_bridge._translate.masking import Masker
from singer_bridge._writer import Writer
from singer_bridge.errors import ConfigError, TransientError


class TapRunner:
    """Starts the tap (``tap`` is its argv) and remembers the running one, to interrupt it."""

    def __init__(self, tap: Sequence[str], env: Mapping[str, str], inherit_env: bool) -> None:
        self.tap = list(tap)
        self._env = dict(env)
        self._inherit_env = inherit_env
        self._current: TapProcess | None = None
        self._lock = threading.Lock()

    def display_name(self) -> str:
        """The tap's name for people: its executable's name, or the module run by ``-m``."""
        if not self.tap:
            return ""
        if "-m" in self.tap[:-1]:
            return self.tap[self.tap.index("-m") + 1]
        name = Path(self.tap[0]).name
        if name.startswith("python") and len(self.tap) > 1 and not self.tap[1].startswith("-"):
            return Path(self.tap[1]).name  # python path/to/tap_x.py
        return name

    def argv(self, *args: str) -> list[str]:
        if not self.tap:
            raise ConfigError(
                "no tap to run: pass --tap 'COMMAND', set SINGER_BRIDGE_TAP, "
                "or name it as 'tap' in the bridge config"
            )
        return [*self.tap, *args]

    def start(
        self,
        args: Sequence[str],
        *,
        on_stderr: StderrHandler,
        mask: Masker,
        timeout: float | None = None,
        idle_timeout: float | None = None,
        env: Mapping[str, str] | None = None,
    ) -> TapProcess:
        """A new tap process (use it as a context manager), remembered for ``stop``; ``env``
        adds to the tap's environment for this process only."""
        tap = TapProcess(
            self.argv(*args),
            env=tap_environment({**self._env, **(env or {})}, self._inherit_env),
            on_stderr=on_stderr,
            timeout=timeout,
            idle_timeout=idle_timeout,
            mask=mask.mask,
        )
        with self._lock:
            self._current = tap
        return tap

    def collect(
        self, args: list[str], writer: Writer | None, masker: Masker, what: str, timeout: float
    ) -> tuple[int, bytes, list[str]]:
        """Run the tap to its end: exit code, whole stdout, last stderr lines (masked)."""
        parser = StderrParser()

        def on_stderr(text: str) -> None:
            if writer is not None:
                writer.write(messages.log_message(*parser.parse(text)))

        with self.start(args, on_stderr=on_stderr, mask=masker, timeout=timeout) as tap:
            out = tap.read_stdout()
            code = tap.wait()
            if tap.timed_out:
                raise TransientError(f"{what} timed out: {tap.stopped_by}")
            return code, out, list(tap.stderr_tail)

    def stop(self, reason: str) -> None:
        """Stop the running tap, if any, from another thread (a signal handler)."""
        with self._lock:
            tap = self._current
        if tap is not None:
            threading.Thread(target=tap.stop, args=(reason,), daemon=True).start()
