"""The image `singer-bridge package` writes, built and run by a real Docker daemon the way the
Airbyte platform runs a connector: offline (``--network none``), as uid 1000, through
``AIRBYTE_ENTRYPOINT`` from ``/config`` with relative paths. Every stdout line is checked
against the protocol models, and the secret never shows.

The daemon is Debian's ``docker.io`` (``dockerd``), started here on a socket of our own and
stopped after; the base image is a minimal Debian bookworm with python3.11 made by
``debootstrap`` (cached under ``.cache/docker``), since the machine may reach only PyPI and
Debian. Without ``dockerd`` or ``debootstrap`` (or without root) the test skips and says why;
``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.airbyte_check import by_type, records, validate_output
from tests.scripted import configured_catalog, singer_entry

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker")]

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / ".cache" / "docker"
BASE = "singer-bridge-test/python:3.11"  # the Dockerfile's BASE_IMAGE for these builds
IMAGE = "airbyte/source-scripted:0.1.0"
SECRET = "s3cr3t-value-9731"
# the host's CA bundle, when its traffic goes through a proxy with a CA of its own
CA_BUNDLE = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")


def _missing() -> str | None:
    for tool in ("dockerd", "docker", "debootstrap"):
        if not shutil.which(tool):
            return f"no {tool} (apt-get install docker.io debootstrap)"
    if os.geteuid() != 0:
        return "dockerd and debootstrap need root"
    return None


def _skip(reason: str) -> None:
    if os.environ.get("SINGER_BRIDGE_REQUIRE_DOCKER"):  # .ci/run: a skip would hide a regression
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def docker_env() -> Iterator[dict[str, str]]:
    """A Docker daemon of our own for this module: the environment that reaches it."""
    if reason := _missing():
        _skip(reason)
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
            str(CACHE / "data"),  # images survive between runs
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
                pytest.skip(
                    f"dockerd did not start: {(run_dir / 'dockerd.log').read_text()[-800:]}"
                )
            time.sleep(0.5)
        else:
            _skip("dockerd did not answer in 30 s")
        _ensure_base_image(env)
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


def _ensure_base_image(env: dict[str, str]) -> None:
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


def _installable_scripted_tap(folder: Path) -> Path:
    """taps/tap-scripted as a pip-installable project with a `tap-scripted` command."""
    folder.mkdir()
    shutil.copyfile(REPO / "taps" / "tap-scripted" / "tap_scripted.py", folder / "tap_scripted.py")
    (folder / "tap_scripted_cli.py").write_text(
        "import sys\n\nimport tap_scripted\n\n\ndef run() -> None:\n"
        "    sys.exit(tap_scripted.main(sys.argv[1:]))\n"
    )
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tap-scripted"\nversion = "0.1.0"\nlicense = {text = "Apache-2.0"}\n'
        '[project.scripts]\ntap-scripted = "tap_scripted_cli:run"\n'
        '[tool.setuptools]\npy-modules = ["tap_scripted", "tap_scripted_cli"]\n'
    )
    return folder


def _script(good: bool) -> dict[str, object]:
    entry = singer_entry(
        "items",
        {"id": {"type": "integer"}, "updated": {"type": "string"}},
        keys=["id"],
        replication_key="updated",
    )
    rows = [{"id": i, "updated": f"2024-01-0{i}"} for i in (1, 2)]
    return {
        "api_key": SECRET,
        "echo_config": True,  # the tap prints its config to stderr: the bridge must mask it
        "catalog": {"streams": [entry]},
        "discover_exit_code": 0 if good else 1,
        "messages": [
            {
                "type": "SCHEMA",
                "stream": "items",
                "schema": entry["schema"],
                "key_properties": ["id"],
            },
            *({"type": "RECORD", "stream": "items", "record": row} for row in rows),
            {"type": "STATE", "value": {"bookmarks": {"items": {"updated": "2024-01-02"}}}},
        ],
    }


def test_the_packaged_image_runs_the_way_airbyte_runs_it(
    tmp_path: Path, docker_env: dict[str, str]
) -> None:
    env = {**docker_env, "SINGER_BRIDGE_VENVS": str(tmp_path / "venvs")}
    tap_project = _installable_scripted_tap(tmp_path / "tap-scripted")
    bridge_cli = [sys.executable, "-m", "singer_bridge"]
    tap = subprocess.run(
        [*bridge_cli, "install", str(tap_project)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    spec = {
        "connectionSpecification": {
            "type": "object",
            "properties": {"api_key": {"type": "string", "airbyte_secret": True}},
        }
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "bridge.json").write_text(json.dumps({"spec_file": "spec.json"}))
    subprocess.run(
        [
            *bridge_cli,
            "package",
            "--tap",
            tap,
            "--bridge-config",
            str(tmp_path / "bridge.json"),
            "--name",
            "source-scripted",
            "--out",
            str(tmp_path / "build"),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    folder = tmp_path / "build" / "source-scripted"
    started = time.monotonic()
    subprocess.run(
        [
            "docker",
            "build",
            "-q",
            "--network",
            "host",
            "--build-arg",
            f"BASE_IMAGE={BASE}",
            "-t",
            IMAGE,
            str(folder),
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    build_seconds = time.monotonic() - started

    config_dir = tmp_path / "config"
    config_dir.mkdir(mode=0o755)
    config_dir.chmod(0o755)
    for name, doc in {"config.json": _script(True), "bad.json": _script(False)}.items():
        (config_dir / name).write_text(json.dumps(doc))

    def run(*args: str, entrypoint: str | None = None) -> tuple[list[dict], str]:
        for path in config_dir.iterdir():
            path.chmod(0o644)  # readable by the image's uid 1000
        argv = ["docker", "run", "--rm", "--network", "none", "-v", f"{config_dir}:/config"]
        if entrypoint:
            argv += ["-w", "/config", "--entrypoint", entrypoint]
        proc = subprocess.run([*argv, IMAGE, *args], env=env, capture_output=True, text=True)
        assert SECRET not in proc.stdout and SECRET not in proc.stderr
        return validate_output(proc.stdout), proc.stderr

    uid = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "id", IMAGE, "-u"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert uid == "1000"
    (spec_message,) = by_type(run("spec")[0], "SPEC")
    assert spec_message["spec"]["connectionSpecification"]["properties"]["api_key"][
        "airbyte_secret"
    ]
    (good,) = by_type(run("check", "--config", "/config/config.json")[0], "CONNECTION_STATUS")
    assert good["connectionStatus"]["status"] == "SUCCEEDED"
    (bad,) = by_type(run("check", "--config", "/config/bad.json")[0], "CONNECTION_STATUS")
    assert bad["connectionStatus"]["status"] == "FAILED"
    (catalog,) = by_type(run("discover", "--config", "/config/config.json")[0], "CATALOG")
    configured = configured_catalog(catalog["catalog"])
    (config_dir / "catalog.json").write_text(json.dumps(configured))
    messages, _ = run(
        "read", "--config", "/config/config.json", "--catalog", "/config/catalog.json"
    )
    assert [r["id"] for r in records(messages, "items")] == [1, 2]
    logs = " ".join(m["log"]["message"] for m in by_type(messages, "LOG"))
    assert "api_key" in logs  # the tap did print its config, masked
    states = [m["state"] for m in by_type(messages, "STATE")]
    (config_dir / "state.json").write_text(json.dumps([states[-1]]))
    # the platform's way: a shell in /config, $AIRBYTE_ENTRYPOINT, relative paths
    resumed, _ = run(
        "-c",
        'eval "$AIRBYTE_ENTRYPOINT read --config config.json --catalog catalog.json '
        '--state state.json"',
        entrypoint="sh",
    )
    assert [r["id"] for r in records(resumed, "items")] == [1, 2]
    assert by_type(resumed, "STATE")

    inspect = subprocess.run(
        ["docker", "image", "inspect", IMAGE, BASE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    image, base = json.loads(inspect.stdout)
    metadata = yaml.safe_load((folder / "metadata.yaml").read_text())["data"]
    assert image["Config"]["Labels"] == {
        "io.airbyte.name": metadata["dockerRepository"],
        "io.airbyte.version": metadata["dockerImageTag"],
    }
    assert image["Config"]["User"] == "airbyte"
    sys.stderr.write(
        f"image {IMAGE}: {image['Size'] / 1e6:.0f} MB (base {base['Size'] / 1e6:.0f} MB), "
        f"built in {build_seconds:.0f} s\n"
    )
