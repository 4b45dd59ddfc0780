"""A Docker daemon of the tests' own, a base image made offline, and what an image weighs.

The daemon is Debian's ``docker.io`` (``dockerd``), started on a socket of our own (its data
root under ``.cache/docker``, so images survive between runs) and stopped after; the base image
is a minimal Debian bookworm with python3.11 made by ``debootstrap`` (cached there too), since
the machine may reach only PyPI and Debian. Without ``dockerd`` or ``debootstrap`` (or without
root) a test using it skips and says why; under ``SINGER_BRIDGE_REQUIRE_DOCKER`` (``.ci/run``)
it fails instead. ``tests/conftest.py`` makes the daemon one session fixture, ``docker_env``,
shared by ``tests/test_package_docker.py`` and the deploy page of ``tests/test_docs.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "docker"
BASE = "singer-bridge-test/python:3.11"  # the Dockerfile's BASE_IMAGE for these builds
# the host's CA bundle, when its traffic goes through a proxy with a CA of its own
CA_BUNDLE = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
# a sizes report per image built: bench/out/images.json (BENCHMARKS.md "Image sizes")
SIZES = REPO / "bench" / "out" / "images.json"


def missing() -> str | None:
    for tool in ("dockerd", "docker", "debootstrap"):
        if not shutil.which(tool):
            return f"no {tool} (apt-get install docker.io debootstrap)"
    if os.geteuid() != 0:
        return "dockerd and debootstrap need root"
    return None


def skip(reason: str) -> None:
    if os.environ.get("SINGER_BRIDGE_REQUIRE_DOCKER"):  # .ci/run: a skip would hide a regression
        pytest.fail(reason)
    pytest.skip(reason)


def data_root() -> Path:
    """The daemon's images, kept between runs: one folder per xdist worker, since two daemons
    cannot share one, and the ``xdist_group`` that should keep every Docker test on one worker
    does nothing under pytest 9.2 (xdist 3.8 renames ``item._nodeid``, which pytest no longer
    reads): a second worker gets a daemon of its own instead of one that fails to start."""
    return CACHE / f"data-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"


@contextmanager
def docker_daemon() -> Iterator[dict[str, str]]:
    """A Docker daemon of our own with the base image BASE: the environment that reaches it."""
    if reason := missing():
        skip(reason)
    CACHE.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="sbd-", dir="/tmp"))  # a short socket path
    env = {**os.environ, "DOCKER_HOST": f"unix://{run_dir}/docker.sock", "DOCKER_BUILDKIT": "0"}
    log = (run_dir / "dockerd.log").open("wb")
    daemon = subprocess.Popen(
        [
            "dockerd",
            "--iptables=false",
            "--bridge=none",
            "--data-root",
            str(data_root()),
            "--exec-root",
            str(run_dir / "exec"),
            "--pidfile",
            str(run_dir / "dockerd.pid"),
            "-H",
            env["DOCKER_HOST"],
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(60):
            if subprocess.run(["docker", "version"], env=env, capture_output=True).returncode == 0:
                break
            if daemon.poll() is not None:
                skip(f"dockerd did not start: {(run_dir / 'dockerd.log').read_text()[-800:]}")
            time.sleep(0.5)
        else:
            skip("dockerd did not answer in 30 s")
        ensure_base_image(env)
        yield env
    finally:
        daemon.terminate()
        try:
            daemon.wait(30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
        # dockerd leaves its network namespace mounted in the exec root
        for mount in run_dir.glob("exec/netns/*"):
            subprocess.run(["umount", str(mount)], capture_output=True, check=False)
        shutil.rmtree(run_dir, ignore_errors=True)


def ensure_base_image(env: dict[str, str]) -> None:
    """A bookworm with python3.11, python3-venv and python3-pip, tagged BASE."""
    if (
        subprocess.run(
            ["docker", "image", "inspect", BASE], env=env, capture_output=True
        ).returncode
        == 0
    ):
        return
    tarball = CACHE / "bookworm-python3.11.tar"
    if not tarball.exists():
        rootfs = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE))
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,python3-pip,ca-certificates",
                "bookworm",
                str(rootfs),
                "http://deb.debian.org/debian",
            ],
            check=True,
            capture_output=True,
        )
        # what python:3.11-slim offers: `python`, `pip`, and a root pip allowed to install
        for name, target in (("python", "python3"), ("pip", "pip3")):
            if not (rootfs / "usr/bin" / name).exists():
                (rootfs / "usr/bin" / name).symlink_to(target)
        (rootfs / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        subprocess.run(["tar", "-C", str(rootfs), "-cf", f"{tarball}.part", "."], check=True)
        Path(f"{tarball}.part").rename(tarball)
        shutil.rmtree(rootfs)
    subprocess.run(
        ["docker", "import", "-c", "ENV LANG=C.UTF-8", str(tarball), BASE], env=env, check=True
    )
    if CA_BUNDLE and Path(CA_BUNDLE).is_file():  # trust what the host trusts, for pip
        with tempfile.TemporaryDirectory() as context:
            shutil.copyfile(CA_BUNDLE, Path(context) / "ca-certificates.crt")
            (Path(context) / "Dockerfile").write_text(
                f"FROM {BASE}\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
                "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt\n"
            )
            subprocess.run(["docker", "build", "-q", "-t", BASE, context], env=env, check=True)


def build(env: dict[str, str], folder: Path, tag: str) -> float:
    """``docker build`` of a folder ``package`` wrote, on BASE (pip reaches the index through
    the host's network); the seconds it took."""
    started = time.monotonic()
    argv = ["docker", "build", "-q", "--network", "host", f"--build-arg=BASE_IMAGE={BASE}"]
    proc = subprocess.run(
        [*argv, "-t", tag, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"docker build {folder} failed:\n{proc.stderr[-3000:]}"
    return time.monotonic() - started


def inspect(env: dict[str, str], *images: str) -> list[dict]:
    out = subprocess.run(
        ["docker", "image", "inspect", *images], env=env, capture_output=True, text=True, check=True
    ).stdout
    return list(json.loads(out))


# what a layer of the packaged image holds, by the instruction that made it
PARTS = {
    "tap venv (/opt/tap, tap-lock.txt)": "/opt/tap/bin/pip install",
    "bridge + connector (site-packages)": "--find-links wheels/",
    "copied build context (wheels/, sources)": "COPY ",
}


def sizes(env: dict[str, str], image: str) -> dict[str, int]:
    """An image's size in bytes, whole and by part: the base image, and each of PARTS as
    ``docker history`` gives its layers (``other`` is the rest: the user, metadata)."""
    image_doc, base_doc = inspect(env, image, BASE)
    out: dict[str, int] = {"image": image_doc["Size"], "base image": base_doc["Size"]}
    layers = _history(env, image)
    for size, created_by in layers[: len(layers) - len(_history(env, BASE))]:
        part = next((k for k, mark in PARTS.items() if mark in created_by), "other")
        out[part] = out.get(part, 0) + size
    return out


def _history(env: dict[str, str], image: str) -> list[tuple[int, str]]:
    """The image's layers, newest first: (bytes, the instruction that made it)."""
    fields = "{{.Size}}\t{{.CreatedBy}}"
    argv = ["docker", "history", "--no-trunc", "--human=false", "--format", fields, image]
    lines = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    return [
        (int(size), made_by) for size, _, made_by in (x.partition("\t") for x in lines.splitlines())
    ]
