"""The source a command runs, from its options and the environment: a tap named by ``--tap``
(or ``$SINGER_BRIDGE_TAP``), or installed from ``--tap-pip`` into its own venv, with the bridge
config of ``--bridge-config`` (or ``$SINGER_BRIDGE_CONFIG``)."""

from __future__ import annotations

import argparse
import os

from singer_bridge._read.singer_source import SingerSource
from singer_bridge._tap.bridge_config import BridgeConfig, load_bridge_config
from singer_bridge._tap.venvs import tap_executable

TAP_ENV = "SINGER_BRIDGE_TAP"
CONFIG_ENV = "SINGER_BRIDGE_CONFIG"


def bridge_config_from_args(args: argparse.Namespace) -> BridgeConfig:
    config_file = args.bridge_config or os.environ.get(CONFIG_ENV)
    return load_bridge_config(config_file) if config_file else BridgeConfig()


def source_from_args(args: argparse.Namespace) -> SingerSource:
    bridge_config = bridge_config_from_args(args)
    tap = args.tap or os.environ.get(TAP_ENV) or None
    if tap is None and args.tap_pip:
        tap = [str(tap_executable(args.tap_pip, args.tap_executable, args.ignore_requires_python))]
    return SingerSource(tap=tap, bridge_config=bridge_config)
