"""Docs that run: every bash and python block in docs/ runs here, page by page, in order, as a
reader would run them (one shell per page, in a fresh folder). A block preceded by
``<!-- not-run: REASON -->`` is skipped, and must give its reason. The site builds in strict
mode too."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.docker import BASE
from tests.support.tapvenv import ROOT

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
BLOCK = re.compile(
    r"(<!-- not-run: (?P<why>[^>]*?) -->\n)?```(?P<lang>bash|python)\n(?P<code>.*?)```", re.S
)
PAGES = sorted(p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md"))


def script_for(page: str) -> tuple[str, int]:
    """The page as one bash script, and how many blocks were skipped (each with a reason)."""
    parts, skipped = ["set -euo pipefail"], 0
    for match in BLOCK.finditer((DOCS / page).read_text()):
        if match.group("why") is not None:
            assert match.group("why").strip(), f"{page}: a not-run block must say why"
            skipped += 1
            continue
        code = match.group("code")
        if match.group("lang") == "python":
            code = f"python - <<'PYTHON_BLOCK'\n{code}PYTHON_BLOCK\n"
        parts.append(code)
    return "\n".join(parts) + "\n", skipped


def uses_docker(page: str) -> bool:
    return re.search(r"^docker ", (DOCS / page).read_text(), re.M) is not None


@pytest.mark.realtap  # pages install tap-demo (cached) and run it
@pytest.mark.parametrize(
    "page",
    [
        pytest.param(page, marks=[pytest.mark.slow, pytest.mark.xdist_group("docker")])
        if uses_docker(page)
        else page
        for page in PAGES
    ],
)
def test_every_block_of_the_page_runs(
    page: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    script, _ = script_for(page)
    env = {
        **os.environ,
        "REPO": str(REPO),
        "SINGER_BRIDGE_VENVS": str(ROOT),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    if uses_docker(page):
        # the daemon of tests/support/docker.py, shared with test_package_docker; its base
        # image stands in for python:3.11-slim (the Dockerfile's default), which it cannot pull
        docker = request.getfixturevalue("docker_env")
        env |= {name: docker[name] for name in ("DOCKER_HOST", "DOCKER_BUILDKIT")}
        subprocess.run(["docker", "tag", BASE, "python:3.11-slim"], env=env, check=True)
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=600)
    finally:
        with contextlib.suppress(ProcessLookupError):  # what a page left running
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, f"{page} failed:\n{out.decode()[-4000:]}"


# Blocks that need a registry or an Airbyte instance (deploy.md: push, add the definition), or
# (tools.md) a Docker daemon: deploy.md runs those on the tests' own daemon.
DOCKER_BLOCKS = {"deploy.md": 2}


def test_pages_skip_few_blocks_and_say_why() -> None:
    skipped = {page: script_for(page)[1] for page in PAGES}
    for page, most in DOCKER_BLOCKS.items():
        assert skipped.pop(page) <= most, page
    assert sum(skipped.values()) <= 2, skipped


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-q",
            "-f",
            str(REPO / "mkdocs.yml"),
            "-d",
            str(tmp_path / "site"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "site" / "tutorial" / "index.html").exists()
