"""The images `singer-bridge package` writes, built and run by a real Docker daemon the way the
Airbyte platform runs a connector, for each kind of source: a wrapped Singer tap, a native
source (``package --native``), and a project ``singer-bridge init`` wrote, packaged with one
command. Each runs offline (``--network none``), as uid 1000, through ``AIRBYTE_ENTRYPOINT``
from ``/config`` with relative paths: spec, check with a good and a bad config, discover, read,
and a read resumed from the first one's state. Every stdout line is checked against the
protocol models, the config's secret never shows, and the image's labels are its
``metadata.yaml``, itself valid Airbyte connector metadata.

The daemon and the base image (``tests/support/docker.py``, the session fixture ``docker_env``)
are shared by the three kinds and by the deploy page's test in ``tests/test_docs.py``. Every
image's size, whole and by part, goes to stderr and to ``bench/out/images.json``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.airbyte_check import by_type, final_states, records, validate_metadata, validate_output
from tests.scripted import configured_catalog, singer_entry
from tests.support.docker import BASE, SIZES, build, inspect, sizes

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("docker")]

REPO = Path(__file__).resolve().parent.parent
SECRET = "s3cr3t-value-9731"
BRIDGE = [sys.executable, "-m", "singer_bridge"]


@dataclass
class Kind:
    """A packaged source and what its image must do with it."""

    folder: Path  # what `package` wrote
    config: dict[str, Any]  # holds SECRET
    bad_config: dict[str, Any]  # its check fails
    stream: str
    first: list[int]  # the ids the first read yields
    resumed: list[int]  # the ids the read resumed from its state yields, after `between`
    between: Callable[[Path], None] = lambda config_dir: None  # new data after the first read
    files: dict[str, Callable[[Path], None]] = field(default_factory=dict)  # more of /config

    @property
    def name(self) -> str:
        return self.folder.name


def bridge(*args: str, env: dict[str, str]) -> str:
    proc = subprocess.run([*BRIDGE, *args], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip()


# -- a wrapped tap: taps/tap-scripted, installed from its folder ---------------------------
def _installable_scripted_tap(folder: Path) -> Path:
    """taps/tap-scripted as a pip-installable project with a `tap-scripted` command."""
    folder.mkdir()
    (folder / "tap_scripted.py").write_text(
        (REPO / "taps/tap-scripted/tap_scripted.py").read_text()
    )
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


def _script(good: bool) -> dict[str, Any]:
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


def wrapped_tap(tmp: Path, env: dict[str, str]) -> Kind:
    tap = bridge("install", str(_installable_scripted_tap(tmp / "tap-scripted")), env=env)
    spec = {"type": "object", "properties": {"api_key": {"type": "string", "airbyte_secret": True}}}
    (tmp / "spec.json").write_text(json.dumps({"connectionSpecification": spec}))
    (tmp / "bridge.json").write_text(json.dumps({"spec_file": "spec.json"}))
    bridge(
        *("package", "--tap", tap, "--bridge-config", str(tmp / "bridge.json")),
        *("--name", "source-scripted", "--out", str(tmp / "build")),
        env=env,
    )
    # the tap plays its script again: the resumed read yields what the tap says, all of it
    return Kind(
        tmp / "build" / "source-scripted", _script(True), _script(False), "items", [1, 2], [1, 2]
    )


# -- a native source: taps/source-example-python, over a SQLite file in /config ------------
def _customers(*rows: tuple[int, str, str]) -> Callable[[Path], None]:
    def write(config_dir: Path) -> None:
        with sqlite3.connect(config_dir / "shop.db") as db:
            db.executescript(
                "CREATE TABLE IF NOT EXISTS customers (id INTEGER PRIMARY KEY, name TEXT, "
                "updated_at TEXT); CREATE TABLE IF NOT EXISTS orders (id INTEGER, region TEXT, "
                "amount REAL, updated_at TEXT); CREATE TABLE IF NOT EXISTS order_lines "
                "(order_id INTEGER, line INTEGER, sku TEXT);"
            )
            db.executemany("INSERT INTO customers VALUES (?, ?, ?)", rows)

    return write


def native_source(tmp: Path, env: dict[str, str]) -> Kind:
    bridge(
        *("package", "--native", str(REPO / "taps" / "source-example-python")),
        *("--name", "source-example-python", "--out", str(tmp / "build")),
        env=env,
    )
    # the source reads customers with updated_at >= its bookmark: the last one again, and
    # the one added after the first read
    return Kind(
        tmp / "build" / "source-example-python",
        {"database": "/config/shop.db", "password": SECRET},
        {"database": "/config/missing.db", "password": SECRET},
        "customers",
        [1, 2],
        [2, 3],
        between=_customers((3, "Cy", "2024-01-03")),
        files={"shop.db": _customers((1, "Ada", "2024-01-01"), (2, "Bob", "2024-01-02"))},
    )


# -- a project `singer-bridge init` wrote, packaged with one command -----------------------
def init_project(tmp: Path, env: dict[str, str]) -> Kind:
    bridge("init", "shop", "--template", "python", "--out", str(tmp), env=env)
    project = tmp / "source-shop"
    # what the generated TODO asks for: a setting of one's own, here a secret one
    spec_file = project / "source_shop" / "spec.json"
    spec = json.loads(spec_file.read_text())
    spec["properties"]["api_key"] = {"type": "string", "airbyte_secret": True}
    spec_file.write_text(json.dumps(spec))
    bridge(
        "package",
        "--native",
        str(project),
        "--name",
        "source-shop",
        "--out",
        str(tmp / "build"),
        env=env,
    )

    def items(*ids: int) -> list[dict[str, Any]]:
        return [{"id": i, "name": f"item {i}", "updated_at": f"2024-01-0{i}"} for i in ids]

    config = {"items": items(1, 2), "api_key": SECRET}

    def new_item(config_dir: Path) -> None:
        (config_dir / "config.json").write_text(json.dumps({**config, "items": items(1, 2, 3)}))

    # the generated source skips what is older than the bookmark: item 2 again, and item 3
    return Kind(
        tmp / "build" / "source-shop",
        config,
        {"items": "not a list", "api_key": SECRET},
        "items",
        [1, 2],
        [2, 3],
        between=new_item,
    )


KINDS = {"wrapped tap": wrapped_tap, "native source": native_source, "init project": init_project}


@pytest.mark.parametrize("kind_name", list(KINDS))
def test_the_packaged_image_runs_the_way_airbyte_runs_it(
    kind_name: str, tmp_path: Path, docker_env: dict[str, str]
) -> None:
    env = {**docker_env, "SINGER_BRIDGE_VENVS": str(tmp_path / "venvs")}
    kind = KINDS[kind_name](tmp_path, env)
    metadata = validate_metadata((kind.folder / "metadata.yaml").read_text())["data"]
    image = f"{metadata['dockerRepository']}:{metadata['dockerImageTag']}"
    build_seconds = build(env, kind.folder, image)

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    config_dir.chmod(0o755)  # readable by the image's uid 1000
    (config_dir / "config.json").write_text(json.dumps(kind.config))
    (config_dir / "bad.json").write_text(json.dumps(kind.bad_config))
    for write in kind.files.values():
        write(config_dir)

    def docker_run(*argv: str) -> tuple[list[dict[str, Any]], str]:
        for path in config_dir.iterdir():
            path.chmod(0o644)
        proc = subprocess.run(
            ["docker", "run", "--rm", "--network", "none", "-v", f"{config_dir}:/config", *argv],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert SECRET not in proc.stdout and SECRET not in proc.stderr
        return validate_output(proc.stdout), proc.stderr

    def platform(command: str) -> list[dict[str, Any]]:
        """The platform's way: a shell in /config, $AIRBYTE_ENTRYPOINT, relative paths."""
        entrypoint = ["-w", "/config", "--entrypoint", "sh", image, "-c"]
        return docker_run(*entrypoint, f'eval "$AIRBYTE_ENTRYPOINT {command}"')[0]

    uid = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", "--entrypoint", "id", image, "-u"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert uid.stdout.strip() == "1000"
    # the image's ENTRYPOINT, as a user tries it, and AIRBYTE_ENTRYPOINT, as Airbyte runs it
    (spec,) = by_type(docker_run(image, "spec")[0], "SPEC")
    assert by_type(platform("spec"), "SPEC") == [spec]
    properties = spec["spec"]["connectionSpecification"]["properties"]
    assert any(p.get("airbyte_secret") or p.get("secret") for p in properties.values())
    (good,) = by_type(platform("check --config config.json"), "CONNECTION_STATUS")
    assert good["connectionStatus"]["status"] == "SUCCEEDED"
    (bad,) = by_type(platform("check --config bad.json"), "CONNECTION_STATUS")
    assert bad["connectionStatus"]["status"] == "FAILED"
    (catalog,) = by_type(platform("discover --config config.json"), "CATALOG")
    configured = configured_catalog(catalog["catalog"], only=[kind.stream])
    (config_dir / "catalog.json").write_text(json.dumps(configured))
    messages = platform("read --config config.json --catalog catalog.json")
    assert [r["id"] for r in records(messages, kind.stream)] == kind.first
    last = by_type(messages, "STATE")[-1]["state"]  # per stream, or the tap's one state
    state = final_states(messages) if last.get("type") == "STREAM" else [last]
    (config_dir / "state.json").write_text(json.dumps(state))
    kind.between(config_dir)
    resumed = platform("read --config config.json --catalog catalog.json --state state.json")
    assert [r["id"] for r in records(resumed, kind.stream)] == kind.resumed
    assert by_type(resumed, "STATE")

    image_doc, _ = inspect(env, image, BASE)
    assert image_doc["Config"]["Labels"] == {
        "io.airbyte.name": metadata["dockerRepository"],
        "io.airbyte.version": metadata["dockerImageTag"],
    }
    assert image_doc["Config"]["User"] == "airbyte"
    _report(kind_name, image, sizes(env, image), build_seconds)
    if kind_name == "wrapped tap":
        _the_image_runs_as_a_singer_tap(image, kind, tmp_path, env)


def _the_image_runs_as_a_singer_tap(image: str, kind: Kind, tmp: Path, env: dict[str, str]) -> None:
    """The other direction: `singer-bridge-tap` runs the image as its Airbyte source."""
    tap = str(Path(sys.executable).parent / "singer-bridge-tap")
    source = {"image": image, "network": "none"}
    (tmp / "tap.json").write_text(json.dumps({"airbyte_source": source, **kind.config}))

    def singer(*args: str) -> str:
        proc = subprocess.run(
            [tap, "--config", str(tmp / "tap.json"), *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert SECRET not in proc.stdout and SECRET not in proc.stderr
        return proc.stdout

    (tmp / "singer-catalog.json").write_text(singer("--discover"))
    out = [
        json.loads(line)
        for line in singer("--catalog", str(tmp / "singer-catalog.json")).splitlines()
    ]
    ids = [m["record"]["id"] for m in out if m["type"] == "RECORD" and m["stream"] == kind.stream]
    assert ids == kind.first
    assert out[0]["type"] == "SCHEMA"


def _report(kind: str, image: str, parts: dict[str, int], build_seconds: float) -> None:
    """The image's size by part to stderr and to bench/out/images.json (BENCHMARKS.md)."""
    line = ", ".join(f"{part} {size / 1e6:.1f} MB" for part, size in parts.items())
    sys.stderr.write(f"{kind} {image}: {line}; built in {build_seconds:.0f} s\n")
    SIZES.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(SIZES.read_text()) if SIZES.exists() else {}
    report[kind] = {"image": image, "bytes": parts, "build_seconds": round(build_seconds)}
    SIZES.write_text(json.dumps(report, indent=2) + "\n")
