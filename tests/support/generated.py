"""Checks for the projects that `singer-bridge init` and `package` generate: lint and types.

Generated code is checked as a user would check it: `ruff check` and `mypy` (strict, from the
project's own pyproject) run in the project folder, against this checkout of singer-bridge.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def write_files(folder: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def lint_and_type_check(project: Path, scratch: Path) -> None:
    """ruff check and strict mypy over every Python file of ``project``; fails with their say."""
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ruff.returncode == 0, ruff.stdout[-3000:]
    # mypy sees this checkout's singer_bridge (an editable install hides it behind an import
    # hook) and reports only the generated files' errors
    stubs = scratch / "mypypath"
    stubs.mkdir(exist_ok=True)
    (stubs / "singer_bridge").symlink_to(REPO / "singer_bridge")
    mypy = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--follow-imports=silent",
            "--cache-dir",
            str(scratch / "mypy-cache"),
            ".",
        ],
        cwd=project,
        env={"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert mypy.returncode == 0 and "Success" in mypy.stdout, mypy.stdout[-3000:]
    python_files = sorted(p.relative_to(project).as_posix() for p in project.rglob("*.py"))
    checked = re.search(r"in (\d+) source files?", mypy.stdout)
    assert checked and int(checked.group(1)) == len(python_files), (mypy.stdout, python_files)


def readme_commands(readme: str, heading: str = "## Try it") -> list[str]:
    """The lines of the first ```bash block after ``heading``."""
    section = readme.split(heading, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, f"no ```bash block under {heading!r}"
    return [line for line in block.group(1).splitlines() if line.strip()]
