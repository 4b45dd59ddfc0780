"""The layout keeps its promises: imports run one way through the layers and never in a
circle, every module imports on its own, the protocol commands never load the tooling, and the
public names are the curated ones."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scripted import SCRIPTED_TAP, configured_catalog, discover, singer_entry, write_json

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "singer_bridge"
PUBLIC = {
    "singer_bridge": [
        "BridgeConfig",
        "BridgeError",
        "Checkpoint",
        "ConfigError",
        "ReadContext",
        "SingerSource",
        "Source",
        "Stream",
        "StreamOverride",
        "TapError",
        "TransientError",
        "__version__",
        "launch",
        "load_bridge_config",
    ],
    "singer_bridge.native": ["Checkpoint", "ReadContext", "Source", "Stream"],
    "singer_bridge.http": [
        "ApiKey",
        "BasicAuth",
        "BearerToken",
        "CursorToken",
        "HttpClient",
        "LinkHeader",
        "NextUrl",
        "NoPagination",
        "OAuth2",
        "OffsetLimit",
        "PageNumber",
        "RateLimiter",
        "RetryPolicy",
        "async_job_stream",
        "graphql_stream",
        "http_stream",
    ],
    "singer_bridge.testing": ["LocalServer", "MockServer", "running"],
}


# Each layer and the layers it may import: a lower layer never imports a higher one, not even
# lazily inside a function. The base is what every layer needs (errors, the clock, files, the
# one stdout writer); the facade (``singer_bridge/__init__.py``, ``__main__``) sits on top.
LAYERS: dict[str, set[str]] = {
    "base": set(),
    "protocol": {"base"},
    "translate": {"base", "protocol"},
    "tap": {"base", "protocol", "translate"},
    "native": {"base", "protocol", "translate"},
    "http": {"base", "protocol", "translate", "native"},
    "testing": {"base"},
    "airbyte_tap": {"base", "protocol", "translate", "tap"},
    "read": {"base", "protocol", "translate", "tap", "native"},
    "cli": {
        "base",
        "protocol",
        "translate",
        "tap",
        "native",
        "http",
        "testing",
        "read",
        "airbyte_tap",
    },
}
LAYER_OF = {  # singer_bridge.<first part> -> its layer
    "_version": "base",
    "errors": "base",
    "_clock": "base",
    "_files": "base",
    "_writer": "base",
    "_signing": "base",
    "_protocol": "protocol",
    "_translate": "translate",
    "_tap": "tap",
    "native": "native",
    "http": "http",
    "testing": "testing",
    "_read": "read",
    "_airbyte_tap": "airbyte_tap",
    "_cli": "cli",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(
    module_name(p) for p in PACKAGE.rglob("*.py") if p.name != "__main__.py"
)  # __main__ runs the command when imported


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )


def test_every_module_imports_on_its_own() -> None:
    """Each module in a clean slate (no singer_bridge module loaded yet): no hidden order."""
    code = f"""
import importlib, json, sys, traceback
failed = {{}}
for name in {MODULES!r}:
    for loaded in [m for m in sys.modules if m.split(".")[0] == "singer_bridge"]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception:
        failed[name] = traceback.format_exc(limit=3)
print(json.dumps(failed))
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == {}
    assert "singer_bridge._cli.tools.init" in MODULES and len(MODULES) > 40  # the walk found them


NATIVE = """
from singer_bridge.native import Source, Stream
schema = {"properties": {"n": {"type": "integer"}}}
SOURCE = Source("source-n", streams=[Stream("n", schema, lambda ctx: [{"n": 1}])])
"""


def protocol_runs(tmp_path: Path, kind: str) -> tuple[str, dict[str, list[str]]]:
    """(code defining SOURCE, the argv of spec, check, discover and read) for a kind of source."""
    if kind == "native":
        config = write_json(tmp_path / "config.json", {})
        stream = {
            "name": "n",
            "json_schema": {"properties": {"n": {"type": "integer"}}},
            "supported_sync_modes": ["full_refresh"],
        }
        configured = {
            "streams": [
                {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "append"}
            ]
        }
        catalog = write_json(tmp_path / "catalog.json", configured)
        common: list[str] = []
        setup = NATIVE
    else:
        tap = {
            "catalog": {"streams": [singer_entry("users", {"id": {"type": "integer"}})]},
            "messages": [{"type": "RECORD", "stream": "users", "record": {"id": 1}}],
        }
        config = write_json(tmp_path / "config.json", tap)
        catalog = write_json(tmp_path / "catalog.json", configured_catalog(discover(tmp_path, tap)))
        common = ["--tap", " ".join(SCRIPTED_TAP)]
        setup = "SOURCE = None  # the --tap option names it"
    return setup, {
        "spec": [*common, "spec"],
        "check": [*common, "check", "--config", str(config)],
        "discover": [*common, "discover", "--config", str(config)],
        "read": [*common, "read", "--config", str(config), "--catalog", str(catalog)],
    }


@pytest.mark.parametrize("kind", ["tap", "native"])
def test_protocol_commands_import_no_tooling_module(tmp_path: Path, kind: str) -> None:
    setup, runs = protocol_runs(tmp_path, kind)
    runs["init"] = ["init", "x", "--out", str(tmp_path)]  # the check itself sees a tool load
    code = f"""
import io, json, sys
from singer_bridge import launch
{setup}
loaded = {{}}
for command, argv in {runs!r}.items():
    out = io.BytesIO()
    code = launch(None if command == "init" else SOURCE, argv, out)
    assert code == 0, (command, out.getvalue()[-2000:])
    if command == "read":
        assert b'"type":"RECORD"' in out.getvalue()
    loaded[command] = sorted(m for m in sys.modules if m.startswith("singer_bridge._cli.tools."))
print(json.dumps(loaded))
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.splitlines()[-1])
    for command in ("spec", "check", "discover", "read"):
        assert loaded[command] == [], command
    assert "singer_bridge._cli.tools.init" in loaded["init"]


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_public_names_are_exactly_the_promised_ones(module: str) -> None:
    code = f"""
import importlib, json
module = importlib.import_module({module!r})
names = list(module.__all__)
missing = [n for n in names if not hasattr(module, n)]
exec(f"from {module} import *", {{}})  # every name in __all__ imports
print(json.dumps([names, missing]))
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    names, missing = json.loads(proc.stdout)
    assert missing == []
    assert names == PUBLIC[module]


def test_a_tap_read_loads_no_module_it_does_not_use(tmp_path: Path) -> None:
    """Start-up is CPU the bridge adds to every read: a plain read (a JSON bridge config, one
    tap process, schemas whose only refs sit in unused ``definitions``, as pipelinewise taps
    write them) imports no $ref resolver, no TOML parser and no parallel-read machinery."""
    entry = singer_entry("users", {"id": {"type": "integer"}})
    entry["schema"]["definitions"] = {
        "sdc_recursive_integer_array": {
            "type": ["null", "integer", "array"],
            "items": {"$ref": "#/definitions/sdc_recursive_integer_array"},
        }
    }
    tap = {
        "catalog": {"streams": [entry]},
        "messages": [{"type": "RECORD", "stream": "users", "record": {"id": 1}}],
    }
    config = write_json(tmp_path / "config.json", tap)
    catalog = write_json(tmp_path / "catalog.json", configured_catalog(discover(tmp_path, tap)))
    bridge = write_json(tmp_path / "bridge.json", {"tap": SCRIPTED_TAP})
    argv = ["--bridge-config", str(bridge), "read", "--config", str(config)]
    argv += ["--catalog", str(catalog)]
    unwanted = ["referencing", "tomllib", "singer_bridge._read.parallel"]
    code = f"""
import io, json, sys
from singer_bridge import launch
out = io.BytesIO()
assert launch(None, {argv!r}, out) == 0, out.getvalue()[-2000:]
assert b'"type":"RECORD"' in out.getvalue()
print(json.dumps([m for m in {unwanted!r} if m in sys.modules]))
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.splitlines()[-1]) == []


def project_imports(module: str) -> set[str]:
    """Every singer_bridge module ``module`` imports, at the top or inside a function."""
    relative = Path(*module.split("."))
    path = REPO / relative.with_suffix(".py")
    if not path.exists():
        path = REPO / relative / "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        found |= {n for n in names if n in MODULES and n != module}
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return "facade" if len(parts) == 1 or parts[1] == "__main__" else LAYER_OF[parts[1]]


def test_every_module_belongs_to_a_layer() -> None:
    assert {m for m in MODULES if m.count(".") >= 1 and m.split(".")[1] not in LAYER_OF} == set()


# Programs run by path in a source's own interpreter (maybe without singer-bridge), never
# imported: like the facade, they stand on top and may start the whole package.
SCRIPTS = {"singer_bridge._airbyte_tap._class_main"}


def test_imports_run_one_way_through_the_layers() -> None:
    wrong = sorted(
        f"{module} ({layer(module)}) imports {target} ({layer(target)})"
        for module in MODULES
        if layer(module) != "facade" and module not in SCRIPTS
        for target in project_imports(module)
        if layer(target) != layer(module) and layer(target) not in LAYERS[layer(module)]
    )
    assert wrong == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    graph = {module: project_imports(module) for module in MODULES}
    done: set[str] = set()

    def cycle_from(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            if target.startswith(f"{module}.") or module.startswith(f"{target}."):
                continue  # a package and its own modules
            found = cycle_from(target, [*path, module])
            if found:
                return found
        done.add(module)
        return None

    cycles = [c for m in MODULES if (c := cycle_from(m, []))]
    assert cycles == []


def test_importing_the_package_loads_nothing_else() -> None:
    code = """
import json, sys
import singer_bridge, singer_bridge.errors
print(json.dumps(sorted(m for m in sys.modules if m.startswith("singer_bridge"))))
"""
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout) == [
        "singer_bridge",
        "singer_bridge._version",
        "singer_bridge.errors",
    ]
