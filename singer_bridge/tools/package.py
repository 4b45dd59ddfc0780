"""``package``: a connector folder the Airbyte platform can build and run.

    singer-bridge package --tap-pip 'tap-x==1.2.3' --name source-x --out build/

writes ``build/source-x/`` with a Dockerfile in Airbyte's conventions (``AIRBYTE_ENTRYPOINT``,
``io.airbyte.name``/``io.airbyte.version`` labels), ``metadata.yaml``, an installable Python
package whose ``source-x`` command is the bridge around the tap, and a README saying how to
build the image and add it to Airbyte as a custom connector.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from singer_bridge._version import __version__

_NAME = re.compile(r"^source-[a-z0-9][a-z0-9-]*$")


def files(name: str, tap_spec: str, executable: str, version: str) -> dict[str, str]:
    module = name.replace("-", "_")
    image = f"airbyte/{name}"
    return {
        "Dockerfile": f"""FROM python:3.11-slim
WORKDIR /airbyte/integration_code
# The tap in a venv of its own: its pins never meet the bridge's.
RUN python -m venv /opt/tap && /opt/tap/bin/pip install --no-cache-dir '{tap_spec}'
COPY . .
RUN pip install --no-cache-dir wheels/*.whl .
ENV SINGER_BRIDGE_TAP=/opt/tap/bin/{executable}
ENV AIRBYTE_ENTRYPOINT="{name}"
ENTRYPOINT ["{name}"]
LABEL io.airbyte.name={image}
LABEL io.airbyte.version={version}
""",
        "metadata.yaml": f"""data:
  connectorType: source
  connectorSubtype: api
  definitionId: {uuid.uuid5(uuid.NAMESPACE_URL, f"singer-bridge/{name}")}
  dockerImageTag: {version}
  dockerRepository: {image}
  name: {name}
  releaseStage: alpha
  supportLevel: community
  license: MIT
  tags:
    - language:python
    - cdk:singer-bridge
metadataSpecVersion: "1.0"
""",
        "pyproject.toml": f"""[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "{version}"
description = "{name}: the Singer tap {tap_spec} as an Airbyte source, through singer-bridge"
requires-python = ">=3.11"
dependencies = ["singer-bridge>={__version__}"]

[project.scripts]
{name} = "{module}:main"

[tool.setuptools]
packages = ["{module}"]
""",
        f"{module}/__init__.py": f'''"""{name}: the tap in $SINGER_BRIDGE_TAP, as a source."""

import os
import sys

from singer_bridge import SingerSource, launch

DEFAULT_TAP = "/opt/tap/bin/{executable}"


def main() -> None:
    tap = os.environ.get("SINGER_BRIDGE_TAP", DEFAULT_TAP)
    sys.exit(launch(SingerSource(tap=tap), sys.argv[1:]))
''',
        "README.md": f"""# {name}

The Singer tap `{tap_spec}` as an Airbyte source, through singer-bridge.

## Build the image

    docker build -t {image}:{version} .

## Try it

    docker run --rm {image}:{version} spec
    docker run --rm -v $PWD/secrets:/secrets {image}:{version} check --config /secrets/config.json

## Add it to Airbyte

Push the image to a registry your Airbyte instance can pull from, then in Airbyte open
Settings -> Sources -> New connector -> Add a new Docker connector, and give the image name
`{image}` and tag `{version}`. `metadata.yaml` carries the same identity for Airbyte's
connector tooling.

## Without Docker

    pip install wheels/*.whl .
    SINGER_BRIDGE_TAP=/path/to/{executable} {name} spec
""",
    }


def build_bridge_wheel(target: Path) -> None:
    """A wheel of the running singer-bridge, so the image needs nothing from outside."""
    project = Path(__file__).resolve().parents[2]
    target.mkdir(parents=True, exist_ok=True)
    if (project / "pyproject.toml").exists():
        source = str(project)
    else:  # installed from a wheel: fetch the same version
        source = f"singer-bridge=={__version__}"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(target), source],
        check=True,
        capture_output=True,
    )


class PackageCommand:
    name = "package"

    def add_parser(self, commands: Any) -> None:
        parser = commands.add_parser(
            self.name, help="write a connector folder (Dockerfile, metadata.yaml, package)"
        )
        parser.add_argument("--name", required=True, help="source-NAME, lower case")
        parser.add_argument("--out", type=Path, default=Path("."))
        parser.add_argument("--version", dest="connector_version", default="0.1.0")

    def run(self, args: argparse.Namespace) -> int:
        if not _NAME.match(args.name):
            sys.stderr.write("singer-bridge package: --name must look like source-x (lower case)\n")
            return 2
        if not args.tap_pip:
            sys.stderr.write(
                "singer-bridge package: name the tap with --tap-pip SPEC (and --tap-executable)\n"
            )
            return 2
        executable = args.tap_executable or _guess_executable(args.tap_pip)
        folder = args.out / args.name
        for relative, text in files(
            args.name, args.tap_pip, executable, args.connector_version
        ).items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        build_bridge_wheel(folder / "wheels")
        sys.stderr.write(
            f"wrote {folder}; build it: "
            f"docker build -t airbyte/{args.name}:{args.connector_version} {folder}\n"
        )
        return 0


def _guess_executable(spec: str) -> str:
    from singer_bridge.tools.install import _name_of

    name = _name_of(spec)
    return name.removeprefix("pipelinewise-").removeprefix("meltanolabs-")
