"""Managed virtual environments for taps: one per tap, so their pins never meet ours.

``ensure_venv("tap-demo", ["tap-demo==1.0"])`` builds (once) and returns the venv's bin folder.
A venv's folder is named by the tap and a digest of its pip specs, so a new pin gets a new venv:

>>> from pathlib import Path
>>> one = venv_dir("tap-demo", ["tap-demo==1.0"], Path("/cache"))
>>> (one.parent, one.name.startswith("tap-demo-"))
(PosixPath('/cache'), True)
>>> one == venv_dir("tap-demo", ["tap-demo==1.0"], Path("/cache"))
True
>>> one == venv_dir("tap-demo", ["tap-demo==1.1"], Path("/cache"))
False
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from singer_bridge._translate.masking import redact_url_credentials
from singer_bridge.errors import ConfigError

VENV_ROOT_ENV = "SINGER_BRIDGE_VENVS"
_MARKER = ".singer-bridge-complete"
_LAYOUT = "2"  # bump when the way venvs are built changes, so caches rebuild


def default_root() -> Path:
    env = os.environ.get(VENV_ROOT_ENV)
    return Path(env) if env else Path.home() / ".cache" / "singer-bridge" / "venvs"


def venv_dir(name: str, specs: Sequence[str], root: Path | None = None) -> Path:
    """The venv folder for these pip specs; a change of specs gets a new folder."""
    digest = hashlib.sha256("\n".join([_LAYOUT, sys.version, *specs]).encode()).hexdigest()[:10]
    return (root or default_root()) / f"{name}-{digest}"


def ensure_venv(
    name: str,
    specs: Sequence[str],
    root: Path | None = None,
    python: str = sys.executable,
    quiet: bool = True,
    then: Sequence[str] = (),
    ignore_requires_python: bool = False,
) -> Path:
    """Create (once) a venv holding ``specs`` and return its ``bin`` folder.

    ``then`` is a second pip install, run after ``specs``: it can replace a tap's broken pin
    (an old dependency that does not import on this Python) without editing the tap.
    Safe when several processes ask at once: a file lock serialises the build, and a marker
    written last means a half-built venv is rebuilt instead of used.
    ``ignore_requires_python`` installs a tap whose ``Requires-Python`` excludes this Python
    (many taps say ``<3.11`` and run fine on it).
    """
    flags = ["--ignore-requires-python"] if ignore_requires_python else []
    target = venv_dir(name, [*specs, *then, *flags], root)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _MARKER).exists():
            return target / "bin"
        shutil.rmtree(target, ignore_errors=True)
        _run([python, "-m", "venv", str(target)], name)
        pip = [
            str(target / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
        ]
        if quiet:
            pip.append("-q")
        # Only pip is upgraded: old taps import pkg_resources from the venv's own setuptools.
        _run([*pip, "--upgrade", "pip"], name)
        _run([*pip, *flags, *specs], name)
        if then:
            _run([*pip, *flags, *then], name)
        (target / _MARKER).write_text("\n".join(specs) + "\n", encoding="utf-8")
    return target / "bin"


def _run(argv: list[str], name: str) -> None:
    result = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        # masked whole, then cut: an index URL's password across the cut would leak in part
        tail = redact_url_credentials(result.stdout.decode("utf-8", "replace"))[-3000:]
        hint = ""
        if "Requires-Python" in tail or "requires a different Python" in tail:
            hint = (
                f"{name} declares a Python range that excludes this Python "
                f"({sys.version.split()[0]}); many taps run fine anyway: retry with "
                "--ignore-requires-python. "
            )
        shown = redact_url_credentials(" ".join(argv[-3:]))  # --index-url may carry a password
        raise ConfigError(f"{hint}installing {name} failed ({shown}):\n{tail}")


def installed_specs(executable: str | Path) -> list[str] | None:
    """The pip specs of the managed venv ``executable`` lives in, or None if it is not in one.

    ``singer-bridge package --tap $(singer-bridge install SPEC)`` finds SPEC this way.
    """
    found = shutil.which(str(executable)) if os.sep not in str(executable) else None
    marker = Path(found or executable).absolute().parent.parent / _MARKER
    if not marker.is_file():
        return None
    return [line for line in marker.read_text(encoding="utf-8").splitlines() if line.strip()]


_SCRIPT_PREFIXES = ("tap-", "tap_", "source-")


def spec_name(spec: str) -> str:
    base = Path(spec).name if "/" in spec else spec
    for stop in "=<>!~[; @":
        base = base.split(stop)[0]
    return base or "tap"


def tap_executable(
    spec: str, executable: str | None = None, ignore_requires_python: bool = False
) -> Path:
    """Install ``spec`` (once) and return the tap's executable in its venv."""
    bin_dir = ensure_venv(spec_name(spec), [spec], ignore_requires_python=ignore_requires_python)
    if executable:
        path = bin_dir / executable
        if not path.exists():
            raise ConfigError(f"'{executable}' is not in the venv of {spec} ({bin_dir})")
        return path
    scripts = sorted(p for p in bin_dir.iterdir() if p.name.startswith(_SCRIPT_PREFIXES))
    if len(scripts) != 1:
        found = ", ".join(p.name for p in scripts) or "none"
        raise ConfigError(
            f"cannot tell which executable of {spec} is the tap (found: {found}); "
            "name it with --tap-executable"
        )
    return scripts[0]
